"""The autograder's scorecard streams: each question's line is printed, flushed, as its cell ends, also into
a pipe (Colab's `!python -m utils.autograde`, CI logs), and the lines with the total read as the scorecard
always did; long cells show their progress on stderr, as a bar in a terminal and a line every
PROGRESS_EVERY_S seconds elsewhere; and no graded cell ends by displaying a bare value."""

from __future__ import annotations

import ast
import importlib
import inspect
import io
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from tests.test_autograde_crash import make_repository
from utils import autograde, course
from utils.autograde import Console, LiveScorecard, format_scorecard
from utils.cell_runner import CellOutcome
from utils.graded_cells import GradedCell, graded_cells
from utils.results import NotebookReport, QuestionResult, Status

SCORECARD_LINE = re.compile(r"^  \[\s*(ok|FAIL|TODO|ERROR|TIME)\] (\w+)")


def probe_notebook(path: Path, release: Path) -> None:
    """A notebook whose first question is quick and whose next cell waits for the release file to appear."""
    cells = [
        "import os, time",
        "# GRADED: first (1 pts)\nassert 6 * 7 == 42",
        f"deadline = time.time() + 90\nwhile not os.path.exists({str(release)!r}) and time.time() < deadline:\n"
        "    time.sleep(0.1)",
        f"# GRADED: second (2 pts)\nassert os.path.exists({str(release)!r}), 'the test never released the cell'",
        "# GRADED: third (1 pts)\nraise NotImplementedError('third: not implemented yet')",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    nbformat.write(notebook, path)


def test_a_questions_line_comes_through_a_pipe_as_its_cell_ends(tmp_path):
    notebook = make_repository(tmp_path / "repo")  # the autograder's files; the probe replaces the notebook
    release, reports = tmp_path / "release", tmp_path / "reports"
    probe_notebook(notebook, release)
    command = [sys.executable, "-m", "utils.autograde", str(notebook), "--report-dir", str(reports)]
    with open(tmp_path / "stderr", "w+") as stderr:
        proc = subprocess.Popen(
            command,
            cwd=notebook.parents[1],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            start_new_session=True,
        )
        lines: queue.Queue[str | None] = queue.Queue()

        def read() -> None:
            for line in proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=read, daemon=True).start()
        received = []
        try:
            deadline = time.monotonic() + 60
            while not any(SCORECARD_LINE.match(line) for line in received):
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
                assert line is not None, f"the autograder ended first:\n{''.join(received)}"
                received.append(line)
            # The next cell waits for the release file: the notebook has not ended.
            assert proc.poll() is None
            assert SCORECARD_LINE.match(received[-1]).groups() == ("ok", "first"), received
            assert received[0] == f"== {notebook.relative_to(notebook.parents[1]).as_posix()}\n"
            release.touch()
            assert proc.wait(timeout=60) == 0
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            stderr.seek(0)
            log = stderr.read()
    while (line := lines.get(timeout=10)) is not None:
        received.append(line)
    report = NotebookReport.from_json(json.loads((reports / "crash.json").read_text()))
    assert [q.status for q in report.questions] == [Status.PASSED, Status.PASSED, Status.NOT_IMPLEMENTED]
    # The streamed lines and the total are the scorecard, as it always read.
    scorecard = "".join(received)
    assert scorecard.startswith(format_scorecard(report) + "\n\nScore: 3/4"), scorecard + log


def console(terminal: bool = False) -> tuple[Console, io.StringIO]:
    """A console whose out and err are one stream, as in a log of both (or a terminal)."""

    class Stream(io.StringIO):
        def isatty(self) -> bool:
            return terminal

    stream = Stream()
    return Console(stream, stream), stream


def test_out_of_a_terminal_a_running_cell_gets_a_line_every_progress_interval():
    shown, stream = console()
    shown.cell_started("cell 3 of 9", 300)
    for seconds in range(1, 95):
        shown.cell_running(seconds + 0.5)
    shown.cell_ended()
    shown.line("  [   ok] next")
    every = autograde.PROGRESS_EVERY_S
    assert stream.getvalue().splitlines() == [
        f"  ...     cell 3 of 9: {every * k + 0.5:.0f} s so far, limit 300 s" for k in (1, 2, 3)
    ] + ["  [   ok] next"]


def test_in_a_terminal_a_bar_shows_a_long_cell_and_is_cleared_before_the_next_line():
    shown, stream = console(terminal=True)
    shown.cell_started("quick (cell 2 of 9)", 300)
    shown.cell_running(autograde.BAR_AFTER_S / 2)
    shown.line("  [   ok] quick")
    assert stream.getvalue() == "  [   ok] quick\n"  # a quick cell shows no bar
    shown.cell_started("train (cell 3 of 9)", 600)
    for seconds in (5, 6, 7.2):
        shown.cell_running(seconds)
    shown.line("  [ FAIL] train")
    shown.close()
    text = stream.getvalue()
    assert "train (cell 3 of 9) |" in text and "7/600 s" in text
    bar, line = text.rsplit("\r", 1)[0], text.rsplit("\r", 1)[1]
    assert line == "  [ FAIL] train\n" and "[ FAIL]" not in bar  # the bar was cleared first


