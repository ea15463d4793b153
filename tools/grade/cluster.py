"""The Dask cluster a batch runs on: an embedded LocalCluster by default, or any running cluster by its
scheduler's address (plain `dask scheduler`/`dask worker`, dask-jobqueue's Slurm or PBS, Kubernetes).

A worker that dies mid-task has its task rerun elsewhere by the scheduler; a task that has killed
ALLOWED_FAILURES + 1 workers ends as KilledWorker, which the batch reports as that student's error.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
from collections.abc import Iterator

import dask
from distributed import Client, LocalCluster

ALLOWED_FAILURES = 2  # workers a task may kill before it is given up (Dask's allowed-failures)


def dashboard_available() -> bool:
    return importlib.util.find_spec("bokeh") is not None


@contextlib.contextmanager
def dask_client(scheduler: str | None, workers: int) -> Iterator[Client]:
    """A client of the scheduler at that address, or of an embedded cluster of that many workers."""
    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    # Read when the scheduler starts, so set first; an external scheduler has its own configuration.
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0" if dashboard_available() else None,
            memory_limit=0,  # each process of a submission has its own limit (tools.grade.limits)
            silence_logs=logging.ERROR,
        )
        with cluster, Client(cluster) as client:
            yield client
