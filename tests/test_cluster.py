"""tools.grade on Dask: a real cluster on localhost (a `dask scheduler` and `dask worker` processes, bound to
127.0.0.1) grades a small class as the embedded cluster does, also when a worker is killed mid-batch; a grader
killed mid-batch loses nothing, and its rerun, on one worker, grades only the rest and to the same points as
two workers did. So four submissions, the hang among them, are graded twice, on two embedded workers and then
on the localhost cluster or one worker, to the same points. A worker whose repository differs refuses, and the
student's result says why. Every process started here is stopped by its id, also when a test fails. One
notebook (assignment 4, the quickest) keeps it short."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tools.grade.batch import _outcome
from tools.grade.cluster import ALLOWED_FAILURES, dask_client
from tools.grade.limits import Limits
from tools.grade.outputs import BATCH, result_paths
from tools.grade.task import Job
from tools.grade.workspace import reference_source
from tools.teeth import material
from tools.teeth.localhost_cluster import localhost_cluster, stop
from tools.teeth.mutation import mutate
from utils.course import REPO_ROOT, by_topic
from utils.results import Status

pytestmark = pytest.mark.slow  # grades a class several times: the full suite and CI run it

TOPIC = "neural_collapse"
NOTEBOOK = by_topic(TOPIC).notebook
REFERENCE = reference_source(TOPIC)
CLASS = {
    "ada_reference": REFERENCE,
    "bo_written_differently": material(TOPIC).ALTERNATIVE,
    "cy_mutant": material(TOPIC).MUTANTS["nc4_farthest_mean"].source,
    "di_hangs": mutate(
        REFERENCE, "etf_objective_naive", "    C = W.shape[1]\n", "    while True:\n        pass\n"
    ),
    "fay_stub": None,
}


# What the grader killed mid-batch grades, on a localhost cluster and then on one worker: enough that both
# workers are busy when one is killed and something is left for the rerun, including the hang.
KILLED_CLASS = ("ada_reference", "cy_mutant", "di_hangs", "fay_stub")


def write_class(folder: Path, students=tuple(CLASS)) -> Path:
    for student in students:
        source = CLASS[student]
        (folder / student / "utils").mkdir(parents=True)
        if source is not None:
            (folder / student / "utils" / f"{TOPIC}.py").write_text(source)
    return folder


def grade_command(submissions: Path, out: Path, *options: str) -> list[str]:
    return [sys.executable, "-m", "tools.grade", str(submissions), "--out", str(out), "--notebooks", NOTEBOOK,
            "--submission-timeout", "300", *options]  # fmt: skip


def grades(out: Path) -> dict[str, dict]:
    """{student: {question: (status, earned)}} of a grades folder."""
    found = {}
    for path in result_paths(out):
        result = json.loads(path.read_text())
        found[path.stem] = {
            q["id"]: (q["status"], q["earned"]) for r in result["notebooks"] for q in r["questions"]
        }
    return found


def csv_students(out: Path) -> list[str]:
    with (out / "grades.csv").open(newline="") as handle:
        return [row["student"] for row in csv.DictReader(handle)]


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:g} s for {what}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """The class graded on the embedded cluster: (submissions, grades folder)."""
    root = tmp_path_factory.mktemp("embedded")
    submissions, out = write_class(root / "submissions"), root / "grades"
    proc = subprocess.run(grade_command(submissions, out, "--workers", "2"), cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return submissions, out


def resuming(out: Path, embedded_out: Path) -> Path:
    """A grades folder that starts from the embedded batch's record (not its grades), so that its cells
    keep the same limits and the reference is not timed again."""
    out.mkdir()
    shutil.copy(embedded_out / BATCH, out / BATCH)
    return out


def test_the_embedded_cluster_grades_every_kind_of_submission(embedded):
    got, full = grades(embedded[1]), by_topic(TOPIC).points
    assert set(got) == set(CLASS)
    for student in ("ada_reference", "bo_written_differently"):
        assert all(status == "passed" for status, _ in got[student].values()), got[student]
    assert {q for q, (s, _) in got["cy_mutant"].items() if s != "passed"} == {"nc4"}
    assert got["di_hangs"]["etf_objective_naive"][0] == "timeout"
    assert sum(e for _, e in got["fay_stub"].values()) == 0 and full > 0


def test_a_grader_killed_mid_batch_on_a_localhost_cluster_loses_nothing_and_its_rerun_on_one_worker_agrees(
    embedded, tmp_path
):
    """On a localhost cluster a worker is killed once the first result is written (and another joins), then
    the grader once the second is; what was graded stays as written, and a rerun on one embedded worker
    grades only the rest. Every student gets the points the embedded cluster's two workers gave."""
    embedded_out = embedded[1]
    submissions = write_class(tmp_path / "submissions", KILLED_CLASS)
    out = resuming(tmp_path / "grades", embedded_out)
    with localhost_cluster(2) as running:  # leaving it stops its workers and what they were grading
        command = grade_command(submissions, out, "--scheduler", running.address)
        grader = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)  # fmt: skip
        try:
            wait_for(lambda: len(result_paths(out)) >= 1, 600, "a first result")
            os.kill(running.workers[0].pid, signal.SIGKILL)  # busy: two workers, three submissions left
            running.add_worker()
            wait_for(lambda: len(result_paths(out)) >= 2, 600, "a second result")
        finally:
            stop(grader)
    before = {p.stem: (p.stat().st_mtime_ns, p.read_text()) for p in result_paths(out)}
    assert 2 <= len(before) < len(KILLED_CLASS)
    rerun = subprocess.run(grade_command(submissions, out, "--workers", "1"), cwd=REPO_ROOT, capture_output=True,
                           text=True, timeout=900)  # fmt: skip
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"{len(before)} already graded" in rerun.stdout
    assert {
        p.stem: (p.stat().st_mtime_ns, p.read_text()) for p in result_paths(out) if p.stem in before
    } == before
    assert grades(out) == {student: grades(embedded_out)[student] for student in KILLED_CLASS}
    assert sorted(csv_students(out)) == sorted(KILLED_CLASS)  # each student once


