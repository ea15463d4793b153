"""Hand in: `python -m utils.submit [NOTEBOOK ...]` (default: every notebook of the course).

Run it from the repository's root, or from the "Hand in" cell at the end of a notebook (Jupyter or Colab;
save the notebook first). It writes, in submission/:

- `<name>_code.zip`: your work and nothing else, `utils/<topic>.py` and `assignments/<notebook>.ipynb` of
  each notebook handed in, laid out as the course's grader (`python -m tools.grade`) and its Gradescope
  autograder read it;
- `<name>_written.pdf`: your written answers, one page per written question, in the course's order, each
  page headed by its question, for Gradescope's written assignment;

where `<name>` is the notebook's name for one notebook and `losslab` for all of them. Before packaging it
tells you what looks unfinished: TODOs still raising NotImplementedError, a module that does not import,
written answers left empty or missing, and your latest autograder score (reports/<notebook>.json) and its
age. It never refuses: what you hand in is your call.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from utils import course
from utils.course import Assignment
from utils.results import MalformedReport, NotebookReport
from utils.written import (
    MAX_ANSWER_CHARS,
    UnreadableNotebook,
    WrittenCell,
    parse_notebook,
    written_cells,
)

OUT_FOLDER = "submission"
TODO_MESSAGE = "not implemented yet"  # in the message of each TODO's raise (tools/build/stubs.py writes it)
MAX_NOTEBOOK_IN_ZIP = 10_000_000  # a larger notebook travels without its outputs (plots, printouts)
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the same work makes the same zip


@dataclass
class Handed:
    """What utils.submit found for one notebook."""

    assignment: Assignment
    notebook_bytes: bytes | None = None  # None: no notebook file
    notebook: dict | None = None  # its JSON; None when missing or unreadable
    written: list[WrittenCell] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # what to tell the student
    warnings: int = 0

    def say(self, label: str, text: str, warning: bool = False) -> None:
        mark = "!" if warning else " "
        first, *rest = text.splitlines() or [""]
        self.lines.append(f" {mark} {label:<10}{first}")
        self.lines.extend(f"   {'':<10}{more}" for more in rest)
        self.warnings += warning


def todos_left(source: str) -> list[tuple[str, int]]:
    """(function, line) of each TODO of a module's source that still raises NotImplementedError: a
    `raise NotImplementedError("... not implemented yet ...")` inside a function, as the stubs have them
    (an abstract method's own NotImplementedError is not a TODO). Nothing when the source does not parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    found = []

    def visit(node: ast.AST, prefix: str, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                inside = function if isinstance(child, ast.ClassDef) else name
                visit(child, name + ".", inside)
                continue
            if function and isinstance(child, ast.Raise) and _is_todo(child.exc):
                found.append((function, child.lineno))
            visit(child, prefix, function)

    visit(tree, "", None)
    return found


def _is_todo(exc: ast.expr | None) -> bool:
    if not isinstance(exc, ast.Call) or not isinstance(exc.func, ast.Name):
        return False
    if exc.func.id != "NotImplementedError" or not exc.args:
        return False
    message = exc.args[0]
    return (
        isinstance(message, ast.Constant) and isinstance(message.value, str) and TODO_MESSAGE in message.value
    )


def age(seconds: float) -> str:
    """How long ago, in words."""
    if seconds < 90:
        return "just now"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min ago"
    if seconds < 48 * 3600:
        return f"{round(seconds / 3600)} h ago"
    return f"{round(seconds / 86400)} days ago"


def _check_code(handed: Handed, root: Path, import_errors: dict[str, str]) -> None:
    a = handed.assignment
    module = root / a.student_module
    if not module.is_file():
        handed.say("code", f"no {a.student_module}: your code for this notebook is not handed in", True)
        return
    source = module.read_text(encoding="utf-8", errors="replace")
    left = todos_left(source)
    if left:
        named = ", ".join(f"{function} (line {line})" for function, line in left)
        handed.say(
            "code", f"{a.student_module}: {len(left)} TODO(s) still raise NotImplementedError: {named}", True
        )
    if a.topic in import_errors:
        handed.say("code", f"{a.student_module} does not import: {import_errors[a.topic]}", True)
    if not left and a.topic not in import_errors:
        handed.say("code", f"{a.student_module}: imports, no TODO left")


def _check_written(handed: Handed, root: Path, now: float) -> None:
    a = handed.assignment
    path = root / a.notebook
    if not path.is_file():
        handed.say(
            "notebook", f"no {a.notebook}: your notebook and its written answers are not handed in", True
        )
        return
    handed.notebook_bytes = path.read_bytes()
    handed.say(
        "notebook", f"{a.notebook}, saved {age(now - path.stat().st_mtime)} (save it before handing in)"
    )
    try:
        handed.notebook = parse_notebook(handed.notebook_bytes)
    except UnreadableNotebook as error:
        handed.say("written", f"{a.notebook} cannot be read: {error}; its answers are not in the PDF", True)
        return
    handed.written = written_cells(handed.notebook, a)
    if not handed.written:
        return
    summary = f"{len(a.written)} questions, {a.written_points:g} pts, graded by staff"
    answered = [c for c in handed.written if c.answer]
    empty = [f"{c.heading} ({c.question.id})" for c in handed.written if c.answer == ""]
    handed.say("written", f"{summary}: {len(answered)} answered")
    if empty:
        handed.say("written", f"left empty: {', '.join(empty)}", True)
    for cell in handed.written:
        if cell.problem:
            handed.say("written", cell.problem, True)


def _check_report(handed: Handed, root: Path, now: float) -> None:
    a = handed.assignment
    path = root / "reports" / f"{Path(a.notebook).stem}.json"
    run = f"python -m utils.autograde {a.notebook}"
    try:
        report = NotebookReport.from_json(json.loads(path.read_text()))
    except FileNotFoundError:
        handed.say("autograde", f"no report yet: run `{run}` to see your score before handing in", True)
        return
    except (OSError, ValueError, MalformedReport):
        handed.say("autograde", f"reports/{path.name} does not read as a report: run `{run}` again", True)
        return
    when = path.stat().st_mtime
    handed.say("autograde", f"{report.earned:g}/{report.max:g} in reports/{path.name}, {age(now - when)}")
    module = root / a.student_module
    if module.is_file() and module.stat().st_mtime > when:
        handed.say(
            "autograde", f"{a.student_module} changed since: run `{run}` again for your current score", True
        )


def _notebook_for_zip(handed: Handed) -> tuple[bytes | None, str]:
    """The notebook's bytes as they go into the zip, and what to say about it."""
    data = handed.notebook_bytes
    if data is None or len(data) <= MAX_NOTEBOOK_IN_ZIP:
        return data, ""
    if handed.notebook is None:
        return (
            None,
            f"{handed.assignment.notebook} is {len(data) / 1e6:.0f} MB and not a readable notebook: left out",
        )
    notebook = json.loads(data)
    for cell in notebook["cells"]:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
    slim = json.dumps(notebook, indent=1, ensure_ascii=False).encode()
    return slim, f"{handed.assignment.notebook} is {len(data) / 1e6:.0f} MB: it goes without its outputs"


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
    archive.writestr(info, data)


def write_zip(handed: list[Handed], root: Path, path: Path) -> list[str]:
    """The zip of the student's modules and notebooks; the names it holds."""
    names, buffer = [], io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for h in handed:
            module = root / h.assignment.student_module
            if module.is_file():
                _add(archive, h.assignment.student_module, module.read_bytes())
                names.append(h.assignment.student_module)
            data, said = _notebook_for_zip(h)
            if said:
                h.say("zip", said, True)
            if data is not None:
                _add(archive, h.assignment.notebook, data)
                names.append(h.assignment.notebook)
    _replace(path, buffer.getvalue())
    return names


def _replace(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    temporary.replace(path)


def write_written_pdf(handed: list[Handed], path: Path) -> tuple[int, int]:
    """The written answers' PDF, a page per written question of the handed notebooks in the registry's order;
    (pages, characters the PDF's font cannot show)."""
    from utils.written_pdf import write_pdf  # fpdf2 and matplotlib load only when a PDF is written

    pages = []
    for h in handed:
        cells = h.written or _unread(h.assignment)
        note = ""
        if not h.written:
            note = f"({h.assignment.notebook} was not found or could not be read: no answer is shown)"
        pages += [(h.assignment, cell, note) for cell in cells]
    temporary = path.with_name(path.name + ".tmp")
    replaced = write_pdf(pages, temporary)
    temporary.replace(path)
    return len(pages), replaced


def _unread(assignment: Assignment) -> list[WrittenCell]:
    return [WrittenCell(q, n, None, None) for n, q in enumerate(assignment.written, start=1)]


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{max(1, round(n / 1e3))} kB"


def _name(assignments: list[Assignment]) -> str:
    if len(assignments) == 1:
        return Path(assignments[0].notebook).stem
    if [a.topic for a in assignments] == course.topics():
        return "losslab"
    return "losslab_" + "_".join(f"{a.number:02d}" for a in assignments)


def _assignments(parser: argparse.ArgumentParser, notebooks: list[str], root: Path) -> list[Assignment]:
    if not notebooks:
        return list(course.ASSIGNMENTS)
    chosen = []
    for given in notebooks:
        path = Path(given)
        candidates = [path] if path.is_absolute() else [Path.cwd() / path, root / path]
        found = next((course.by_notebook(p.resolve(), root) for p in candidates if p.is_file()), None)
        if found is None:
            found = next((a for a in course.ASSIGNMENTS if Path(a.notebook).stem == path.stem), None)
        if found is None:
            parser.error(
                f"{given} is not a notebook of the course: {[a.notebook for a in course.ASSIGNMENTS]}"
            )
        if found not in chosen:
            chosen.append(found)
    return sorted(chosen, key=course.ASSIGNMENTS.index)


def hand_in(assignments: list[Assignment], root: Path, out: Path) -> dict:
    """Checks and packages the assignments' work from the repository at root into out; prints what it found
    and wrote, and returns {"zip", "pdf", "files", "warnings", "pages"}."""
    from utils.autograde import import_failures  # the autograder's own import probe, in a fresh interpreter

    now = time.time()
    present = [a.topic for a in assignments if (root / a.student_module).is_file()]
    import_errors = import_failures(root, present)
    handed = []
    for a in assignments:
        h = Handed(a)
        _check_code(h, root, import_errors)
        _check_written(h, root, now)
        _check_report(h, root, now)
        handed.append(h)
    name = _name(assignments)
    zip_path, pdf_path = out / f"{name}_code.zip", out / f"{name}_written.pdf"
    files = write_zip(handed, root, zip_path)
    pages, replaced = write_written_pdf(handed, pdf_path)
    long = [c for h in handed for c in h.written if c.answer and len(c.answer) >= MAX_ANSWER_CHARS]
    for h in handed:
        print(f"== {h.assignment.notebook}")
        print("\n".join(h.lines))
    warnings = sum(h.warnings for h in handed)
    if replaced:
        print(f" ! {replaced} character(s) the PDF's font has no glyph for show as \N{REPLACEMENT CHARACTER}")
        warnings += 1
    if long:
        print(f" ! {len(long)} answer(s) cut to {MAX_ANSWER_CHARS:,} characters: the grader reads no more")
    print(f"\nWrote, in {out}:")
    print(
        f"  {zip_path.name:<34} {_size(zip_path.stat().st_size):>8}  {len(files)} files: upload it as your code"
    )
    print(
        f"  {pdf_path.name:<34} {_size(pdf_path.stat().st_size):>8}  {pages} pages: upload it as your written answers"
    )
    if warnings:
        print(f"{warnings} warning(s) above (marked !): hand in as it is, or fix them and run this again.")
    return {"zip": zip_path, "pdf": pdf_path, "files": files, "warnings": warnings, "pages": pages}


def main(argv: list[str] | None = None, root: Path = course.REPO_ROOT) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m utils.submit",
        description="Hand in: a zip of your code and notebooks, and a PDF of your written answers.",
    )
    parser.add_argument(
        "notebooks", nargs="*", help="notebooks to hand in (default: every notebook of the course)"
    )
    parser.add_argument(
        "--out", type=Path, help=f"where to write them (default: {OUT_FOLDER}/ in the repository)"
    )
    args = parser.parse_args(argv)
    assignments = _assignments(parser, args.notebooks, root)
    hand_in(assignments, root, (args.out or root / OUT_FOLDER).resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
