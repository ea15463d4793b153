"""What a hang costs its submission: assignment 1 graded by tools.grade with a busy loop at the start of each
graded function in turn, against the reference graded in the same batch, and the questions each loses
against those lost when the same function raises instead (what a hang must cost, and no more).

    python -m benchmarks.hangs --write         # 21 submissions on 2 workers

A function seen to hang is stopped at a short limit on every later call (utils/watch.py), so a hang should
cost about one cell's limit, not one limit per cell and hidden check that calls it.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import benchmarks.common as common
from benchmarks.grading import grade
from tools.grade.outputs import result_paths
from tools.grade.workspace import reference_source
from tools.teeth.mutation import at_solution_start, solution_functions

TOPIC = "linear_classifier"
SPINS, RAISES = "while True:\n    pass\n", "raise RuntimeError('broken on purpose')\n"


def class_of_hangs() -> dict[str, str]:
    """{student: module}: the reference, and for each graded function one that spins and one that raises."""
    reference = reference_source(TOPIC)
    students = {"reference": reference}
    for function in solution_functions(reference):
        students[f"spins_in_{function}"] = at_solution_start(reference, function, SPINS)
        students[f"raises_in_{function}"] = at_solution_start(reference, function, RAISES)
    return students


def measure() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        submissions, out = Path(tmp) / "submissions", Path(tmp) / "grades"
        for student, source in class_of_hangs().items():
            (submissions / student / "utils").mkdir(parents=True)
            (submissions / student / "utils" / f"{TOPIC}.py").write_text(source)
        start = time.perf_counter()
        grade(submissions, out, "--workers", "2", topic=TOPIC)
        wall = time.perf_counter() - start
        results = {path.stem: json.loads(path.read_text()) for path in result_paths(out)}
    lost = {
        student: sorted(q["id"] for n in r["notebooks"] for q in n["questions"] if q["status"] != "passed")
        for student, r in results.items()
    }
    reference_seconds = results["reference"]["seconds"]
    rows = []
    for function in solution_functions(reference_source(TOPIC)):
        spins, raises = f"spins_in_{function}", f"raises_in_{function}"
        rows.append(
            {
                "function": function,
                "seconds": results[spins]["seconds"],
                "ratio": results[spins]["seconds"] / reference_seconds,
                "points": results[spins]["earned"],
                "lost": lost[spins],
                "same_as_raising": lost[spins] == lost[raises],
            }
        )
    return {"wall_seconds": wall, "reference_seconds": reference_seconds, "hangs": rows}


def as_markdown(r: dict) -> str:
    lines = [
        f"Measured {r['date']} ({r['machine']}, torch {r['torch']}), 21 submissions on 2 workers in "
        f"{r['wall_seconds']:.0f} s; the reference took {r['reference_seconds']:.0f} s in the same batch.",
        "",
        "| function that spins | seconds | x reference | points | questions lost | same as when it raises |",
        "|---|---|---|---|---|---|",
    ]
    for h in r["hangs"]:
        lines.append(
            f"| {h['function']} | {h['seconds']:.0f} | {h['ratio']:.2f} | {h['points']:g}/29 | "
            f"{', '.join(h['lost'])} | {'yes' if h['same_as_raising'] else 'NO'} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    common.run("hangs", __doc__.splitlines()[0], measure, as_markdown)
