"""Smoke check of a fresh copy: the autograder runs every notebook and, until a TODO is filled,
reports every question of it as not implemented."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from utils.course import ASSIGNMENTS, REPO_ROOT

STUB_HEADER = "# Student version"


def untouched(assignment) -> bool:
    """Whether every TODO of the assignment's student module still raises."""
    text = (REPO_ROOT / assignment.student_module).read_text()
    return text.startswith(STUB_HEADER) and text.count("# TODO: ") == text.count(
        "not implemented yet; fill the TODO"
    )


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=lambda a: a.topic)
def test_autograder_runs_and_reports_every_question_not_implemented(assignment, tmp_path):
    notebook = REPO_ROOT / assignment.notebook
    proc = subprocess.run(
        [sys.executable, "-m", "utils.autograde", str(notebook), "--report-dir", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((tmp_path / f"{notebook.stem}.json").read_text())
    assert report["questions"] and report["max"] > 0
    if not untouched(assignment):
        pytest.skip("the student module has code in it: this smoke check is for a fresh copy")
    assert {q["status"] for q in report["questions"]} == {"not_implemented"}, proc.stdout