def test_a_worker_with_another_repository_refuses_and_says_why(tmp_path):
    submissions = tmp_path / "submissions"
    (submissions / "ada_reference" / "utils").mkdir(parents=True)
    (submissions / "ada_reference" / "utils" / f"{TOPIC}.py").write_text(REFERENCE)
    other = tmp_path / "other_commit"
    listed = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]  # the working tree
    files = subprocess.run(listed, cwd=REPO_ROOT, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        if (REPO_ROOT / name).is_file():
            (other / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / name, other / name)
    with (other / "tools" / "grade" / "hidden" / f"{TOPIC}.py").open("a") as handle:
        handle.write("\n# a hidden check changed since\n")
    out = tmp_path / "grades"
    with localhost_cluster(1, other) as running:
        command = grade_command(submissions, out, "--scheduler", running.address, "--timeout", "300")
        proc = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (question, *_) = json.loads((out / "ada_reference.json").read_text())["notebooks"][0]["questions"]
    assert question["status"] == "error" and question["earned"] == 0
    assert (
        "the worker's repository (fingerprint" in question["message"] and "same commit" in question["message"]
    )


def ends_its_worker(job: Job) -> None:
    """What a submission that escaped its sandbox and killed its grader's process would do."""
    os._exit(1)


def test_a_submission_that_keeps_killing_workers_is_that_students_error_and_the_batch_goes_on():
    job = Job("ivy", 61000, {}, "modules found: none", "0" * 16, (NOTEBOOK,), Limits(), "0" * 16)
    with dask_client(None, 1) as client:
        result = _outcome(client.submit(ends_its_worker, job, pure=False), job)
        assert client.submit(sum, [1, 2]).result() == 3  # the cluster still grades
    first = result.notebooks[0].questions[0]
    assert first.status is Status.ERROR and f"killed {ALLOWED_FAILURES + 1} workers in a row" in first.message
    assert result.earned == 0 and result.submission_hash == job.submission_hash
