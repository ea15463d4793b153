"""Speed checks' margins: how far the reference sits above each threshold, and the best known mistake below it,
on an idle machine and on a busy one.

    python -m benchmarks.speed_margins --write            # the notebooks' checks
    python -m benchmarks.speed_margins --races --write    # the grader's races

Every speed check counts: the notebooks' (utils.grading.check_speedup, run through the graded cell as the
notebook writes it, on torch's default threads in the caller) and the grader's races
(tools.grade.hidden.engine.race_ratio, through a child's pipe). Each runs ROUNDS times for each submission: the
reference, the differently written correct solution, and mistakes that are right but slow (the
repository's mutants of that kind, and those below: the naive function called, a loop over the samples
or columns left in), first idle and then while two busy processes per core run
(tools/teeth/busy_machine.py). A correct solution's worst ratio and a mistake's best are what a threshold
must sit between.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
from collections.abc import Callable, Iterator

import benchmarks.common as common
from tools.build.self_contained import module_from_source, run_check_cells
from tools.grade.hidden.child import Child
from tools.grade.hidden.engine import race_ratio
from tools.grade.workspace import student_copy
from tools.teeth import material
from tools.teeth.busy_machine import busy_machine
from tools.teeth.slow_but_right import SPEED_QUESTIONS, submissions
from utils import grading
from utils.course import by_topic

ROUNDS = 5
RACED_TOPIC = "linear_classifier"  # the grader races these two losses against its own loop


@contextlib.contextmanager
def recorded_speedups() -> Iterator[list[tuple[str, float, float]]]:
    """Every check_speedup of the notebook checks records (name, speedup, threshold) and never fails."""
    found, original = [], grading.check_speedup

    def recording(name, fast, slow, min_speedup, hint=None, **options):
        speedup = original(name, fast, slow, 0.0, hint, **options)
        found.append((name, speedup, min_speedup))
        return speedup

    checks = [importlib.import_module(f"utils.checks.{topic}") for topic in SPEED_QUESTIONS]
    with contextlib.ExitStack() as stack:
        for module in checks:
            stack.callback(setattr, module, "check_speedup", module.check_speedup)
            module.check_speedup = recording
        yield found


def _entry(slowed: str | None, threshold: float) -> dict:
    return {"correct": slowed is None, "threshold": threshold, "ratios": []}


def notebook_ratios() -> dict[tuple[str, str], dict]:
    """{(check, submission): {"correct", "threshold", "ratios"}} over ROUNDS runs of each speed cell, for the
    correct solutions and the mistakes that slow that check's function."""
    found: dict[tuple[str, str], dict] = {}
    for topic, questions in SPEED_QUESTIONS.items():
        for label, (source, slowed) in submissions(topic).items():
            module = module_from_source(topic, source)
            for _ in range(ROUNDS):
                with recorded_speedups() as speedups:
                    run_check_cells(by_topic(topic), module, questions=questions)
                for name, speedup, threshold in speedups:
                    if slowed in (None, name):
                        found.setdefault((name, label), _entry(slowed, threshold))["ratios"].append(speedup)
    return found


def race_ratios() -> dict[tuple[str, str], dict]:
    """The same for the grader's races, each submission in a child of its own copy."""
    hidden, found = material(RACED_TOPIC), {}
    for label, (source, slowed) in submissions(RACED_TOPIC).items():
        with student_copy({RACED_TOPIC: source}) as copy:
            child = Child(RACED_TOPIC, copy)
            try:
                for case in hidden.CASES:
                    if case.speed is None or slowed not in (None, case.function):
                        continue
                    entry = found[(f"race: {case.function}", label)] = _entry(slowed, case.speed.min_ratio)
                    entry["ratios"] = [
                        race_ratio(child, RACED_TOPIC, case, timeout=120) for _ in range(ROUNDS)
                    ]
            finally:
                child.close()
    return found


def measure(ratios: Callable[[], dict[tuple[str, str], dict]]) -> dict:
    rows = {}
    for condition in ("idle", "busy"):
        with busy_machine() if condition == "busy" else contextlib.nullcontext():
            for (check, label), entry in ratios().items():
                rows.setdefault(f"{check} | {label}", {"check": check, "submission": label, **entry})
                rows[f"{check} | {label}"][condition] = entry["ratios"]
    for row in rows.values():
        del row["ratios"]
    return {"rounds": ROUNDS, "busy_processes_per_core": 2, "rows": list(rows.values())}


def as_markdown(r: dict) -> str:
    lines = [
        f"Measured {r['date']} on {r['machine']} (torch {r['torch']}); {r['rounds']} runs each, idle and with "
        f"{r['busy_processes_per_core']} busy processes per core. Correct solutions: their worst ratio; "
        "mistakes: their best.",
        "",
        "| check | threshold | submission | idle | busy |",
        "|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        pick = min if row["correct"] else max
        idle, busy = pick(row["idle"]), pick(row["busy"])
        kind = "" if row["correct"] else " (mistake)"
        lines.append(
            f"| {row['check']} | {row['threshold']:g}x | {row['submission']}{kind} | {idle:.1f}x | {busy:.1f}x |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--races", action="store_true", help="the grader's races instead of the notebooks' checks"
    )
    args, rest = parser.parse_known_args()
    name, ratios = ("race_margins", race_ratios) if args.races else ("speed_margins", notebook_ratios)
    common.run(name, __doc__.splitlines()[0], lambda: measure(ratios), as_markdown, rest)
