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

The scorecard streams: each question's line is printed, flushed, as its cell ends, also into a pipe or a
file (Colab's `!python -m utils.autograde`, CI logs); the total follows the last. Long cells show their
progress on stderr: in a terminal one updating line (tqdm), elsewhere a line every PROGRESS_EVERY_S
seconds. Should a streamed line turn out wrong once the notebook ended (a module that does not import,
a cell that took the kernel down after it passed), the whole scorecard follows, as graded.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TextIO

import nbformat
from tqdm import tqdm

from utils import course
from utils.cell_runner import Budget, CellOutcome, run_cells, summarize_traceback
from utils.graded_cells import GradedCell, code_cells, graded_cells, import_cells, imported_utils_modules
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


PROGRESS_EVERY_S = 30.0  # out of a terminal, a line this often for a cell still running
BAR_AFTER_S = 2.0  # in a terminal, a cell that has run this long gets a progress bar


def grade_notebook(
    path: Path,
    root: Path,
    default_timeout: float = QUESTION_TIMEOUT.default,
    cell_limits: Mapping[int, float] | None = None,
    console: Console | None = None,
    budget: Budget | None = None,
) -> tuple[NotebookReport, dict[int, float]]:
    """Grades one notebook whose repository root is root; the report, and how long each code cell ran.
    cell_limits gives code cells (by index) limits of their own; a question's limit in the registry wins.
    With a console, the scorecard is printed there as the cells end, and the progress of long cells. With a
    budget, the cells past its end are not run and are charged a timeout."""
    notebook = nbformat.read(path, as_version=4)
    name = path.relative_to(root).as_posix()
    cells = graded_cells(notebook, course.by_notebook(name))
    timeouts = dict(cell_limits or {})
    timeouts.update((c.cell_num, c.timeout) for c in cells if c.timeout and c.cell_num is not None)
    live = None if console is None else LiveScorecard(console, name, cells, notebook)
    outcomes = run_cells(path, timeouts, default_timeout, live, budget)
    report = _report(root, name, notebook, cells, outcomes)
    if live is not None:
        live.finish(report)
    return report, {} if report.cause else {cell: outcome.seconds for cell, outcome in outcomes.items()}


def _report(
    root: Path,
    name: str,
    notebook: nbformat.NotebookNode,
    cells: list[GradedCell],
    outcomes: dict[int, CellOutcome],
) -> NotebookReport:
    """The notebook's report from its code cells' outcomes."""
    did_not_run = CellOutcome(Status.ERROR, "the cell did not run")
    # Only when a cell that imports utils modules went wrong is it worth a fresh interpreter to tell
    # which module does not import, and why.
    if any(outcomes.get(i, did_not_run).status is not Status.PASSED for i in import_cells(notebook)):
        failures = import_failures(root, imported_utils_modules(notebook))
        if failures:
            cause = "; ".join(f"utils/{m}.py does not import: {why}" for m, why in failures.items())
            message = cause + ". Fix this first: every question needs it."
            return NotebookReport.all_failed(name, cells, Status.ERROR, message, cause)
    missing = CellOutcome(Status.ERROR, "the notebook has no graded cell for this question")
    return NotebookReport(
        name,
        [
            question_result(c, missing if c.cell_num is None else outcomes.get(c.cell_num, did_not_run))
            for c in cells
        ],
    )


def question_result(cell: GradedCell, outcome: CellOutcome) -> QuestionResult:
    """The question of a graded cell as its cell's outcome grades it."""
    parts = part_results(cell, outcome)
    return QuestionResult(cell.id, cell.points, outcome.status, outcome.message, parts=parts)


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
    return f"== {report.notebook}\n" + _scorecard_body(report)


def _scorecard_body(report: NotebookReport) -> str:
    """The scorecard under its header: the cause, if any, each question's lines and the total."""
    lines = [f"   {report.cause}"] if report.cause else []
    width = id_width(report.questions)
    lines += [question_lines(q, width, bool(report.cause)) for q in report.questions]
    lines.append(_total_line(report))
    return "\n".join(lines)


def id_width(questions) -> int:
    """The width of the question column for these questions (anything with an id)."""
    return max((len(q.id) for q in questions), default=10)


def question_lines(q: QuestionResult, width: int, caused: bool = False) -> str:
    """A question's line of the scorecard, and its parts' under it when they tell its failure; caused: the
    report has a cause, which says it all (no message, no parts)."""
    by_parts = told_by_parts(q) and not caused
    message = "" if caused or by_parts else q.message
    lines = [_scorecard_line(q.status, q.id, q.earned, q.points, message, width)]
    for part in q.parts if by_parts else ():
        earned = q.earned_by(part)
        lines.append(_scorecard_line(part.status, f"  {part.id}", earned, part.points, part.message, width))
    return "\n".join(lines)


def _total_line(report: NotebookReport) -> str:
    """The autograded total, and under it the notebook's written questions, which staff grade: their points
    are never in the total or the report."""
    line = f"  total {report.earned:g}/{report.max:g}"
    assignment = course.by_notebook(report.notebook)
    if assignment is not None and assignment.written:
        written = f"{len(assignment.written)} questions, {assignment.written_points:g} pts"
        line += f"\n  written: {written}, graded by staff (python -m utils.submit hands them in)"
    return line


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


class Console:
    """Where the autograder writes: the scorecard on out, each line flushed as it comes, and the progress of
    long cells on err, as one updating tqdm line when err is a terminal, else a line every PROGRESS_EVERY_S
    seconds for a cell still running. A bar is cleared before the next scorecard line, so that the lines
    keep their order, also when both streams go to one log.

    Grading runs pytest, which captures file descriptors 1 and 2 while a cell runs: the console writes
    through copies of the streams' descriptors, which still lead where the streams led. Writing stops on a
    stream that can no longer be written to (a closed pipe): grading goes on, and the reports are written.
    """

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None):
        self.streams = [out or sys.stdout, err or sys.stderr]
        self.out, self.err = self.copies = [_own_copy(stream) for stream in self.streams]
        self.terminal = _isatty(self.err)
        self.dead: set[int] = set()  # id() of the streams that failed
        self.label, self.limit, self.bar, self.next_line = "", 0.0, None, PROGRESS_EVERY_S

    def line(self, text: str) -> None:
        """A line of the scorecard."""
        self.cell_ended()
        self._guarded(self.out, lambda: (self.out.write(text + "\n"), self.out.flush()))

    def cell_started(self, label: str, limit: float) -> None:
        self.cell_ended()
        self.label, self.limit, self.next_line = label, limit, PROGRESS_EVERY_S

    def cell_running(self, seconds: float) -> None:
        seconds = min(seconds, self.limit)
        if self.terminal:
            if self.bar is None and seconds >= BAR_AFTER_S:
                self._guarded(self.err, lambda: self._open_bar(seconds))
            elif self.bar is not None:
                self.bar.n = seconds
                self._guarded(self.err, self.bar.refresh)
        elif seconds >= self.next_line:
            text = f"  ...     {self.label}: {seconds:.0f} s so far, limit {self.limit:g} s\n"
            self._guarded(self.err, lambda: (self.err.write(text), self.err.flush()))
            self.next_line = (seconds // PROGRESS_EVERY_S + 1) * PROGRESS_EVERY_S

    def _open_bar(self, seconds: float) -> None:
        self.bar = tqdm(
            total=self.limit,
            initial=seconds,
            desc=f"  {self.label}",
            file=self.err,
            leave=False,
            ncols=_columns(self.err),  # tqdm measures only sys.stdout and sys.stderr
            bar_format="{desc} |{bar}| {n:.0f}/{total:.0f} s",
        )

    def cell_ended(self) -> None:
        """Clears the bar, if any."""
        if self.bar is not None:
            bar, self.bar = self.bar, None
            self._guarded(self.err, bar.close)

    def close(self) -> None:
        """Clears the bar, flushes the streams and closes the copies."""
        self.cell_ended()
        for stream, copy in zip(self.streams, self.copies):
            self._guarded(copy, copy.flush)
            if copy is not stream:
                with contextlib.suppress(OSError):
                    copy.close()

    def _guarded(self, stream: TextIO, action: Callable[[], object]) -> None:
        if id(stream) in self.dead:
            return
        try:
            action()
        except OSError:  # a closed pipe, a full disk: the scorecard is lost, not the grading
            self.dead.add(id(stream))
            self.bar = None


def _own_copy(stream: TextIO) -> TextIO:
    """A stream writing where stream writes, through a copy of its file descriptor; stream itself when it is
    no plain file (a test's capture, a notebook's output, whose fileno is the kernel's own stdout)."""
    if not isinstance(stream, io.TextIOWrapper):
        return stream
    try:
        fd = stream.fileno()
        stream.flush()
    except (AttributeError, OSError, ValueError):
        return stream
    encoding, errors = getattr(stream, "encoding", None), getattr(stream, "errors", None)
    return os.fdopen(os.dup(fd), "w", encoding=encoding, errors=errors)


def _columns(stream: TextIO) -> int | None:
    """The width of the terminal stream writes to; None when unknown."""
    try:
        return os.get_terminal_size(stream.fileno()).columns or None
    except (AttributeError, OSError, ValueError):
        return None


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, OSError, ValueError):
        return False


