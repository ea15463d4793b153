"""What Dask costs the batch grader: the per-task overhead over a direct call, and the scheduler's own
cost on a class of 2000 simulated submissions.

    python -m benchmarks.dask_overhead --write

- **Per task.** TASKS jobs that return at once (a worker of another repository refuses them: the job, its
  module sources and a whole result still travel) on an embedded cluster of one worker, against the same
  calls made directly: Dask's cost per submission.
- **2000 submissions.** A localhost cluster of 8 single-thread workers runs 2000 tasks that each sleep
  a real grading time (the serial time per submission of benchmarks/grading.py's latest results, spread
  +-50%) divided by SCALE, so the run takes a minute, not hours. The scheduler's cost is the wall time
  past the ideal makespan (the same sleeps dealt greedily to 8 workers with no cost of their own). Its
  cost per task does not grow with the task's length, so the share it takes of a real batch is that
  overhead against the ideal makespan times SCALE.
"""

from __future__ import annotations

import heapq
import json
import random
import time

from distributed import Client

import benchmarks.common as common
from tools.grade.cluster import dask_client
from tools.grade.isolation import FIRST_STUDENT_UID
from tools.grade.limits import Limits
from tools.grade.task import Job, failed_result, grade_job
from tools.grade.workspace import reference_source
from tools.teeth.localhost_cluster import localhost_cluster
from utils.course import by_topic
from utils.results import Status

TOPIC = "neural_collapse"
TASKS, SIMULATED, SIMULATION_WORKERS, SCALE = 200, 2000, 8, 100


def refused_job(index: int) -> Job:
    """A job with a real submission's payload that any worker refuses at once (no repository has an
    all-zero fingerprint)."""
    modules = {TOPIC: reference_source(TOPIC)}
    notebooks = (by_topic(TOPIC).notebook,)
    return Job(
        f"student{index:04d}", FIRST_STUDENT_UID + index, modules, "", "0" * 16, notebooks, Limits(), "0" * 16
    )


def simulated_grading(job: Job, seconds: float):
    """A grading that takes seconds and returns a result of a real one's size."""
    time.sleep(seconds)
    return failed_result(job, Status.PASSED, "simulated")


def per_task_overhead() -> dict:
    jobs = [refused_job(i) for i in range(TASKS)]
    start = time.perf_counter()
    for job in jobs:
        grade_job(job)
    direct = (time.perf_counter() - start) / TASKS
    with dask_client(None, 1) as client:
        client.submit(grade_job, refused_job(-1), pure=False).result()  # the worker's first import
        start = time.perf_counter()
        for future in [client.submit(grade_job, job, pure=False) for job in jobs]:
            future.result()
        batched = (time.perf_counter() - start) / TASKS
        start = time.perf_counter()
        for job in jobs[:50]:
            client.submit(grade_job, job, pure=False).result()
        one_at_a_time = (time.perf_counter() - start) / 50
    return {"direct_s": direct, "batched_s": batched, "one_at_a_time_s": one_at_a_time}


def ideal_makespan(durations: list[float], workers: int) -> float:
    """The sleeps dealt in order to whichever worker is free first, at no cost."""
    free = [0.0] * workers
    for seconds in durations:
        heapq.heappush(free, heapq.heappop(free) + seconds)
    return max(free)


def simulation() -> dict:
    grading = json.loads((common.HERE / "results" / "grading.json").read_text())
    per_submission = grading["serial_seconds"] / grading["serial_submissions"]
    draw = random.Random(0)
    durations = [per_submission * draw.uniform(0.5, 1.5) / SCALE for _ in range(SIMULATED)]
    with localhost_cluster(SIMULATION_WORKERS) as cluster, Client(cluster.address) as client:
        start = time.perf_counter()
        futures = [
            client.submit(simulated_grading, refused_job(i), seconds, pure=False)
            for i, seconds in enumerate(durations)
        ]
        client.gather(futures)
        wall = time.perf_counter() - start
    ideal = ideal_makespan(durations, SIMULATION_WORKERS)
    return {
        "per_submission_s": per_submission,
        "wall_s": wall,
        "ideal_s": ideal,
        "overhead_s": wall - ideal,
        "share_at_real_durations": (wall - ideal) / (ideal * SCALE),
    }


def measure() -> dict:
    return {"per_task": per_task_overhead(), "simulation": simulation()}


def as_markdown(r: dict) -> str:
    task, sim = r["per_task"], r["simulation"]
    return "\n".join(
        [
            f"Measured {r['date']} on {r['machine']} (torch {r['torch']}).",
            "",
            "| measurement | result |",
            "|---|---|",
            f"| a task's round trip, {TASKS} submitted at once (1 worker) | {task['batched_s'] * 1e3:.1f} ms; "
            f"a direct call {task['direct_s'] * 1e3:.2f} ms: **{(task['batched_s'] - task['direct_s']) * 1e3:.1f} ms "
            f"added per submission** |",
            f"| one task at a time, waiting for each | {task['one_at_a_time_s'] * 1e3:.1f} ms |",
            f"| {SIMULATED} simulated submissions on {SIMULATION_WORKERS} workers, each "
            f"{sim['per_submission_s']:.1f} s +-50% / {SCALE} | {sim['wall_s']:.1f} s against an ideal "
            f"{sim['ideal_s']:.1f} s: {sim['overhead_s']:.1f} s of scheduling |",
            f"| the scheduler's share of a real batch of {SIMULATED} (that overhead against the ideal x {SCALE}) "
            f"| **{sim['share_at_real_durations'] * 100:.2f}%** |",
        ]
    )


if __name__ == "__main__":
    common.run("dask_overhead", __doc__.splitlines()[0], measure, as_markdown)
