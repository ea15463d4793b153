"""The autograder's budget (`--budget`, the batch grader's time for a whole submission): the cells that ran
keep their outcomes, a cell still running when it ends is stopped and charged a timeout that names the
budget, and the cells after it are not run and are charged a timeout that says so."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import nbformat

from tests.test_autograde_crash import make_repository

CELLS = [
    "import time",
    "# GRADED: quick (1 pts)\nassert 6 * 7 == 42",
    "time.sleep(60)  # longer than the budget",
    "# GRADED: after (2 pts)\nassert True",
]


def test_past_the_budget_a_cell_is_stopped_and_the_rest_are_charged_a_timeout(tmp_path):
    notebook = make_repository(tmp_path / "repo")
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS]), notebook)
    reports = tmp_path / "reports"
    command = [sys.executable, "-m", "utils.autograde", str(notebook), "--report-dir", str(reports)]
    start = time.monotonic()
    proc = subprocess.run(
        [*command, "--budget", "8"], cwd=notebook.parents[1], capture_output=True, text=True, timeout=120
    )
    seconds = time.monotonic() - start
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((reports / f"{notebook.stem}.json").read_text())
    by_id = {q["id"]: q for q in report["questions"]}
    assert by_id["quick"]["status"] == "passed" and by_id["quick"]["earned"] == 1
    assert by_id["after"]["status"] == "timeout" and by_id["after"]["earned"] == 0
    assert "not run: the submission's time budget of 8 s ran out" in by_id["after"]["message"]
    assert seconds < 50, f"the sleeping cell was waited out: {seconds:.0f} s"
