"""Scaffolds a new assignment from the course's conventions: `python -m tools.build.new_assignment NAME`.

Writes, for the topic NAME (a Python identifier), with one example graded question (a mean squared
error, checked against torch.nn.functional):

    solutions/NAME.py                 the reference, with solution markers
    utils/NAME.py                     the student stub, generated from it
    utils/checks/NAME.py              the public check, with its oracle
    tools/grade/hidden/NAME.py        hidden cases
    tools/teeth/NAME.py               a mutant and a correct variant
    assignments/NN_NAME.ipynb         setup, parameters, and the graded question
    tests/test_NAME.py                the reference against an independent oracle (numpy)

and registers the assignment at the end of utils/course.py. The autograder, the batch grader, the
release, the stub check and the test suite then find it with no other edit. Replace the example with
what the assignment teaches.
"""

from __future__ import annotations

import argparse
import json
import keyword
import re
import sys
from pathlib import Path
from string import Template

import nbformat

from tools.build.stubs import write_stub
from utils import course

TEMPLATES = Path(__file__).resolve().parent / "new_assignment_template"
SETUP_CELL = (TEMPLATES / "setup_cell.txt").read_text().rstrip("\n")
EXAMPLE = course.Question("mean_squared_error", 1, "check_mean_squared_error")
DEFAULT_DATASET = "digits"


def _fill(name: str, **values) -> str:
    return Template((TEMPLATES / name).read_text()).substitute(values)


def _notebook(values: dict) -> nbformat.NotebookNode:
    parameters = nbformat.v4.new_code_cell(
        "# Parameters (papermill's convention: this cell is tagged `parameters`).\n"
        f'DATASET = "{DEFAULT_DATASET}"  # the offline default; see utils/data.py for the others\n'
        "SEED = 0",
        metadata={"tags": ["parameters"]},
    )
    topic = values["topic"]
    cells = [
        nbformat.v4.new_markdown_cell(_fill("notebook.md.tmpl", **values).strip()),
        nbformat.v4.new_code_cell(SETUP_CELL),
        parameters,
        nbformat.v4.new_code_cell(
            f"import torch\n\nfrom utils.{topic} import hello_{topic}, {EXAMPLE.id}\n\nprint(hello_{topic}())"
        ),
        nbformat.v4.new_markdown_cell(_fill("question.md.tmpl", **values).strip()),
        nbformat.v4.new_code_cell(
            f"{EXAMPLE.header}\nfrom utils.checks.{topic} import {EXAMPLE.check}\n\n{EXAMPLE.check}({EXAMPLE.id})"
        ),
    ]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    return notebook


def _registration(number: int, topic: str, title: str, notebook: str) -> str:
    """The registry entry, laid out as ruff formats it (strings in double quotes, via JSON)."""
    quoted = [
        json.dumps(text) for text in (topic, title, notebook, DEFAULT_DATASET, EXAMPLE.id, EXAMPLE.check)
    ]
    topic, title, notebook, dataset, question, check = quoted
    return (
        "\n\nregister(\n    Assignment(\n"
        f"        {number},\n        {topic},\n        {title},\n        {notebook},\n        ({dataset},),\n"
        f"        _questions(({question}, {EXAMPLE.points:g}, {check})),\n"
        "    )\n)\n"
    )


def scaffold(topic: str, title: str, root: Path = course.REPO_ROOT) -> list[Path]:
    """Writes the new assignment's files under root and registers it; returns the files written."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", topic) or keyword.iskeyword(topic):
        raise ValueError(f"{topic!r} is not a module name: use lowercase letters, digits and underscores")
    number = max((a.number for a in course.ASSIGNMENTS), default=0) + 1
    notebook = f"assignments/{number:02d}_{topic}.ipynb"
    values = {"topic": topic, "title": title, "number": number, "notebook": notebook}
    files = {
        f"solutions/{topic}.py": _fill("solution.py.tmpl", **values),
        f"utils/checks/{topic}.py": _fill("checks.py.tmpl", **values),
        f"tools/grade/hidden/{topic}.py": _fill("hidden.py.tmpl", **values),
        f"tools/teeth/{topic}.py": _fill("teeth.py.tmpl", **values),
        f"tests/test_{topic}.py": _fill("test.py.tmpl", **values),
    }
    taken = [p for p in [*files, f"utils/{topic}.py", notebook] if (root / p).exists()]
    if topic in course.topics() or taken:
        raise FileExistsError(f"{topic} exists already: {', '.join(taken) or 'utils/course.py registers it'}")
    for path, text in files.items():
        (root / path).write_text(text)
    nbformat.write(_notebook(values), root / notebook)
    stub = write_stub(root / f"solutions/{topic}.py", root)
    registry = root / "utils" / "course.py"
    registry.write_text(registry.read_text() + _registration(number, topic, title, notebook))
    return [root / p for p in files] + [stub, root / notebook, registry]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="the topic: the student module's name, e.g. focal_loss")
    parser.add_argument("--title", help="the assignment's title (default: from the name)")
    args = parser.parse_args(argv)
    try:
        written = scaffold(args.name, args.title or args.name.replace("_", " ").capitalize())
    except (ValueError, FileExistsError) as error:
        parser.error(str(error))
    for path in written:
        print(f"wrote {path.relative_to(course.REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
