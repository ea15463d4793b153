"""The batch grader's limits: each declared once with its default and help."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

from utils.settings import QUESTION_TIMEOUT, Setting

SUBMISSION_TIMEOUT = Setting(
    "--submission-timeout", 3600.0, "seconds for a submission's notebooks, and again for its hidden checks"
)
CALL_TIMEOUT = Setting("--call-timeout", 20.0, "seconds per hidden check")
MEMORY_GB = Setting("--memory-gb", 4.0, "memory limit of each process of a submission, in GiB (RLIMIT_DATA)")
WORKERS = Setting("--workers", os.cpu_count() or 1, "submissions graded at once (default: the cores)")
MAX_FILE_BYTES = 1 << 30  # no process of a submission writes a file above 1 GiB; its /tmp holds as much
MAX_PROCESSES = 512  # processes and threads of one student at once (a kernel and its helpers use ~60)


@dataclass(frozen=True)
class Limits:
    question_timeout: float = QUESTION_TIMEOUT.default
    submission_timeout: float = SUBMISSION_TIMEOUT.default
    call_timeout: float = CALL_TIMEOUT.default
    memory_gb: float = MEMORY_GB.default

    @property
    def cpu_seconds(self) -> float:
        """CPU time of each process (RLIMIT_CPU): one thread busy for the whole submission."""
        return self.submission_timeout

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Limits:
        return cls(args.timeout, args.submission_timeout, args.call_timeout, args.memory_gb)


def add_limits(parser: argparse.ArgumentParser) -> None:
    for setting in (QUESTION_TIMEOUT, SUBMISSION_TIMEOUT, CALL_TIMEOUT, MEMORY_GB, WORKERS):
        setting.add_to(parser)
