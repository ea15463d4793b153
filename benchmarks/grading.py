"""Grading throughput: a generated class graded by tools.grade on Dask, on an embedded cluster of one
worker and of two, and through a localhost scheduler with two workers, and the grader's cost per
submission against running the notebook under nbval directly.

    python -m benchmarks.grading --write                 # a class of 50 on assignment 4's notebook

The class cycles through the reference, a differently written correct solution, every mutant of the
assignment and the untouched stub. The two-worker settings grade the whole class; one worker grades its
first SERIAL_SUBMISSIONS (a rate needs no more, and the serial run of 50 alone would take a quarter hour).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchmarks.common as common
from tools.grade.workspace import reference_source
from tools.teeth import material
from tools.teeth.localhost_cluster import localhost_cluster
from utils.course import REPO_ROOT, by_topic

TOPIC = "neural_collapse"
CLASS_SIZE, SERIAL_SUBMISSIONS = 50, 10


def kinds() -> list[str | None]:
    """The submissions a class cycles through: the reference first, a correct variant, the mutants, the stub."""
    hidden = material(TOPIC)
    return [reference_source(TOPIC), hidden.ALTERNATIVE, *(m.source for m in hidden.MUTANTS.values()), None]


def write_class(folder: Path, size: int) -> None:
    """size submissions cycling through kinds()."""
    cycle = kinds()
    for i in range(size):
        student = folder / f"student{i:03d}" / "utils"
        student.mkdir(parents=True)
        if cycle[i % len(cycle)] is not None:
            (student / f"{TOPIC}.py").write_text(cycle[i % len(cycle)])


def grade(submissions: Path, out: Path, *options: str, topic: str = TOPIC) -> float:
    """Seconds for tools.grade over the folder, on topic's notebook."""
    start = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.grade",
            str(submissions),
            "--out",
            str(out),
            "--notebooks",
            by_topic(topic).notebook,
            *options,
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stdout[-2000:] + proc.stderr[-2000:])
    return time.perf_counter() - start


def measure() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_class(tmp / "class", CLASS_SIZE)
        write_class(tmp / "serial", SERIAL_SUBMISSIONS)
        notebook = by_topic(TOPIC).notebook
        nbval_one, nbval_default = [], []
        for _ in range(2):  # interleaved, so that both see the same machine
            nbval_one.append(common.notebook_wall_time(notebook, threads=1))
            nbval_default.append(common.notebook_wall_time(notebook))
        serial = grade(tmp / "serial", tmp / "serial-grades", "--workers", "1")
        # The reference's own grading time, from its results (the batch's start and end left out).
        references = [i for i in range(SERIAL_SUBMISSIONS) if i % len(kinds()) == 0]
        reference_seconds = [
            json.loads((tmp / "serial-grades" / f"student{i:03d}.json").read_text())["seconds"]
            for i in references
        ]
        parallel = grade(tmp / "class", tmp / "class-grades", "--workers", "2")
        with localhost_cluster(2) as cluster:
            scheduler = grade(tmp / "class", tmp / "scheduler-grades", "--scheduler", cluster.address)
    return {
        "notebook": by_topic(TOPIC).notebook,
        "class_size": CLASS_SIZE,
        "serial_submissions": SERIAL_SUBMISSIONS,
        "nbval_one_thread_seconds": min(nbval_one),
        "nbval_default_threads_seconds": min(nbval_default),
        "serial_seconds": serial,
        "reference_submission_seconds": min(reference_seconds),
        "parallel_seconds": parallel,
        "scheduler_seconds": scheduler,
    }


def as_markdown(r: dict) -> str:
    serial_each = r["serial_seconds"] / r["serial_submissions"]
    parallel_rate = r["class_size"] / r["parallel_seconds"] * 60
    scheduler_rate = r["class_size"] / r["scheduler_seconds"] * 60
    one, default, own = (
        r["nbval_one_thread_seconds"],
        r["nbval_default_threads_seconds"],
        r["reference_submission_seconds"],
    )
    return "\n".join(
        [
            f"Measured {r['date']} on {r['machine']} (torch {r['torch']}); notebook `{r['notebook']}`.",
            "",
            "| measurement | result |",
            "|---|---|",
            f"| embedded, 1 worker, {r['serial_submissions']} submissions | {r['serial_seconds']:.0f} s: "
            f"**{60 / serial_each:.1f} per minute** ({serial_each:.1f} s each) |",
            f"| embedded, 2 workers, class of {r['class_size']} | {r['parallel_seconds'] / 60:.1f} min: "
            f"**{parallel_rate:.1f} per minute** ({parallel_rate * serial_each / 60:.2f}x one worker) |",
            f"| localhost `dask scheduler`, 2 `dask worker`s, class of {r['class_size']} | "
            f"{r['scheduler_seconds'] / 60:.1f} min: **{scheduler_rate:.1f} per minute** |",
            f"| the notebook under nbval directly, reference, fresh kernel, one thread | {one:.1f} s |",
            f"| the same at torch's default threads | {default:.1f} s: {60 / default:.1f} per minute, one "
            f"after another: the grader's 2 workers grade {parallel_rate * default / 60:.2f}x as many |",
            f"| a reference submission's own grading (copy, notebook, hidden checks; one thread) | {own:.1f} s: "
            f"**{own / one:.2f}x nbval on one thread**, {own / default:.2f}x nbval at the default threads |",
            f"| grader / nbval on one thread, per submission of the 1-worker batch (its start included) | "
            f"{serial_each / one:.2f}x |",
        ]
    )


if __name__ == "__main__":
    common.run("grading", __doc__.splitlines()[0], measure, as_markdown)
