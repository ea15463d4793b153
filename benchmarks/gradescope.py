"""Gradescope's entry point on Gradescope's default hardware, as near as this machine gets: one core (taskset)
and 768 MB of memory for everything the run starts (a cgroup), then 2 GB, per assignment, for the reference
and, on assignment 1, for a submission whose predict_linear_classifier spins.

    sudo python -m benchmarks.gradescope --write       # root: it makes a memory cgroup

setup.sh's last step (`tools.grade --limits-only`) runs once beforehand, without the limits, as Gradescope
runs it while it builds the image; each run then reuses its limits. Gradescope's default timeout is 10
minutes per submission (40 at most).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchmarks.common as common
from tools.grade.workspace import reference_modules
from tools.teeth.mutation import at_solution_start
from utils import course
from utils.course import REPO_ROOT

MEMORIES = ("768M", "2G")  # Gradescope's default, and a larger machine it offers
CGROUP = Path("/sys/fs/cgroup/memory/losslab-gradescope")
ENTRY = REPO_ROOT / "tools" / "grade" / "gradescope" / "run_autograder"


def submissions() -> dict[str, dict[str, str]]:
    reference = reference_modules()
    spinning = dict(reference)
    spinning["linear_classifier"] = at_solution_start(
        reference["linear_classifier"], "predict_linear_classifier", "while True:\n    pass\n"
    )
    return {"reference": reference, "spins in predict": spinning}


def limited(command: list[str]) -> list[str]:
    """command on one core, in the memory cgroup."""
    enter = f'echo $$ > {CGROUP}/cgroup.procs && exec taskset -c 0 "$@"'
    return ["bash", "-c", enter, "limited", *command]


def run_entry(autograder: Path, notebook: str) -> tuple[float, float, str]:
    env = {**os.environ, "AUTOGRADER": str(autograder), "LOSSLAB_GRADE_ARGS": f"--notebooks {notebook}"}
    start = time.perf_counter()
    proc = subprocess.run(limited(["bash", str(ENTRY)]), env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        return seconds, float("nan"), proc.stdout[-500:] + proc.stderr[-500:]
    results = json.loads((autograder / "results" / "results.json").read_text())
    return seconds, results["score"], ""


def measure() -> dict:
    if os.geteuid() != 0:
        sys.exit("needs root: it makes a memory cgroup")
    CGROUP.mkdir(exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for a in course.ASSIGNMENTS:
            autograder = Path(tmp) / a.topic
            autograder.mkdir()
            (autograder / "source").symlink_to(REPO_ROOT, target_is_directory=True)
            subprocess.run(
                [sys.executable, "-m", "tools.grade", "--limits-only", "--out", str(autograder / "limits"),
                 "--workers", "1", "--notebooks", a.notebook],
                cwd=REPO_ROOT, check=True, capture_output=True,
            )  # fmt: skip
            for memory in MEMORIES:
                (CGROUP / "memory.limit_in_bytes").write_text(memory)
                for label, modules in submissions().items():
                    if label != "reference" and a.topic != "linear_classifier":
                        continue  # the same modules as the reference's for this notebook
                    submission = autograder / "submission"
                    subprocess.run(["rm", "-rf", str(submission), str(autograder / "results")], check=True)
                    (submission / "utils").mkdir(parents=True)
                    for topic, source in modules.items():
                        (submission / "utils" / f"{topic}.py").write_text(source)
                    seconds, score, problem = run_entry(autograder, a.notebook)
                    rows.append(
                        {"notebook": a.notebook, "memory": memory, "submission": label, "seconds": seconds,
                         "score": score, "max": a.points, "problem": problem}
                    )  # fmt: skip
                    print(rows[-1], flush=True)
    return {"runs": rows}


def as_markdown(r: dict) -> str:
    lines = [
        f"Measured {r['date']} ({r['machine']}, torch {r['torch']}): one core (taskset) and a memory limit for "
        "the whole run (a cgroup), the limits derived once beforehand as setup.sh does.",
        "",
        "| notebook | memory | submission | seconds | score | fits Gradescope's 10 minutes |",
        "|---|---|---|---|---|---|",
    ]
    for run in r["runs"]:
        killed = "KilledWorker" in run["problem"]
        if run["problem"]:
            score = "killed: out of memory (KilledWorker)" if killed else "failed: " + run["problem"][-100:]
        else:
            score = f"{run['score']:g}/{run['max']:g}"
        fits = "no" if run["problem"] else ("yes" if run["seconds"] < 600 else "no")
        lines.append(
            f"| {run['notebook']} | {run['memory']} | {run['submission']} | {run['seconds']:.0f} | {score} | {fits} |"
        )
    for memory in MEMORIES:
        runs = [run for run in r["runs"] if run["submission"] == "reference" and run["memory"] == memory]
        if runs and not any(run["problem"] for run in runs):
            total = sum(run["seconds"] for run in runs)
            lines += [
                "",
                f"With {memory}, the reference's four assignments, one a run: {total:.0f} s in all.",
            ]
    return "\n".join(lines)


if __name__ == "__main__":
    common.run("gradescope", __doc__.splitlines()[0], measure, as_markdown)
