"""A busy machine on demand, for the benchmarks and tests that show a check holds under load: processes
that keep every core busy with small and medium torch ops on torch's default threads (whose pools then
compete with the measured code's) and plain Python work, as notebook kernels and training runs do. Each
ends by itself after its time and is stopped by its id on leaving, also when what ran inside failed."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator

from tools.teeth.localhost_cluster import stop

BUSY_LOOP = """
import sys, time
import torch
deadline = time.monotonic() + float(sys.argv[1])
a = torch.randn(160, 160)
while time.monotonic() < deadline:
    for _ in range(20):
        b = a @ a
        a = torch.tanh(b / b.norm())
    sum(range(30000))
"""


def cores() -> int:
    return len(os.sched_getaffinity(0))


@contextlib.contextmanager
def busy_machine(per_core: int = 2, seconds: float = 1800) -> Iterator[list[subprocess.Popen]]:
    """per_core busy processes per core for at most seconds (each stops itself then)."""
    processes: list[subprocess.Popen] = []
    try:
        for _ in range(per_core * cores()):
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-c", BUSY_LOOP, str(seconds)],
                    start_new_session=True,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        yield processes
    finally:
        for process in processes:
            stop(process)
