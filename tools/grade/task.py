"""What a Dask worker runs: one submission's grading, or the reference's timing, as a self-contained task.

A task carries the submission's module sources (never a path on the grader's disk), the notebooks to
grade, the limits and the grader's repository fingerprint. The worker grades with its own copy of the
repository, which must be the same: a worker whose fingerprint differs refuses, and the student's result
says why. Each worker isolates as far as its own machine allows (tools.grade.isolation).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

from tools.grade.fingerprint import repository_fingerprint
from tools.grade.isolation import REFERENCE_UID, Sandbox, find_sandbox
from tools.grade.limits import Limits
from tools.grade.run import ReferenceTimes, grade_submission, time_the_reference
from utils import course
from utils.results import NotebookReport, Status, SubmissionResult, WrittenAnswers


@dataclass(frozen=True)
class Job:
    student: str
    uid: int  # the student's own uid in the sandbox
    modules: Mapping[str, str]  # {topic: source}
    note: str  # which modules the submission held, or why it could not be read
    submission_hash: str
    notebooks: tuple[str, ...]
    limits: Limits
    fingerprint: str  # the grader's repository
    # The written answers read from the submission's notebooks (tools.grade.answers), copied onto the result
    # as they are: nothing runs them, and no autograded point depends on them.
    written: tuple[WrittenAnswers, ...] = ()


@functools.cache
def worker_sandbox() -> tuple[Sandbox | None, str]:
    """This worker's sandbox and the line that says how it isolates, probed once per worker process."""
    return find_sandbox()


def mismatch(fingerprint: str) -> str | None:
    """Why this worker must not grade for a grader with that repository fingerprint, or None."""
    mine = repository_fingerprint()
    if mine == fingerprint:
        return None
    return (
        f"the worker's repository (fingerprint {mine}) differs from the grader's ({fingerprint}): "
        "install the same commit of the repository on every worker"
    )


def _assignments(notebooks: tuple[str, ...]) -> list[course.Assignment]:
    return [course.by_notebook(notebook) for notebook in notebooks]


def failed_result(job: Job, status: Status, why: str) -> SubmissionResult:
    """Every question of the job's notebooks lost for one reason: nothing could be graded."""
    reports = [
        NotebookReport.all_failed(a.notebook, a.questions, status, why) for a in _assignments(job.notebooks)
    ]
    result = SubmissionResult(
        job.student, reports, note=job.note, submission_hash=job.submission_hash, fingerprint=job.fingerprint
    )
    result.written = list(job.written)
    return result


def grade_job(job: Job) -> SubmissionResult:
    """The student's grades, computed on this worker."""
    refused = mismatch(job.fingerprint)
    if refused:
        return failed_result(job, Status.ERROR, refused)
    sandbox, isolation = worker_sandbox()
    result = grade_submission(
        job.student, job.modules, _assignments(job.notebooks), job.limits, sandbox, job.uid
    )
    result.note = job.note if sandbox is not None else f"{job.note}; {isolation}"
    result.submission_hash, result.fingerprint = job.submission_hash, job.fingerprint
    result.written = list(job.written)
    return result


def time_the_reference_job(notebooks: tuple[str, ...], limits: Limits, fingerprint: str) -> ReferenceTimes:
    """The reference's times on this worker (each code cell, each student function's longest call), run as a
    submission is; raises RuntimeError when this worker's repository differs or the reference loses points."""
    refused = mismatch(fingerprint)
    if refused:
        raise RuntimeError(refused)
    return time_the_reference(_assignments(notebooks), limits, worker_sandbox()[0], REFERENCE_UID)


def worker_isolation() -> tuple[bool, str]:
    """Whether this worker isolates student code, and the line that says how."""
    sandbox, isolation = worker_sandbox()
    return sandbox is not None, isolation
