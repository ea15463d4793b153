"""The autograder: runs notebooks under nbval and turns their graded cells into a scorecard.

    python -m utils.autograde                                  # every notebook of the course
    python -m utils.autograde assignments/01_linear_classifiers.ipynb

Each question ends as passed, failed (an AssertionError from a check), not_implemented
(NotImplementedError), error (any other exception, or a cell that ended the kernel) or timeout. The
questions, their points, parts and time limits are the course registry's (utils/course.py); a question
with parts earns the points of the parts its check passed (utils.grading.Parts displays them in the
cell's output), and the scorecard lists them under it when one failed. A JSON report per
notebook lands in reports/<notebook>.json (utils/results.py). The exit status is 0 whenever grading
ran, whatever the score. Instructors grade the reference solutions with `python -m tools.grade.reference`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import nbformat

from utils import course
from utils.cell_runner import CellOutcome, run_cells, summarize_traceback
from utils.graded_cells import GradedCell, graded_cells, import_cells, imported_utils_modules
from utils.results import NotebookReport, PartResult, QuestionResult, Status
from utils.settings import QUESTION_TIMEOUT

# Imports each module in turn, announcing it first, and prints one JSON line {module: traceback}.
_IMPORT_PROBE = """
import importlib, json, sys, traceback
failures = {}
for module in sys.argv[1:]:
    print("importing", module, flush=True)
    try:
        importlib.import_module("utils." + module)
    except BaseException:
        failures[module] = traceback.format_exc()
print(json.dumps(failures))
"""


def import_failures(root: Path, modules: list[str], timeout: float = 120) -> dict[str, str]:
    """{module: why it does not import}, all tried in one fresh interpreter from root."""
    if not modules:
        return {}
    try:
        command = [sys.executable, "-c", _IMPORT_PROBE, *modules]
        proc = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=timeout)
        lines, ended = proc.stdout.splitlines(), True
    except subprocess.TimeoutExpired as err:
        out = err.stdout.decode() if isinstance(err.stdout, bytes) else (err.stdout or "")
        lines, ended = out.splitlines(), False
    if ended and lines and lines[-1].startswith("{"):
        return {m: summarize_traceback(tb, m) for m, tb in json.loads(lines[-1]).items()}
    # The probe never reached its summary: blame the module it was importing.
    started = [line.split()[-1] for line in lines if line.startswith("importing ")]
    culprit = started[-1] if started else modules[0]
    if not ended:
        return {culprit: f"importing it did not finish within {timeout:g} s (is there work at module level?)"}
    detail = proc.stderr.strip()[-300:]
    return {
        culprit: f"importing it ended the interpreter (exit code {proc.returncode})"
        + (f": {detail}" if detail else "")
    }


def grade_notebook(
    path: Path,
    root: Path,
    default_timeout: float = QUESTION_TIMEOUT.default,
    cell_limits: Mapping[int, float] | None = None,
) -> tuple[NotebookReport, dict[int, float]]:
    """Grades one notebook whose repository root is root; the report, and how long each code cell ran.
    cell_limits gives code cells (by index) limits of their own; a question's limit in the registry wins."""
    notebook = nbformat.read(path, as_version=4)
    name = path.relative_to(root).as_posix()
    cells = graded_cells(notebook, course.by_notebook(name))
    timeouts = dict(cell_limits or {})
    timeouts.update((c.cell_num, c.timeout) for c in cells if c.timeout and c.cell_num is not None)
    outcomes = run_cells(path, timeouts, default_timeout)
    did_not_run = CellOutcome(Status.ERROR, "the cell did not run")
    # Only when a cell that imports utils modules went wrong is it worth a fresh interpreter to tell
    # which module does not import, and why.
    if any(outcomes.get(i, did_not_run).status is not Status.PASSED for i in import_cells(notebook)):
        failures = import_failures(root, imported_utils_modules(notebook))
        if failures:
            cause = "; ".join(f"utils/{m}.py does not import: {why}" for m, why in failures.items())
            message = cause + ". Fix this first: every question needs it."
            return NotebookReport.all_failed(name, cells, Status.ERROR, message, cause), {}
    missing = CellOutcome(Status.ERROR, "the notebook has no graded cell for this question")
    results = []
    for cell in cells:
        outcome = missing if cell.cell_num is None else outcomes.get(cell.cell_num, did_not_run)
        parts = part_results(cell, outcome)
        results.append(QuestionResult(cell.id, cell.points, outcome.status, outcome.message, parts=parts))
    return NotebookReport(name, results), {cell: outcome.seconds for cell, outcome in outcomes.items()}


