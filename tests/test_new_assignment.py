"""tools.build.new_assignment: a scaffolded assignment, in a temporary copy of the repository, is graded by the
autograder (the stub not implemented, the reference full marks) and the batch grader, released without
leaks, and passes the suite's convention tests, with no other file edited."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tools.build.new_assignment import SETUP_CELL
from tools.grade.workspace import copy_repository
from utils.course import ASSIGNMENTS, REPO_ROOT

pytestmark = pytest.mark.slow  # runs notebooks or a class: the full suite and CI run it

TOPIC = "scaffolded_demo"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}


def run(root: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, *args], cwd=root, capture_output=True, text=True, env=ENV, timeout=timeout
    )
    assert proc.returncode == 0, f"{args}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def _contents(root: Path) -> dict[Path, bytes]:
    return {
        p.relative_to(root): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory) -> tuple[Path, str]:
    root = copy_repository(tmp_path_factory.mktemp("course") / "repo")
    before = _contents(root)
    run(root, "-m", "tools.build.new_assignment", TOPIC, "--title", "A scaffolded demo")
    after = _contents(root)
    edited = {path for path in before if before[path] != after[path]}
    assert edited == {Path("utils/course.py")}, "the scaffold edits no file but the registry"
    notebook = f"assignments/{len(ASSIGNMENTS) + 1:02d}_{TOPIC}.ipynb"
    assert set(after) - set(before) == {
        Path(p)
        for p in (
            f"solutions/{TOPIC}.py",
            f"utils/{TOPIC}.py",
            f"utils/checks/{TOPIC}.py",
            f"tools/grade/hidden/{TOPIC}.py",
            f"tools/teeth/{TOPIC}.py",
            f"tests/test_{TOPIC}.py",
            notebook,
        )
    }
    return root, notebook


def test_the_autograder_grades_the_stub_and_the_reference(scaffolded, tmp_path):
    root, notebook = scaffolded
    name = Path(notebook).stem + ".json"
    run(root, "-m", "utils.autograde", notebook, "--report-dir", str(tmp_path / "stub"))
    stub = json.loads((tmp_path / "stub" / name).read_text())
    assert [q["status"] for q in stub["questions"]] == ["not_implemented"]
    run(root, "-m", "tools.grade.reference", notebook, "--report-dir", str(tmp_path / "reference"))
    reference = json.loads((tmp_path / "reference" / name).read_text())
    assert reference["earned"] == reference["max"] == 1


def test_the_batch_grader_grades_it(scaffolded, tmp_path):
    root, notebook = scaffolded
    student = tmp_path / "class" / "ada" / "utils"
    student.mkdir(parents=True)
    (student / f"{TOPIC}.py").write_text((root / "solutions" / f"{TOPIC}.py").read_text())
    run(
        root,
        "-m",
        "tools.grade",
        str(tmp_path / "class"),
        "--out",
        str(tmp_path / "grades"),
        "--notebooks",
        notebook,
    )
    result = json.loads((tmp_path / "grades" / "ada.json").read_text())
    assert result["earned"] == result["max"] == 1
    assert result["notebooks"][0]["questions"][0]["hidden"] == "2/2 passed"


def test_the_release_holds_it_without_leaks(scaffolded, tmp_path):
    root, notebook = scaffolded
    run(root, "-m", "tools.build.release", str(tmp_path / "release"))
    assert (tmp_path / "release" / notebook).is_file()
    assert (tmp_path / "release" / "utils" / "checks" / "expected" / f"{TOPIC}.pt").is_file()


def test_the_suite_s_convention_tests_pass_on_it(scaffolded):
    root, _ = scaffolded
    tests = [
        "tests/test_course.py",
        "tests/test_notebook_format.py",
        "tests/test_stubs.py",
        f"tests/test_{TOPIC}.py",
    ]
    run(root, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests)


def test_every_notebook_starts_with_the_scaffold_s_setup_cell():
    for a in ASSIGNMENTS:
        cells = nbformat.read(REPO_ROOT / a.notebook, as_version=4).cells
        assert next(c for c in cells if c.cell_type == "code").source == SETUP_CELL, a.notebook
