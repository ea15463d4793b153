"""Grading throughput: a generated class graded by tools.grade, serial against parallel, and the grader's
cost per submission against running the notebook under nbval directly.

    python -m benchmarks.grading --write                 # a class of 50 on assignment 4's notebook

The class cycles through the reference, a differently written correct solution, every mutant of the
assignment and the untouched stub. Parallel grading runs the whole class; serial grading runs its
first SERIAL_SUBMISSIONS (a rate needs no more, and the serial run of 50 alone would take a quarter hour).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchmarks.common as common
from tools.hidden import material
from tools.hidden.mutation import solution_source
from utils.course import REPO_ROOT, by_topic

TOPIC = "neural_collapse"
CLASS_SIZE, SERIAL_SUBMISSIONS = 50, 10


def write_class(folder: Path, size: int) -> None:
    """size submissions cycling through the reference, a correct variant, the mutants and the stub."""
    hidden = material(TOPIC)
    kinds = [solution_source(TOPIC), hidden.ALTERNATIVE, *(m.source for m in hidden.MUTANTS.values()), None]
    for i in range(size):
        student = folder / f"student{i:03d}" / "utils"
        student.mkdir(parents=True)
        if kinds[i % len(kinds)] is not None:
            (student / f"{TOPIC}.py").write_text(kinds[i % len(kinds)])


def grade(submissions: Path, out: Path, workers: int) -> float:
    """Seconds for tools.grade over the folder."""
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
            by_topic(TOPIC).notebook,
            "--workers",
            str(workers),
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
        nbval = min(common.notebook_wall_time(by_topic(TOPIC).notebook) for _ in range(2))
        serial = grade(tmp / "serial", tmp / "serial-grades", workers=1)
        parallel = grade(tmp / "class", tmp / "class-grades", workers=2)
    return {
        "notebook": by_topic(TOPIC).notebook,
        "class_size": CLASS_SIZE,
        "serial_submissions": SERIAL_SUBMISSIONS,
        "nbval_seconds": nbval,
        "serial_seconds": serial,
        "parallel_seconds": parallel,
    }


def as_markdown(r: dict) -> str:
    serial_each = r["serial_seconds"] / r["serial_submissions"]
    parallel_rate = r["class_size"] / r["parallel_seconds"] * 60
    return "\n".join(
        [
            f"Measured {r['date']} on {r['machine']} (torch {r['torch']}); notebook `{r['notebook']}`.",
            "",
            "| measurement | result |",
            "|---|---|",
            f"| serial (1 worker), {r['serial_submissions']} submissions | {r['serial_seconds']:.0f} s: "
            f"**{60 / serial_each:.1f} per minute** ({serial_each:.1f} s each) |",
            f"| parallel (2 workers), class of {r['class_size']} | {r['parallel_seconds'] / 60:.1f} min: "
            f"**{parallel_rate:.1f} per minute** ({parallel_rate * serial_each / 60:.2f}x serial) |",
            f"| the notebook under nbval directly, reference, fresh kernel | {r['nbval_seconds']:.1f} s |",
            f"| grader / nbval, per submission (serial) | **{serial_each / r['nbval_seconds']:.2f}x** |",
        ]
    )


if __name__ == "__main__":
    common.run("grading", __doc__.splitlines()[0], measure, as_markdown)
