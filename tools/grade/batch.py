"""Batch grading of a class: `python -m tools.grade SUBMISSIONS_DIR --out grades/`.

A submission is one entry of SUBMISSIONS_DIR named after the student: a folder or a .zip holding their
`<topic>.py` modules (anywhere inside, `utils/<topic>.py` preferred). Notebooks in it are never run: grading
always runs the canonical notebooks, so edits to graded cells change nothing; only their written answers are
read, from the JSON (tools.grade.answers), into the student's result for the staff. A topic left out is
graded as the untouched stub (every question not implemented).

Each submission is one Dask task (tools.grade.task), run on an embedded cluster of --workers single-thread
processes, or with --scheduler on a running Dask cluster whose workers hold the same repository
(tools.grade.cluster; docs/instructors/cluster.md has recipes for Slurm and Kubernetes). Each is graded in
its own temporary copy (tools.grade.run), which holds no solutions/, tools/ or tests/: the notebooks and
their public checks, then the hidden checks. Every process of a submission runs with one thread and the
limits of tools.grade.limits, isolated as far as this machine allows (tools.grade.isolation: bubblewrap; the
batch's first line says how). A submission that crashes, hangs, exhausts its memory or leaves no valid
report costs its own questions, with a message, and nothing else.

Output, written atomically as each submission finishes: `<out>/<student>.json` (the reports, with each
hidden-checked question's tally), `<out>/grades.csv` (a row per student, a column per question, the total),
and `<out>/gradescope/<student>/results.json` in Gradescope's format. Grades already in <out> are first
copied to `<out>/history/<timestamp>/` (the class report's regrade diff reads them), and `<out>/.batch.json`
records how the batch ran. Rerunning the command grades only the students it has no current grade for (their
submission or the repository changed, or the batch stopped first); --regrade grades everyone again.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import zipfile
from pathlib import Path

from distributed import Client, KilledWorker, as_completed
from tqdm import tqdm

from tools.grade.answers import read_written
from tools.grade.cluster import ALLOWED_FAILURES, dashboard_available, dask_client
from tools.grade.fingerprint import repository_fingerprint, submission_hash
from tools.grade.isolation import FIRST_STUDENT_UID
from tools.grade.limits import (
    WORKERS,
    Limits,
    add_limits,
    derived_budget,
    derived_limit,
    hung_function_limit,
)
from tools.grade.outputs import BATCH, GradesTable, batch_record, result_paths, start_batch, write_result
from tools.grade.submissions import find_submissions, read_modules
from tools.grade.task import Job, failed_result, grade_job, time_the_reference_job, worker_isolation
from utils import course
from utils.results import MalformedReport, Status, SubmissionResult


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


def _jobs(
    submissions: dict[str, Path], notebooks: tuple[str, ...], limits: Limits, fingerprint: str
) -> list[Job]:
    """A job per student, in the submissions' order (which gives each student a uid of their own)."""
    jobs = []
    for index, (student, path) in enumerate(submissions.items()):
        try:
            modules = read_modules(path, course.topics())
            note = f"modules found: {', '.join(sorted(modules)) or 'none'}"
        except (OSError, zipfile.BadZipFile) as error:
            modules, note = {}, f"could not read the submission: {error}"
        written = tuple(read_written(path, [course.by_notebook(n) for n in notebooks]))
        digest = submission_hash(modules, note, written)
        uid = FIRST_STUDENT_UID + index
        jobs.append(Job(student, uid, modules, note, digest, notebooks, limits, fingerprint, written))
    return jobs


def _graded_before(out: Path) -> dict[str, SubmissionResult]:
    """{student: result} of the grades already in out (a result that does not read is graded again)."""
    results = {}
    for path in result_paths(out):
        try:
            results[path.stem] = SubmissionResult.from_json(json.loads(path.read_text()))
        except (OSError, ValueError, MalformedReport):
            continue
    return results


def _is_current(result: SubmissionResult | None, job: Job) -> bool:
    """The result grades this very submission, with this repository, on these notebooks."""
    return (
        result is not None
        and (result.submission_hash, result.fingerprint) == (job.submission_hash, job.fingerprint)
        and tuple(r.notebook for r in result.notebooks) == job.notebooks
    )


