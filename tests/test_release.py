"""tools/build/release.py: the student release holds nothing instructor-only, its leak check works, and its
public checks, which replay recorded reference values, grade as the instructor's checks do: the stubs
as not implemented, the reference with full marks, a mutant per assignment losing exactly its questions."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.mutants import assert_parts_fail_as_named, failing_questions
from tools.build import leaks, release
from tools.grade.workspace import override_parameters, reference_modules, workspace
from tools.teeth import material
from tools.written.rubrics import RUBRICS
from utils.course import ASSIGNMENTS, REPO_ROOT, by_topic, question_id

pytestmark = pytest.mark.slow  # runs notebooks or a class: the full suite and CI run it

TOPICS = [a.topic for a in ASSIGNMENTS]


def release_mutant(topic: str):
    """The mutant the release is tested on: the first of the topic's (its hint comes from a recorded mistake)."""
    return next(iter(material(topic).MUTANTS.values()))


FORBIDDEN = {
    "solutions",
    "tools",
    "benchmarks",
    "reports",
    "grades",
    "__pycache__",
    ".git",
    ".ci",
    "autograde_cases.py",
    "conftest.py",
    "test_stubs.py",
    "test_autograde.py",
    "test_grade.py",
}


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release")
    proc = subprocess.run(
        [sys.executable, "-m", "tools.build.release", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def _grade(root: Path, notebook: str, report_dir: Path) -> dict:
    # One thread each: two runs share the two cores.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "utils.autograde", notebook, "--report-dir", str(report_dir)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {
        q["id"]: q
        for q in json.loads((report_dir / (Path(notebook).stem + ".json")).read_text())["questions"]
    }


def _grade_copy(released: Path, topic: str, source: str, report_dir: Path) -> dict:
    """Grades topic's notebook, with quick parameters, in a copy of the release holding source as the student module."""
    assignment, quick = by_topic(topic), material(topic).QUICK_PARAMETERS
    with workspace({topic: source}, root=released) as root:
        if quick:
            override_parameters(root / assignment.notebook, **quick)
        return _grade(root, assignment.notebook, report_dir)


@pytest.fixture(scope="module")
def release_graded(released, tmp_path_factory) -> dict[str, dict]:
    """{"<topic>/<stubs|reference|mutant>": {question: result}}, graded in the release two at a time."""
    references = reference_modules()
    jobs = {}
    for topic in TOPICS:
        jobs[f"{topic}/reference"] = lambda k=topic: _grade_copy(
            released, k, references[k], tmp_path_factory.mktemp(f"{k}-reference")
        )
        jobs[f"{topic}/mutant"] = lambda k=topic: _grade_copy(
            released, k, release_mutant(k).source, tmp_path_factory.mktemp(f"{k}-mutant")
        )
    for assignment in ASSIGNMENTS:
        jobs[f"{assignment.topic}/stubs"] = lambda a=assignment: _grade(
            released, a.notebook, tmp_path_factory.mktemp(f"{a.topic}-stubs")
        )
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {key: pool.submit(job) for key, job in jobs.items()}
        return {key: future.result() for key, future in futures.items()}


def test_release_holds_what_a_student_needs_and_nothing_instructor_only(released):
    names = {p.relative_to(released).as_posix() for p in released.rglob("*")}
    assert not {part for name in names for part in name.split("/")} & FORBIDDEN
    for a in ASSIGNMENTS:
        assert {a.notebook, a.student_module, a.checks_module, f"utils/checks/expected/{a.topic}.pt"} <= names
    assert {
        "README.md",
        "requirements.txt",
        "pyproject.toml",
        "datasets/README.md",
        "tests/test_smoke.py",
    } <= names
    assert "torchcam" not in (released / "requirements.txt").read_text()
    assert "@oracle" not in (released / "utils" / "checks" / "cam_loss.py").read_text()
    size = sum(p.stat().st_size for p in released.rglob("*") if p.is_file())
    assert size < 3e6, f"the release takes {size / 1e6:.1f} MB"


def test_the_release_holds_no_rubric_and_its_stub_notebooks_hand_in(released, tmp_path):
    """No rubric text anywhere in the release; a fresh copy of it through `python -m utils.submit`: the zip
    holds exactly the student's files, the PDF a page per written question."""
    rubric_texts = [item.description for items in RUBRICS.values() for item in items]
    for path in (p for p in released.rglob("*") if p.is_file()):
        content = path.read_bytes().decode("utf-8", "replace")
        assert not [text for text in rubric_texts if text in content], f"rubric text in {path}"
    copy = tmp_path / "student"
    shutil.copytree(released, copy)
    proc = subprocess.run(
        [sys.executable, "-m", "utils.submit"], cwd=copy, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with zipfile.ZipFile(copy / "submission" / "losslab_code.zip") as archive:
        assert archive.namelist() == [name for a in ASSIGNMENTS for name in (a.student_module, a.notebook)]
    pages = PdfReader(copy / "submission" / "losslab_written.pdf").pages
    assert len(pages) == sum(len(a.written) for a in ASSIGNMENTS) == 15
    written = [f"{a.topic}/{q.id}" for a in ASSIGNMENTS for q in a.written]
    assert [next(w for w in written if w in page.extract_text()) for page in pages] == written


def test_refuses_a_non_empty_folder_without_force_and_any_folder_overlapping_the_repository(released, capsys):
    with pytest.raises(SystemExit, match="--force"):
        release.main([str(released)])
    for overlapping in (REPO_ROOT / "utils", Path("/")):
        with pytest.raises(SystemExit):
            release.main([str(overlapping), "--force"])
        assert "overlaps this repository" in capsys.readouterr().err


def test_leak_check_passes_on_the_release_and_catches_a_planted_leak(released, tmp_path):
    assert leaks.find_leaks(released) == []
    planted = tmp_path / "planted"
    planted.mkdir()
    (planted / "notes.py").write_text("x = 1\n" + sorted(leaks.solution_lines())[0] + "\n")
    (planted / "oracle.py").write_text(sorted(leaks.oracle_lines())[0] + "\nfrom solutions import simclr\n")
    found = leaks.find_leaks(planted)
    assert any(f.startswith("notes.py:2: solution code") for f in found), found
    assert any(f.startswith("oracle.py:1: oracle code") for f in found), found
    assert any(f.startswith("oracle.py:2: imports solutions") for f in found), found


def test_public_requirements_drop_only_the_test_only_block():
    text = "torch>=2\n# Test-only: peers.\nlightly>=1\ntorchcam>=0.5\n\nnbval>=0.11\n"
    assert release.public_requirements(text) == "torch>=2\n\nnbval>=0.11\n"


@pytest.mark.parametrize("topic", TOPICS)
def test_released_autograder_reports_every_question_not_implemented(release_graded, topic):
    results = release_graded[f"{topic}/stubs"]
    assert list(results) == [q.id for q in by_topic(topic).questions]
    assert {q["status"] for q in results.values()} == {"not_implemented"}


@pytest.mark.parametrize("topic", TOPICS)
def test_replayed_checks_give_the_reference_full_marks(release_graded, topic):
    casualties = material(topic).QUICK_CASUALTIES
    failing = {
        k: q["message"]
        for k, q in release_graded[f"{topic}/reference"].items()
        if q["status"] != "passed" and k not in casualties
    }
    assert not failing


@pytest.mark.parametrize("topic", TOPICS)
def test_replayed_checks_fail_a_mutant_on_exactly_its_questions(release_graded, topic):
    mutant, casualties = release_mutant(topic), material(topic).QUICK_CASUALTIES
    results = release_graded[f"{topic}/mutant"]
    for key, words in mutant.must_fail.items():
        question = results[question_id(key)]
        assert question["status"] == "failed" and words in question["message"], question
        parts = {p["id"]: (p["status"], p["message"]) for p in question.get("parts", [])}
        assert_parts_fail_as_named(topic, mutant, question_id(key), parts)
    ids = {q.id for q in by_topic(topic).questions}
    passed_anyway = ids - failing_questions(mutant) - set(mutant.may_fail) - casualties
    assert {q: results[q]["status"] for q in passed_anyway} == dict.fromkeys(passed_anyway, "passed")
