"""False fails under load: the autograder, on torch's default threads, grades the notebooks that have speed
checks for the correct solutions while two busy processes per core run; every question a correct run
loses is a false fail.

    python -m benchmarks.false_fails --write             # 5 rounds (--rounds N)

Each run is `python -m utils.autograde` on the whole notebook, as a student runs it, in a copy of the
repository holding the reference or the differently written solution (tools/grade/hidden/<topic>.py), on the
notebook's own defaults. Rounds go one after another, the notebooks and solutions in turn within each, so
the points of a submission can be compared across runs in a row. Besides the questions lost, each run's
slowest cell against its limit shows how far a timeout is.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

import benchmarks.common as common
from tools.grade.workspace import reference_source, workspace
from tools.teeth import material
from tools.teeth.busy_machine import busy_machine
from utils.course import by_topic
from utils.graded_cells import graded_cells
from utils.settings import QUESTION_TIMEOUT

TOPICS = ["linear_classifier", "cam_loss", "neural_collapse"]  # the notebooks with speed checks
BUSY_PER_CORE = 2
# A round (every notebook and solution once) takes up to 15 minutes on two busy cores: the busy processes
# must outlast every round, or the last ones would run on an idle machine.
BUSY_SECONDS_PER_ROUND = 1500


def solutions(topic: str) -> dict[str, str]:
    return {"reference": reference_source(topic), "written differently": material(topic).ALTERNATIVE}


def cell_limits(topic: str) -> dict[int, float]:
    """{code cell index: its limit} of the graded cells with a limit of their own."""
    notebook = nbformat.read(by_topic(topic).notebook, as_version=4)
    return {c.cell_num: c.timeout for c in graded_cells(notebook, by_topic(topic)) if c.timeout}


def grade_once(topic: str, source: str) -> dict:
    """One autograder run: its points, the questions it lost, its wall time and its slowest cell."""
    notebook = by_topic(topic).notebook
    with workspace({topic: source}) as root, tempfile.TemporaryDirectory() as out:
        reports, times = Path(out) / "reports", Path(out) / "cell_times.json"
        command = [sys.executable, "-m", "utils.autograde", notebook, "--report-dir", str(reports),
                   "--cell-times", str(times)]  # fmt: skip
        start = time.perf_counter()
        proc = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=3600)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(
                f"the autograder exited {proc.returncode}:\n{proc.stdout[-3000:]}{proc.stderr}"
            )
        report = json.loads((reports / f"{Path(notebook).stem}.json").read_text())
        cell_times = {int(cell): s for cell, s in json.loads(times.read_text())[notebook].items()}
    limits = cell_limits(topic)
    share = {cell: s / limits.get(cell, QUESTION_TIMEOUT.default) for cell, s in cell_times.items()}
    slowest = max(share, key=share.get)
    return {
        "earned": report["earned"],
        "max": report["max"],
        "lost": {q["id"]: q["message"] for q in report["questions"] if q["status"] != "passed"},
        "seconds": seconds,
        "slowest cell": {
            "cell": slowest,
            "seconds": cell_times[slowest],
            "share of its limit": share[slowest],
        },
    }


def measure(rounds: int) -> dict:
    runs = []
    with busy_machine(per_core=BUSY_PER_CORE, seconds=BUSY_SECONDS_PER_ROUND * rounds):
        for round_ in range(rounds):
            for topic in TOPICS:
                for label, source in solutions(topic).items():
                    runs.append(
                        {"round": round_, "topic": topic, "submission": label, **grade_once(topic, source)}
                    )
                    print(json.dumps(runs[-1]), flush=True)
    return {"rounds": rounds, "busy_processes_per_core": BUSY_PER_CORE, "runs": runs}


def as_markdown(r: dict) -> str:
    lines = [
        f"Measured {r['date']} on {r['machine']} (torch {r['torch']}, default threads), with "
        f"{r['busy_processes_per_core']} busy processes per core; each row's runs one round apart, in a row.",
        "",
        "| notebook | submission | runs | false fails | points (every run) | slowest cell's share of its limit | "
        "wall time |",
        "|---|---|---|---|---|---|---|",
    ]
    for topic in TOPICS:
        for label in ("reference", "written differently"):
            mine = [run for run in r["runs"] if run["topic"] == topic and run["submission"] == label]
            if not mine:
                continue
            points = sorted({f"{run['earned']:g}/{run['max']:g}" for run in mine})
            share = max(run["slowest cell"]["share of its limit"] for run in mine)
            wall = max(run["seconds"] for run in mine)
            lines.append(
                f"| `{by_topic(topic).notebook}` | {label} | {len(mine)} | {sum(bool(run['lost']) for run in mine)} "
                f"| {', '.join(points)} | {100 * share:.0f}% | up to {wall:.0f} s |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="runs of each notebook and solution, in a row")
    args, rest = parser.parse_known_args()
    common.run("false_fails", __doc__.splitlines()[0], lambda: measure(args.rounds), as_markdown, rest)
