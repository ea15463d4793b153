"""The repository fingerprint covers what decides a grade and nothing else: on a rerun of tools.grade, editing
the class report, a mutant, the release, a benchmark or a test keeps every student's grade, and editing a
hidden case, a public check, a notebook or a reference regrades every student."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.grade.batch import _is_current, _jobs
from tools.grade.fingerprint import repository_fingerprint
from tools.grade.limits import Limits
from tools.grade.submissions import find_submissions
from tools.grade.task import failed_result
from tools.grade.workspace import copy_repository, reference_source
from utils.course import REPO_ROOT, by_topic
from utils.results import Status

TOPIC = "linear_classifier"
NOTEBOOKS = (by_topic(TOPIC).notebook,)

KEEPS_THE_GRADES = [
    "tools/report/page.py",
    f"tools/teeth/{TOPIC}.py",
    "tools/build/release.py",
    "benchmarks/README.md",
    "tests/test_fingerprint.py",
]
REGRADES = [
    f"tools/grade/hidden/{TOPIC}.py",
    "tools/grade/run.py",
    f"utils/checks/{TOPIC}.py",
    f"solutions/{TOPIC}.py",
    NOTEBOOKS[0],
    "requirements.txt",
]


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> tuple[dict, dict]:
    """A class of three with grades from this repository: (submissions, {student: result})."""
    folder = tmp_path_factory.mktemp("submissions")
    for student, source in {"ada": reference_source(TOPIC), "bo": "x = 1\n", "cy": None}.items():
        (folder / student / "utils").mkdir(parents=True)
        if source is not None:
            (folder / student / "utils" / f"{TOPIC}.py").write_text(source)
    submissions = find_submissions(folder)
    jobs = _jobs(submissions, NOTEBOOKS, Limits(), repository_fingerprint())
    return submissions, {job.student: failed_result(job, Status.ERROR, "graded") for job in jobs}


def regraded_after_editing(path: str, graded: tuple[dict, dict], tmp_path: Path) -> set[str]:
    """The students a rerun grades again after path is edited in a copy of the repository."""
    submissions, results = graded
    copy = copy_repository(tmp_path / "repo")
    edited = copy / path
    if edited.suffix == ".ipynb":
        edited.write_text(edited.read_text().replace('"cells": [', '"cells": [\n', 1))
    else:
        edited.write_text(edited.read_text() + "\n# edited\n")
    jobs = _jobs(submissions, NOTEBOOKS, Limits(), repository_fingerprint(copy))
    return {job.student for job in jobs if not _is_current(results[job.student], job)}


@pytest.mark.parametrize("path", KEEPS_THE_GRADES)
def test_editing_what_decides_no_grade_keeps_every_grade(path, graded, tmp_path):
    assert regraded_after_editing(path, graded, tmp_path) == set()


@pytest.mark.parametrize("path", REGRADES)
def test_editing_what_decides_a_grade_regrades_every_student(path, graded, tmp_path):
    assert regraded_after_editing(path, graded, tmp_path) == {"ada", "bo", "cy"}


def test_an_untouched_copy_has_the_same_fingerprint(tmp_path):
    assert repository_fingerprint(copy_repository(tmp_path / "repo")) == repository_fingerprint(REPO_ROOT)