class LiveScorecard:
    """Prints a notebook's scorecard on a console as its cells end (a CellWatcher, utils.cell_runner), then
    the rest when grading ended: the questions no line was printed for, and the total; or the whole
    scorecard again when a printed line turned out wrong.

    Once a cell that imports utils modules and is no question's fails, no more lines are printed until the
    end: a module may not import, and every question then reads as that cause."""

    def __init__(self, console: Console, name: str, cells: list[GradedCell], notebook: nbformat.NotebookNode):
        self.console, self.name = console, name
        self.questions = {c.cell_num: c for c in cells if c.cell_num is not None}
        self.width = id_width(cells)
        self.count = len(code_cells(notebook))
        self.setup_imports = set(import_cells(notebook)) - set(self.questions)
        self.printed: dict[str, str] = {}  # {question id: its lines as printed}
        self.held = False
        console.line(f"== {name}")

    def label(self, cell: int) -> str:
        where = f"cell {cell + 1} of {self.count}"
        question = self.questions.get(cell)
        return f"{question.id} ({where})" if question else where

    def started(self, cell: int, limit: float, again: bool) -> None:
        self.console.cell_started(self.label(cell) + (", again in a fresh kernel" if again else ""), limit)

    def running(self, cell: int, seconds: float) -> None:
        self.console.cell_running(seconds)

    def ended(self, cell: int, outcome: CellOutcome, final: bool) -> None:
        self.console.cell_ended()
        if not final:
            return
        if cell in self.setup_imports and outcome.status is not Status.PASSED:
            self.held = True
        question = self.questions.get(cell)
        if question is not None and not self.held:
            text = question_lines(question_result(question, outcome), self.width)
            self.printed[question.id] = text
            self.console.line(text)

    def finish(self, report: NotebookReport) -> None:
        """Prints what the scorecard of the report adds to the lines printed so far."""
        lines = {q.id: question_lines(q, self.width, bool(report.cause)) for q in report.questions}
        if report.cause or any(text != lines.get(q) for q, text in self.printed.items()):
            if self.printed:
                self.console.line(f"   {self.name} as graded (a line above was wrong):")
            self.console.line(_scorecard_body(report))
            return
        for q in report.questions:
            if q.id not in self.printed:
                self.console.line(lines[q.id])
        self.console.line(_total_line(report))


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
    parser.add_argument(
        "--budget",
        type=float,
        help="seconds for the whole run (the batch grader's budget for a submission): a cell still running "
        "then is stopped, and the cells after it are not run; each is charged a timeout that says so",
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
    console = Console()
    budget = None if args.budget is None else Budget.starting_now(args.budget)
    try:
        for path in notebooks:
            name = path.relative_to(course.REPO_ROOT).as_posix()
            own = {int(cell): float(seconds) for cell, seconds in limits.get(name, {}).items()}
            report, times[name] = grade_notebook(root / name, root, args.timeout, own, console, budget)
            (args.report_dir / f"{path.stem}.json").write_text(json.dumps(report.to_json(), indent=2) + "\n")
            total, most = total + report.earned, most + report.max
        if args.cell_times:
            args.cell_times.write_text(json.dumps(times, indent=2) + "\n")
        console.line(f"\nScore: {total:g}/{most:g}  (reports in {args.report_dir})")
    finally:
        console.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    return run(parser, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
