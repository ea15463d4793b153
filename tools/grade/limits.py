"""The batch grader's limits: each declared once with its default and help."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

from utils.settings import QUESTION_TIMEOUT, Setting

SUBMISSION_TIMEOUT = Setting(
    "--submission-timeout", 3600.0, "seconds for a submission's notebooks, and again for its hidden checks"
)
CALL_TIMEOUT = Setting(
    "--call-timeout",
    None,
    "seconds per call of a hidden check into the student's code",
    otherwise="each hidden check's limit derived from the reference's time on it",
)
MEMORY_GB = Setting("--memory-gb", 4.0, "memory limit of each process of a submission, in GiB (RLIMIT_DATA)")
WORKERS = Setting(
    "--workers", os.cpu_count() or 1, "submissions graded at once (the default: this machine's cores)"
)
LIMIT_FACTOR = Setting(
    "--limit-factor",
    10.0,
    "a cell's limit is this many times the reference's time on it, plus LIMIT_SLACK_S, at least LIMIT_FLOOR_S",
)
LIMIT_SLACK_S, LIMIT_FLOOR_S = 5.0, 15.0
BUDGET_FACTOR = Setting(
    "--budget-factor",
    3.0,
    "a submission's time budget is this many times the reference's whole grading time (its notebooks and "
    "hidden checks), at least BUDGET_FLOOR_S; past it, the questions not yet decided are charged a timeout",
)
BUDGET_FLOOR_S = 120.0
MAX_FILE_BYTES = 1 << 30  # no process of a submission writes a file above 1 GiB; its /tmp holds as much
MAX_PROCESSES = 256  # processes and threads of one student at once (a kernel and its helpers use ~60)


def derived_limit(reference_seconds: float, factor: float = LIMIT_FACTOR.default) -> float:
    """The limit of a cell (or call) the reference spends reference_seconds on."""
    return round(max(LIMIT_FLOOR_S, factor * reference_seconds + LIMIT_SLACK_S), 1)


def derived_budget(reference_seconds: float, factor: float = BUDGET_FACTOR.default) -> float:
    """A submission's time budget when the reference's whole grading takes reference_seconds."""
    return round(max(BUDGET_FLOOR_S, factor * reference_seconds), 1)


def hung_function_limit(reference_seconds: float, factor: float = LIMIT_FACTOR.default) -> float:
    """The limit of each later call into a function seen to hang: factor times the reference's longest call
    of it, with no floor and no slack (the function already cost its submission one whole limit)."""
    return factor * reference_seconds


@dataclass(frozen=True)
class Limits:
    question_timeout: float | None = None  # None: each cell's derived limit, else the autograder's default
    submission_timeout: float = SUBMISSION_TIMEOUT.default
    call_timeout: float | None = CALL_TIMEOUT.default  # None: derived from the reference's time on each case
    memory_gb: float = MEMORY_GB.default
    limit_factor: float = LIMIT_FACTOR.default
    cell_limits: dict | None = None  # {notebook: {code cell index: seconds}}, derived from the reference
    # {student function: seconds}: the short limit of a function seen to hang (utils/watch.py), derived from the
    # reference's longest call with no floor
    function_limits: dict | None = None
    budget_factor: float = BUDGET_FACTOR.default
    budget: float | None = None  # seconds for the whole submission, derived from the reference's
    reference_seconds: dict | None = None  # {notebook: the reference's grading seconds}, the budget's base

    @property
    def cpu_seconds(self) -> float:
        """CPU time of each process (RLIMIT_CPU): one thread busy for the whole submission."""
        return self.submission_timeout

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Limits:
        return cls(
            args.timeout,
            args.submission_timeout,
            args.call_timeout,
            args.memory_gb,
            args.limit_factor,
            budget_factor=args.budget_factor,
        )


def add_limits(parser: argparse.ArgumentParser) -> None:
    QUESTION_TIMEOUT.add_to(parser, otherwise="each cell's limit derived from the reference's time on it")
    for setting in (CALL_TIMEOUT, SUBMISSION_TIMEOUT, MEMORY_GB, WORKERS, LIMIT_FACTOR, BUDGET_FACTOR):
        setting.add_to(parser)