def test_writing_to_a_closed_pipe_does_not_stop_grading():
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader went away, as `python -m utils.autograde | head -1` does
    with open(write_end, "w") as pipe:
        piped = Console(pipe, io.StringIO())
        piped.line("  [   ok] first")  # BrokenPipeError, which Python raises (it ignores SIGPIPE)
        piped.line("  [   ok] second")
        piped.close()


def graded(ids: list[tuple[str, int]]) -> list[GradedCell]:
    return [GradedCell(question_id, 1.0, cell) for question_id, cell in ids]


def live(cells: list[GradedCell], sources: list[str]) -> tuple[LiveScorecard, io.StringIO]:
    shown, stream = console()
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    return LiveScorecard(shown, "nb.ipynb", cells, notebook), stream


SOURCES = ["from utils.course import ASSIGNMENTS", "# GRADED: a (1 pts)", "x = 1", "# GRADED: b (1 pts)"]


def test_streamed_lines_with_the_rest_and_the_total_are_the_scorecard():
    cells = graded([("a", 1), ("b", 3), ("never", None)])
    scorecard, stream = live(cells, SOURCES)
    outcomes = {0: CellOutcome(Status.PASSED), 1: CellOutcome(Status.FAILED, "wrong\nHint: fix it")}
    outcomes |= {2: CellOutcome(Status.PASSED), 3: CellOutcome(Status.PASSED)}
    for cell, outcome in outcomes.items():
        scorecard.started(cell, 60, again=False)
        scorecard.ended(cell, outcome, final=True)
        if cell == 1:
            assert stream.getvalue().splitlines()[-2].startswith("  [ FAIL] a")  # streamed, with its message
    missing = CellOutcome(Status.ERROR, "no cell")
    report = NotebookReport(
        "nb.ipynb", [autograde.question_result(c, outcomes.get(c.cell_num, missing)) for c in cells]
    )
    scorecard.finish(report)
    assert stream.getvalue() == format_scorecard(report) + "\n"


def test_a_line_that_turns_out_wrong_is_followed_by_the_scorecard_as_graded():
    cells = graded([("a", 1), ("b", 3)])
    scorecard, stream = live(cells, SOURCES)
    for cell in range(4):
        scorecard.ended(cell, CellOutcome(Status.PASSED), final=True)
    report = NotebookReport(
        "nb.ipynb", [QuestionResult("a", 1.0, Status.PASSED), QuestionResult("b", 1.0, Status.ERROR, "died")]
    )
    scorecard.finish(report)
    text = stream.getvalue()
    assert text.endswith(format_scorecard(report).split("\n", 1)[1] + "\n")
    assert "as graded (a line above was wrong)" in text


def test_after_a_failed_setup_import_the_cause_is_printed_once_with_the_scorecard():
    cells = graded([("a", 1), ("b", 3)])
    scorecard, stream = live(cells, SOURCES)
    scorecard.ended(0, CellOutcome(Status.ERROR, "SyntaxError: invalid syntax"), final=True)
    for cell in range(1, 4):
        scorecard.ended(cell, CellOutcome(Status.ERROR, "NameError: name 'f' is not defined"), final=True)
    cause = "utils/x.py does not import: SyntaxError: invalid syntax"
    report = NotebookReport.all_failed("nb.ipynb", cells, Status.ERROR, cause + ". Fix this first.", cause)
    scorecard.finish(report)
    assert stream.getvalue() == format_scorecard(report) + "\n"  # no NameError line came first


def test_cells_that_run_again_or_will_are_not_printed():
    cells = graded([("a", 1), ("b", 3)])
    scorecard, stream = live(cells, SOURCES)
    scorecard.ended(1, CellOutcome(Status.PASSED), final=False)
    scorecard.ended(3, CellOutcome(Status.ERROR, "kernel gone", kernel_gone=True), final=False)
    assert stream.getvalue() == "== nb.ipynb\n"


def returns_a_value(topic: str, call: ast.expr) -> bool:
    """Whether the expression calls a check of the topic that returns something (which the cell would show)."""
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
        return False
    check = getattr(importlib.import_module(f"utils.checks.{topic}"), call.func.id, None)
    return check is not None and inspect.signature(check).return_annotation not in ("None", None)


@pytest.mark.parametrize("assignment", course.ASSIGNMENTS, ids=lambda a: a.topic)
def test_no_graded_cell_ends_by_displaying_what_its_check_returns(assignment):
    notebook = nbformat.read(course.REPO_ROOT / assignment.notebook, as_version=4)
    cells = [c for c in notebook.cells if c.cell_type == "code"]
    for question in graded_cells(notebook, assignment):
        source = cells[question.cell_num].source
        last = ast.parse(source).body[-1]
        shown = isinstance(last, ast.Expr) and not source.rstrip().endswith(";")
        assert not (shown and returns_a_value(assignment.topic, last.value)), (
            f"{question.id}: its cell displays the value its check returns; end the line with ';'"
        )
