"""Smoke check of a fresh copy: the autograder runs every notebook and, until a TODO is filled,
reports every question of it as not implemented."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "assignments").glob("*.ipynb"))
UTILS_IMPORT = re.compile(r"from utils\.(\w+) import")
STUB_HEADER = "# Student version"


def untouched(notebook: Path) -> bool:
    """Whether every TODO of the notebook's student modules (the stubs it imports) still raises."""
    paths = [ROOT / "utils" / f"{m}.py" for m in set(UTILS_IMPORT.findall(notebook.read_text()))]
    texts = [p.read_text() for p in paths if p.exists() and p.read_text().startswith(STUB_HEADER)]
    return bool(texts) and all(
        t.count("# TODO: ") == t.count("not implemented yet; fill the TODO") for t in texts
    )


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_autograder_runs_and_reports_every_question_not_implemented(notebook, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "utils.autograde", str(notebook), "--report-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((tmp_path / f"{notebook.stem}.json").read_text())
    assert report["questions"] and report["max"] > 0
    if not untouched(notebook):
        pytest.skip("the student module has code in it: this smoke check is for a fresh copy")
    assert {q["status"] for q in report["questions"]} == {"not_implemented"}, proc.stdout