def _derived_limits(
    client: Client, out: Path, notebooks: tuple[str, ...], limits: Limits, fingerprint: str
) -> Limits:
    """The limits derived from the reference's run on the cluster, run as a submission is: each code cell's
    (limit_factor times the reference's time on it, plus some slack, never below a floor) and each student
    function's short limit once it is seen to hang (tools.grade.limits). A batch that resumes one of the same
    repository and factor keeps its limits, so the whole class has the same."""
    record = batch_record(out)
    if (
        record.get("fingerprint") == fingerprint
        and record.get("limit_factor") == limits.limit_factor
        and set(notebooks) <= set(record.get("cell_limits", {}))
        and "function_limits" in record
        and record.get("budget_factor") == limits.budget_factor
        and set(notebooks) <= set(record.get("reference_seconds", {}))
    ):
        print("the time limits are the resumed batch's", flush=True)
        cells = {notebook: record["cell_limits"][notebook] for notebook in notebooks}
        seconds = {notebook: record["reference_seconds"][notebook] for notebook in notebooks}
        return dataclasses.replace(
            limits,
            cell_limits=cells,
            function_limits=record["function_limits"],
            budget=derived_budget(sum(seconds.values()), limits.budget_factor),
            reference_seconds=seconds,
        )
    start = time.perf_counter()
    times = client.submit(time_the_reference_job, notebooks, limits, fingerprint, pure=False).result()
    cell_limits = {
        notebook: {str(cell): derived_limit(t, limits.limit_factor) for cell, t in cells.items()}
        for notebook, cells in times.cells.items()
    }
    function_limits = {f: hung_function_limit(t, limits.limit_factor) for f, t in times.functions.items()}
    budget = derived_budget(sum(times.notebooks.values()), limits.budget_factor)
    every = [limit for cells in cell_limits.values() for limit in cells.values()]
    print(
        f"the reference ran in {time.perf_counter() - start:.0f} s: {len(every)} cells limited to "
        f"{min(every):g}-{max(every):g} s ({limits.limit_factor:g}x its time, a question's own limit aside); "
        f"a function seen to hang gets {limits.limit_factor:g}x the reference's longest call of it; each "
        f"submission {budget:g} s in all ({limits.budget_factor:g}x the reference's grading)",
        flush=True,
    )
    return dataclasses.replace(
        limits,
        cell_limits=cell_limits,
        function_limits=function_limits,
        budget=budget,
        reference_seconds=times.notebooks,
    )


def _outcome(future, job: Job) -> SubmissionResult:
    """The task's result; a task that killed its workers or broke the grader is the student's error."""
    try:
        return future.result()
    except KilledWorker:
        why = (
            f"grading this submission killed {ALLOWED_FAILURES + 1} workers in a row, so it was given up "
            "(does the code exhaust the machine or end its parent process?)"
        )
    except Exception as error:  # a bug of the grader's own: this student's grade, never the batch
        why = f"the grader failed on this submission: {type(error).__name__}: {error}"
    return failed_result(job, Status.ERROR, why)


def _grade_all(client: Client, jobs: list[Job], out: Path, table: GradesTable) -> None:
    """Grades the jobs on the cluster; each result is written as it comes."""
    futures = {
        client.submit(grade_job, job, key=f"grade-{job.student}-{job.submission_hash}", pure=False): job
        for job in jobs
    }
    with tqdm(total=len(jobs), unit="submission", file=sys.stderr, dynamic_ncols=True) as bar:
        for future in as_completed(futures):
            job = futures.pop(future)
            result = _outcome(future, job)
            write_result(out, result)
            table.add(result)
            bar.write(
                f"  {result.student:<24} {result.earned:g}/{result.max:g}  ({result.seconds:.0f} s)",
                file=sys.stdout,
            )
            bar.update()
            sys.stdout.flush()


def _start(
    out: Path, isolation: tuple[bool, str], replacing: list[str], fingerprint: str, limits: Limits
) -> None:
    """Records the batch (how it isolates, the repository, the derived limits), keeping the grades it replaces."""
    start_batch(
        out,
        *isolation,
        replacing=replacing,
        fingerprint=fingerprint,
        limit_factor=limits.limit_factor,
        cell_limits=limits.cell_limits,
        function_limits=limits.function_limits,
        budget_factor=limits.budget_factor,
        reference_seconds=limits.reference_seconds,
    )


