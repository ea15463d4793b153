"""A real Dask cluster on this machine, for the tests and benchmarks that grade through --scheduler: a
`dask scheduler` and `dask worker` processes bound to 127.0.0.1, each worker one thread, every process
stopped by its id on leaving (also when what ran inside failed)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from utils.course import REPO_ROOT


def stop(process: subprocess.Popen) -> None:
    """Kills the process's whole group (it and whatever it started) and reaps it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def kill_processes_under(folder: Path) -> None:
    """Kills every process working in folder: the submissions of a killed worker or grader, which ran in
    sessions of their own there."""
    for cwd in Path("/proc").glob("[0-9]*/cwd"):
        with contextlib.suppress(OSError):
            if Path(os.readlink(cwd)).is_relative_to(folder):
                os.kill(int(cwd.parent.name), signal.SIGKILL)


class LocalhostCluster:
    """A scheduler and workers as separate processes, started from a repository folder."""

    def __init__(self, repository: Path = REPO_ROOT):
        self.repository, self.port = repository, free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.processes: list[subprocess.Popen] = []
        self.workers: list[subprocess.Popen] = []
        self.scratch = Path(tempfile.mkdtemp(prefix="losslab-workers-"))  # the workers' submission copies

    def _start(self, *command: str) -> subprocess.Popen:
        env = {**os.environ, "PYTHONPATH": str(self.repository), "TMPDIR": str(self.scratch)}
        process = subprocess.Popen(
            [sys.executable, "-m", *command], cwd=self.repository, env=env, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.processes.append(process)
        return process

    def add_worker(self) -> subprocess.Popen:
        worker = self._start("distributed.cli.dask_worker", self.address, "--nthreads", "1", "--no-nanny",
                             "--host", "127.0.0.1", "--no-dashboard", "--memory-limit", "0")  # fmt: skip
        self.workers.append(worker)
        return worker

    def wait_for_workers(self, count: int) -> None:
        from distributed import Client

        with Client(self.address, timeout=60) as client:
            client.wait_for_workers(count, timeout=120)

    def __enter__(self) -> LocalhostCluster:
        self._start("distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(self.port),
                    "--no-dashboard")  # fmt: skip
        return self

    def __exit__(self, *exc) -> None:
        for process in self.processes:
            stop(process)
        kill_processes_under(self.scratch)
        shutil.rmtree(self.scratch, ignore_errors=True)


@contextlib.contextmanager
def localhost_cluster(workers: int, repository: Path = REPO_ROOT) -> Iterator[LocalhostCluster]:
    """A running cluster of that many single-thread workers."""
    with LocalhostCluster(repository) as running:
        for _ in range(workers):
            running.add_worker()
        running.wait_for_workers(workers)
        yield running