def part_results(cell: GradedCell, outcome: CellOutcome) -> list[PartResult]:
    """The registry's parts of the cell's question as its check's bundle reports them. Without a bundle (the
    check did not finish: a timeout, a missing function) every part shares the question's outcome; a part
    the bundle leaves out is an error."""
    reported = reported_parts(outcome.parts, cell.id)
    if reported is None:
        return [PartResult(p.id, p.points, outcome.status, outcome.message) for p in cell.parts]
    left_out = (Status.ERROR, "the check did not grade this part")
    return [PartResult(p.id, p.points, *reported.get(p.id, left_out)) for p in cell.parts]


def reported_parts(bundle, question_id: str) -> dict[str, tuple[Status, str]] | None:
    """{part id: (status, message)} from a parts bundle of this question (utils.grading.Parts), or None
    when bundle is not one (the kernel runs student code: the bundle is checked, not trusted)."""
    try:
        if bundle["question"] != question_id:
            return None
        return {str(p["id"]): (Status(p["status"]), str(p["message"])) for p in bundle["parts"]}
    except (KeyError, TypeError, ValueError):
        return None


def format_scorecard(report: NotebookReport) -> str:
    """The human-readable scorecard of one report."""
    lines = [f"== {report.notebook}"]
    if report.cause:
        lines.append(f"   {report.cause}")
    width = max((len(q.id) for q in report.questions), default=10)
    for q in report.questions:
        by_parts = told_by_parts(q) and not report.cause
        message = "" if report.cause or by_parts else q.message
        lines.append(_scorecard_line(q.status, q.id, q.earned, q.points, message, width))
        for part in q.parts if by_parts else ():
            earned = q.earned_by(part)
            lines.append(
                _scorecard_line(part.status, f"  {part.id}", earned, part.points, part.message, width)
            )
    lines.append(f"  total {report.earned:g}/{report.max:g}")
    return "\n".join(lines)


def told_by_parts(q: QuestionResult) -> bool:
    """Whether the question's parts tell its failure: a part failed, and not merely with the question's
    own outcome (as when the check never reached its parts)."""
    return bool(q.failed_parts) and any((p.status, p.message) != (q.status, q.message) for p in q.parts)


def _scorecard_line(status: Status, name: str, earned: float, points: float, message: str, width: int) -> str:
    line = f"  [{status.mark:>5}] {name:<{width}}  {f'{earned:g}/{points:g}':>7}"
    if message:
        first, *rest = message.splitlines()
        line += f"  {first}" + "".join(f"\n{'':>{width + 21}}{more}" for more in rest)
    return line


def build_parser(description: str = "Grade notebooks and print a scorecard.") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook of the course")
    parser.add_argument(
        "--report-dir", type=Path, default=course.REPO_ROOT / "reports", help="where the JSON reports go"
    )
    QUESTION_TIMEOUT.add_to(parser)
    parser.add_argument(
        "--cell-limits",
        type=Path,
        help="a JSON file {notebook: {code cell index: seconds}} of limits that replace --timeout for those "
        "cells (the batch grader derives them from the reference's times)",
    )
    parser.add_argument(
        "--cell-times", type=Path, help="write how long each code cell ran to this JSON file, in that shape"
    )
    return parser


def run(parser: argparse.ArgumentParser, args: argparse.Namespace, root: Path = course.REPO_ROOT) -> int:
    """Grades args.notebooks (paths in this repository) in the copy of it at root; prints the scorecards."""
    notebooks = [p.resolve() for p in args.notebooks] or [
        course.REPO_ROOT / a.notebook for a in course.ASSIGNMENTS
    ]
    for path in notebooks:
        if not path.is_file():
            parser.error(f"no notebook at {path}")
        if not path.is_relative_to(course.REPO_ROOT):
            parser.error(f"{path} is not inside the repository {course.REPO_ROOT}")
    args.report_dir.mkdir(parents=True, exist_ok=True)
    limits = json.loads(args.cell_limits.read_text()) if args.cell_limits else {}
    total, most, times = 0.0, 0.0, {}
    for path in notebooks:
        name = path.relative_to(course.REPO_ROOT).as_posix()
        own = {int(cell): float(seconds) for cell, seconds in limits.get(name, {}).items()}
        report, times[name] = grade_notebook(root / name, root, args.timeout, own)
        (args.report_dir / f"{path.stem}.json").write_text(json.dumps(report.to_json(), indent=2) + "\n")
        print(format_scorecard(report), flush=True)
        total, most = total + report.earned, most + report.max
    if args.cell_times:
        args.cell_times.write_text(json.dumps(times, indent=2) + "\n")
    print(f"\nScore: {total:g}/{most:g}  (reports in {args.report_dir})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    return run(parser, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
