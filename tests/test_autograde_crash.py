"""The autograder when student code ends the kernel process: the question that did it is an error
that says so, the questions after it still grade (in a fresh kernel), and no cell timeout is waited
out. A tiny notebook in a minimal repository layout keeps it quick."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from utils.course import REPO_ROOT

STUDENT_MODULE = """
import os


def answer():
    return 42


def leave():
    os._exit(0)
"""

CELLS = [
    "import sys\nsys.path.insert(0, '..')\nfrom utils.crashy import answer",
    "# GRADED: before (1 pts)\nassert answer() == 42",
    "value = answer()",
    "# GRADED: crashes (2 pts)\nfrom utils.crashy import leave\n\nleave()",  # later cells use its import
    "# GRADED: after (1 pts)\nassert value == 42, 'state from before the crash is there again'",
    "# GRADED: exits_too (1 pts)\nleave()",
    "# GRADED: last (1 pts)\nassert answer() == 42",
]


def make_repository(root: Path) -> Path:
    """root laid out as the autograder expects; returns the notebook's path."""
    (root / "utils").mkdir(parents=True)
    for name in (
        "__init__.py",
        "autograde.py",
        "cell_runner.py",
        "graded_cells.py",
        "course.py",
        "results.py",
        "settings.py",
    ):
        shutil.copy(REPO_ROOT / "utils" / name, root / "utils" / name)
    (root / "utils" / "crashy.py").write_text(STUDENT_MODULE)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in CELLS])
    path = root / "assignments" / "crash.ipynb"
    path.parent.mkdir()
    nbformat.write(notebook, path)
    return path


def test_a_question_that_exits_the_kernel_is_an_error_and_later_questions_still_grade(tmp_path):
    notebook = make_repository(tmp_path / "repo")
    reports = tmp_path / "reports"
    # Within 100 s with a 120 s cell timeout: no timeout was waited out.
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "utils.autograde",
            str(notebook),
            "--report-dir",
            str(reports),
            "--timeout",
            "120",
        ],
        cwd=notebook.parents[1],
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    questions = {q["id"]: q for q in json.loads((reports / "crash.json").read_text())["questions"]}
    assert {q: questions[q]["status"] for q in questions} == {
        "before": "passed",
        "crashes": "error",
        "after": "passed",
        "exits_too": "error",
        "last": "passed",
    }
    for crashed in ("crashes", "exits_too"):
        assert "the kernel died while running this cell" in questions[crashed]["message"]
        assert "os._exit" in questions[crashed]["message"]
    assert sorted(p.name for p in notebook.parent.iterdir()) == ["crash.ipynb"]  # the rerun copies are gone