def _record_limits_only(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """--limits-only: the derived limits in OUT/.batch.json, as a batch would record them."""
    notebooks = tuple(a.notebook for a in _assignments(parser, args.notebooks))
    args.out.mkdir(parents=True, exist_ok=True)
    limits, fingerprint = Limits.from_args(args), repository_fingerprint()
    with dask_client(args.scheduler, args.workers) as client:
        isolated, isolation = client.submit(worker_isolation, pure=False).result()
        try:
            limits = _derived_limits(client, args.out, notebooks, limits, fingerprint)
        except RuntimeError as error:
            print(f"cannot derive the time limits: {error}", file=sys.stderr)
            return 1
    _start(args.out, (isolated, isolation), [], fingerprint, limits)
    print(f"limits recorded in {args.out / BATCH}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Grade a folder of submissions, each as a Dask task in its own copy."
    )
    parser.add_argument(
        "submissions", type=Path, nargs="?", help="a folder with one folder or .zip per student"
    )
    parser.add_argument("--out", type=Path, default=course.REPO_ROOT / "grades", help="where the grades go")
    parser.add_argument("--notebooks", nargs="*", type=Path, help="default: every notebook of the course")
    parser.add_argument(
        "--scheduler",
        help=f"a running Dask scheduler's address, e.g. tcp://HOST:8786 (default: an embedded cluster of "
        f"{WORKERS.flag} single-thread processes here)",
    )
    parser.add_argument("--regrade", action="store_true", help="grade again the students already graded")
    parser.add_argument(
        "--limits-only",
        action="store_true",
        help="time the reference and record the derived limits in OUT/.batch.json, grading no one: a later "
        "batch into OUT (or with that file copied in) reuses them (Gradescope's setup.sh does this once)",
    )
    add_limits(parser)
    args = parser.parse_args(argv)

    if args.limits_only:
        return _record_limits_only(parser, args)
    if args.submissions is None or not args.submissions.is_dir():
        parser.error(f"no folder of submissions at {args.submissions}")
    notebooks = tuple(a.notebook for a in _assignments(parser, args.notebooks))
    submissions = find_submissions(args.submissions)
    if not submissions:
        parser.error(f"{args.submissions} holds no submission (a folder or a .zip per student)")
    args.out.mkdir(parents=True, exist_ok=True)
    limits, fingerprint = Limits.from_args(args), repository_fingerprint()
    jobs = _jobs(submissions, notebooks, limits, fingerprint)
    before = _graded_before(args.out)
    todo = [job for job in jobs if args.regrade or not _is_current(before.get(job.student), job)]
    kept = len(jobs) - len(todo)
    start = time.perf_counter()
    with dask_client(args.scheduler, args.workers) as client:
        isolated, isolation = client.submit(worker_isolation, pure=False).result()
        where = args.scheduler or f"{args.workers} workers here"
        print(f"{len(submissions)} submissions ({len(todo)} to grade), {where}; {isolation}", flush=True)
        if kept:
            print(
                f"{kept} already graded with this submission and repository: kept (--regrade grades them again)"
            )
        if dashboard_available():
            print(f"progress: {client.dashboard_link}", flush=True)
        if todo and limits.question_timeout is None:
            try:
                limits = _derived_limits(client, args.out, notebooks, limits, fingerprint)
            except RuntimeError as error:
                print(f"cannot derive the time limits: {error}", file=sys.stderr)
                return 1
            todo = [dataclasses.replace(job, limits=limits) for job in todo]
        if todo:  # old grades go to history/
            _start(args.out, (isolated, isolation), [job.student for job in todo], fingerprint, limits)
        table = GradesTable(args.out, list(before.values()))
        table.write()
        _grade_all(client, todo, args.out, table)
    table.write()
    minutes = (time.perf_counter() - start) / 60
    print(
        f"graded {len(todo)} submissions in {minutes:.1f} min ({len(todo) / max(minutes, 1e-9):.1f} per minute); "
        f"grades in {args.out / 'grades.csv'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
