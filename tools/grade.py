"""Batch grading of a class: `python -m tools.grade SUBMISSIONS_DIR --out grades/`.

A submission is one entry of SUBMISSIONS_DIR named after the student: a folder or a .zip holding their
`<topic>.py` modules (anywhere inside, `utils/<topic>.py` preferred). Notebooks in it are ignored: grading
always runs the canonical notebooks, so edits to graded cells change nothing. A topic left out is graded
as the untouched stub (every question not implemented).

Each submission is graded in its own temporary copy (tools.grading.submission), which holds no
solutions/, tools/ or tests/: the notebooks and their public checks, then the hidden checks. Every process
of a submission runs with one thread and the limits of tools.grading.limits, isolated as far as this
machine allows (tools.grading.isolation: bubblewrap; the batch's first line says how). A submission that crashes,
hangs, exhausts its memory or leaves no valid report costs its own questions, with a message, and
nothing else.

Output, written as each submission finishes: `<out>/<student>.json` (the reports, with each hidden-checked
question's tally), `<out>/grades.csv` (a row per student, a column per question, the total), and
`<out>/gradescope/<student>/results.json` in Gradescope's format. Grades already in <out> are first copied
to `<out>/history/<timestamp>/` (the class report's regrade diff reads them), and `<out>/.batch.json` records
how the batch ran.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from tools.grading.isolation import FIRST_STUDENT_UID, REFERENCE_UID, Sandbox, find_sandbox
from tools.grading.limits import Limits, add_limits, derived_limit
from tools.grading.outputs import start_batch, write_grades_csv, write_result
from tools.grading.submission import grade_submission, time_the_reference
from tools.grading.submissions import find_submissions, read_modules
from utils import course
from utils.results import SubmissionResult


def _assignments(parser: argparse.ArgumentParser, notebooks: list[Path] | None) -> list[course.Assignment]:
    """The assignments whose notebooks are graded (default: all of the course)."""
    if not notebooks:
        return list(course.ASSIGNMENTS)
    chosen = []
    for path in notebooks:
        assignment = course.by_notebook(path.resolve())
        if assignment is None:
            parser.error(f"{path} is not a notebook of the course (utils/course.py)")
        chosen.append(assignment)
    return chosen


def _limits_from_the_reference(
    assignments: list[course.Assignment], limits: Limits, sandbox: Sandbox | None
) -> Limits:
    """The limits with each code cell's own: limit_factor times the reference's time on it, run here as a
    submission is, plus some slack and never below a floor (tools.grading.limits.derived_limit)."""
    start = time.perf_counter()
    times = time_the_reference(assignments, limits, sandbox, REFERENCE_UID)
    cell_limits = {
        notebook: {cell: derived_limit(t, limits.limit_factor) for cell, t in cells.items()}
        for notebook, cells in times.items()
    }
    every = [limit for cells in cell_limits.values() for limit in cells.values()]
    print(
        f"the reference ran in {time.perf_counter() - start:.0f} s: {len(every)} cells limited to "
        f"{min(every):g}-{max(every):g} s ({limits.limit_factor:g}x its time, a question's own limit aside)",
        flush=True,
    )
    return dataclasses.replace(limits, cell_limits=cell_limits)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Grade a folder of submissions, each in its own process and copy."
    )
    parser.add_argument("submissions", type=Path, help="a folder with one folder or .zip per student")
    parser.add_argument("--out", type=Path, default=course.REPO_ROOT / "grades", help="where the grades go")
    parser.add_argument("--notebooks", nargs="*", type=Path, help="default: every notebook of the course")
    add_limits(parser)
    args = parser.parse_args(argv)

    if not args.submissions.is_dir():
        parser.error(f"no folder of submissions at {args.submissions}")
    assignments = _assignments(parser, args.notebooks)
    submissions = find_submissions(args.submissions)
    if not submissions:
        parser.error(f"{args.submissions} holds no submission (a folder or a .zip per student)")
    args.out.mkdir(parents=True, exist_ok=True)
    limits = Limits.from_args(args)
    sandbox, isolation = find_sandbox()
    print(f"{len(submissions)} submissions, {args.workers} workers; {isolation}", flush=True)
    if limits.question_timeout is None:
        try:
            limits = _limits_from_the_reference(assignments, limits, sandbox)
        except RuntimeError as error:
            print(f"cannot derive the time limits: {error}", file=sys.stderr)
            return 1
    start_batch(args.out, sandbox is not None, isolation, limits.cell_limits)  # old grades go to history/

    topics, lock, start = course.topics(), threading.Lock(), time.perf_counter()

    def grade(index: int, student: str, path: Path) -> SubmissionResult:
        try:
            modules, note = read_modules(path, topics), ""
        except (OSError, zipfile.BadZipFile) as error:
            modules, note = {}, f"could not read the submission: {error}"
        result = grade_submission(student, modules, assignments, limits, sandbox, FIRST_STUDENT_UID + index)
        result.note = note or f"modules found: {', '.join(sorted(modules)) or 'none'}"
        with lock:  # results land as each submission finishes: a crash mid-batch keeps them
            write_result(args.out, result)
            write_grades_csv(args.out)
        return result

    with ThreadPoolExecutor(max_workers=max(1, args.workers)) as pool:
        futures = [
            pool.submit(grade, i, student, path) for i, (student, path) in enumerate(submissions.items())
        ]
        for future in as_completed(futures):
            result = future.result()
            print(
                f"  {result.student:<24} {result.earned:g}/{result.max:g}  ({result.seconds:.0f} s)",
                flush=True,
            )
    minutes = (time.perf_counter() - start) / 60
    print(
        f"graded {len(submissions)} submissions in {minutes:.1f} min ({len(submissions) / minutes:.1f} per minute); "
        f"grades in {args.out / 'grades.csv'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
