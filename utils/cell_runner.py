"""Runs a notebook's code cells under nbval (lax mode) and tells how each one ended.

How a cell ended is read from facts the runner records while nbval waits on the kernel (no reply
within the cell's limit, no output after the reply, the kernel process gone) and from the exception
type the kernel reports, never from nbval's message text. A cell that ends the kernel (os._exit, a
crash) is an error, and the cells after it run again in a fresh kernel without it.

A CellWatcher, when given, hears as each cell starts, while it runs (about once a second) and as it
ends: the autograder prints the scorecard and the progress of long cells from there, while the
notebook runs.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from queue import Empty
from typing import Protocol

import nbformat
import pytest

from utils.results import PARTS_MIME, Status, status_of

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
KERNEL_DIED = (
    "the kernel died while running this cell (did the code call os._exit/exit, crash, or run out of memory?)"
)
BUDGET_SPENT = "not run: the submission's time budget of {budget:g} s ran out before this cell"
BUDGET_RAN_OUT = "the submission's time budget of {budget:g} s ran out while this cell ran"
KERNEL_GONE = "the notebook's kernel died (an earlier cell may have crashed or exited it)"
LIVENESS_POLL_S = 1.0  # how long a dead kernel can go unnoticed


@dataclass
class CellOutcome:
    status: Status
    message: str = ""
    kernel_gone: bool = False  # the cell could not run: an earlier cell had ended the kernel
    seconds: float = 0.0  # how long the cell ran
    parts: object = None  # the last parts bundle the cell displayed (utils.grading.Parts), unchecked


@dataclass
class CellFacts:
    """What happened while nbval waited on the kernel for one cell."""

    dead_at_start: bool = False
    reply_timed_out: bool = False  # no reply within the cell's limit: nbval interrupted it
    output_timed_out: bool = False  # replied, then no output came: the kernel went away
    kernel_died: bool = False  # the kernel process ended while the cell waited for it


class CellWatcher(Protocol):
    """Hears about the cells as they run (code cells by index, as nbval counts them)."""

    def started(self, cell: int, limit: float, again: bool) -> None:
        """The cell started, with limit seconds to run; again: it already ran once (a rerun in a fresh
        kernel after a later cell ended the kernel) and its outcome stands from then."""

    def running(self, cell: int, seconds: float) -> None:
        """The cell has run this long and has not finished (about once a second)."""

    def ended(self, cell: int, outcome: CellOutcome, final: bool) -> None:
        """The cell ended. final: this outcome is the one run_cells returns for it, but for the rare cell
        that passed and then took the kernel down behind it (run_cells makes it an error). Not final: the
        cell ran again (already ended) or will run again (it found the kernel gone)."""


class KernelDied(RuntimeError):
    """The kernel process ended while a cell was waiting for it."""


def summarize_traceback(text: str, module: str | None = None) -> str:
    """The exception line of a traceback, with the student-module line it came from when there is one."""
    lines = [line for line in ANSI_ESCAPE.sub("", text).strip().splitlines() if line.strip()]
    if not lines:
        return "unknown error"
    where = ""
    pattern = re.compile(rf"(utils[/\\]{module or '[a-z_]+'}\.py)\"?(?:, line |:)(\d+)")
    for line in lines:
        match = pattern.search(line)
        if match:
            where = f" (at {match.group(1)} line {match.group(2)})"
    return lines[-1].strip() + where


def _watched(kernel, facts: CellFacts, tick: Callable[[], None] = lambda: None):
    """kernel.get_message in short polls that record which wait ran out, and raise KernelDied as soon as
    the kernel process is gone; tick is called after each poll that found no message (while a cell runs,
    nbval waits for its reply: about once a second).

    nbval waits for a cell's reply (the shell channel) and then its output (iopub) in single blocking
    reads of the whole timeout, and never looks at the process: a kernel that exits or crashes costs the
    full timeout. Every one of those reads goes through RunningKernel.get_message, so cutting the read
    into short polls with a liveness check between them notices a death within a second and otherwise
    leaves nbval's behaviour, timeouts included, as it was. (A watcher thread could not unblock the read.)
    """
    read = kernel.get_message

    def get_message(stream, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            try:
                poll = LIVENESS_POLL_S if left is None else max(0.0, min(left, LIVENESS_POLL_S))
                return read(stream, timeout=poll)
            except Empty:
                if left is not None and left <= LIVENESS_POLL_S:
                    if stream == "shell":
                        facts.reply_timed_out = True
                    else:
                        facts.output_timed_out = True
                    raise
                if not kernel.is_alive():
                    facts.kernel_died = True
                    kernel.stop()  # closes the channels and removes the connection file
                    raise KernelDied(KERNEL_DIED) from None
                tick()

    return get_message


def classify(facts: CellFacts, error: dict | None, passed: bool, timeout: float) -> CellOutcome:
    """A cell's outcome from the facts of its run and the error output the kernel sent, if any."""
    if facts.kernel_died:
        return CellOutcome(Status.ERROR, KERNEL_DIED)
    if facts.reply_timed_out:
        return CellOutcome(Status.TIMEOUT, f"did not finish within {timeout:g} s")
    if facts.dead_at_start:
        return CellOutcome(Status.ERROR, KERNEL_GONE, kernel_gone=True)
    if facts.output_timed_out:
        return CellOutcome(Status.ERROR, KERNEL_GONE)
    if passed:
        return CellOutcome(Status.PASSED)
    if error is None:
        return CellOutcome(Status.ERROR, "the cell failed without an error from the kernel")
    evalue = ANSI_ESCAPE.sub("", error["evalue"])
    return CellOutcome(*status_of(error["ename"], evalue, summarize_traceback("\n".join(error["traceback"]))))


def parts_bundle(outputs: list) -> object:
    """The data of the last parts bundle among a cell's outputs, or None."""
    bundles = [out["data"][PARTS_MIME] for out in outputs if PARTS_MIME in (out.get("data") or {})]
    return bundles[-1] if bundles else None


class _CellRecorder:
    """A pytest plugin that sets each cell's timeout, watches the kernel, and records how each cell ended;
    it tells the watcher, if any. The cells up to ran_before ran before (this run is a rerun)."""

    def __init__(
        self,
        timeouts: Mapping[int, float],
        default_timeout: float,
        watcher: CellWatcher | None = None,
        ran_before: int = -1,
        budget: Budget | None = None,
    ):
        self.timeouts, self.default_timeout = timeouts, default_timeout
        self.watcher, self.ran_before, self.budget = watcher, ran_before, budget
        self.cut_by_budget: set[int] = set()  # cells whose limit was the budget's end
        self.facts: dict[int, CellFacts] = {}
        self.outcomes: dict[int, CellOutcome] = {}
        self.seconds: dict[int, float] = {}

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item):
        """A cell past the budget is not run: it is charged a timeout that says so."""
        if self.budget is not None and self.budget.left() <= 0:
            outcome = CellOutcome(Status.TIMEOUT, BUDGET_SPENT.format(budget=self.budget.seconds))
            self.outcomes[item.cell_num] = outcome
            if self.watcher is not None:
                self.watcher.ended(item.cell_num, outcome, item.cell_num > self.ran_before)
            pytest.skip("the time budget ran out")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        cell, watcher = item.cell_num, self.watcher
        limit = self.timeouts.get(cell, self.default_timeout)
        if self.budget is not None and self.budget.left() < limit:
            limit = max(self.budget.left(), 0.1)
            self.cut_by_budget.add(cell)
        # nbval reads the timeout from the options for every cell it runs.
        item.config.option.nbval_cell_timeout = limit
        kernel = item.parent.kernel
        facts = self.facts[cell] = CellFacts(dead_at_start=not kernel.is_alive())
        start = time.perf_counter()
        if watcher is None:
            kernel.get_message = _watched(kernel, facts)
        else:
            watcher.started(cell, limit, again=cell <= self.ran_before)
            kernel.get_message = _watched(
                kernel, facts, lambda: watcher.running(cell, time.perf_counter() - start)
            )
        try:
            yield
        finally:
            self.seconds[item.cell_num] = time.perf_counter() - start
            del kernel.get_message  # back to the class's method

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        yield
        if call.when == "call":
            outputs = getattr(item, "test_outputs", None) or []
            error = next((out for out in outputs if out.get("output_type") == "error"), None)
            timeout = self.timeouts.get(item.cell_num, self.default_timeout)
            facts = self.facts.get(item.cell_num, CellFacts())
            outcome = classify(facts, error, call.excinfo is None, timeout)
            if item.cell_num in self.cut_by_budget and facts.reply_timed_out:
                outcome.message = BUDGET_RAN_OUT.format(budget=self.budget.seconds)
            outcome.seconds = self.seconds.get(item.cell_num, 0.0)
            outcome.parts = parts_bundle(outputs)
            self.outcomes[item.cell_num] = outcome
            if self.watcher is not None:
                final = item.cell_num > self.ran_before and not outcome.kernel_gone
                self.watcher.ended(item.cell_num, outcome, final)


@dataclass(frozen=True)
class Budget:
    """The time a whole run may take (the batch grader's budget for a submission): cells past its end are
    not run, and a cell still running at its end is stopped."""

    seconds: float
    deadline: float  # on time.monotonic()

    @classmethod
    def starting_now(cls, seconds: float) -> Budget:
        return cls(seconds, time.monotonic() + seconds)

    def left(self) -> float:
        return self.deadline - time.monotonic()


def run_cells(
    path: Path,
    timeouts: Mapping[int, float],
    default_timeout: float,
    watcher: CellWatcher | None = None,
    budget: Budget | None = None,
) -> dict[int, CellOutcome]:
    """Each code cell's outcome, by its index among the code cells; timeouts gives some cells their own
    limits; the watcher hears about each cell as it runs.

    When a cell ends the kernel, the cells after it come from a rerun without it; the cell keeps its own
    outcome (an error that says so, or a timeout), and the cells before it keep theirs. At most one rerun
    per cell that ended the kernel, each past a later cell.
    """
    outcomes = _run_nbval(path, timeouts, default_timeout, watcher, budget=budget)
    skipped: list[int] = []
    while True:
        culprit = _kernel_ender(outcomes)
        if culprit is None or (skipped and culprit <= skipped[-1]):
            return outcomes
        if outcomes[culprit].status is Status.PASSED:  # the kernel went down once the cell had replied
            outcomes[culprit] = CellOutcome(Status.ERROR, KERNEL_DIED)
        skipped.append(culprit)
        rerun = _run_without(path, skipped, timeouts, default_timeout, watcher, budget)
        outcomes = {cell: outcome for cell, outcome in outcomes.items() if cell <= culprit}
        outcomes.update((cell, outcome) for cell, outcome in rerun.items() if cell > culprit)


def _kernel_ender(outcomes: dict[int, CellOutcome]) -> int | None:
    """The cell after which the kernel was gone: the one before the first cell that found it dead."""
    gone = [cell for cell, outcome in outcomes.items() if outcome.kernel_gone]
    if not gone:
        return None
    culprit = min(gone) - 1
    return culprit if culprit in outcomes else None


def _run_without(
    path: Path,
    skipped: list[int],
    timeouts: Mapping[int, float],
    default_timeout: float,
    watcher: CellWatcher | None = None,
    budget: Budget | None = None,
) -> dict[int, CellOutcome]:
    """Runs a copy of the notebook whose skipped code cells do nothing, next to it so relative paths hold."""
    notebook = nbformat.read(path, as_version=4)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for cell_num in skipped:
        code_cells[cell_num].source = _stand_in(code_cells[cell_num].source)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}-rerun-", suffix=".ipynb", dir=path.parent)
    os.close(fd)
    copy = Path(name)
    try:
        nbformat.write(notebook, copy)
        return _run_nbval(copy, timeouts, default_timeout, watcher, ran_before=skipped[-1], budget=budget)
    finally:
        copy.unlink()


def _stand_in(source: str) -> str:
    """What runs in place of a cell that ended the kernel: only its top-level imports, which later cells use."""
    try:
        body = ast.parse(source).body
    except SyntaxError:  # IPython syntax (a magic): nothing of it is kept
        body = []
    imports = [
        ast.get_source_segment(source, node)
        for node in body
        if isinstance(node, (ast.Import, ast.ImportFrom))
    ]
    return "\n".join(
        ["# The autograder skipped this cell (it ended the kernel) but for its imports.", *imports]
    )


# The kernel's OpenMP threads sleep as soon as they wait instead of spinning first (unless the caller says
# otherwise). Spinning pays only on an idle machine: on a busy one, spinning threads made assignment 3's training
# several times slower, past its cell's limit (benchmarks/README.md, false fails under load).
KERNEL_ENVIRONMENT = {"OMP_WAIT_POLICY": "PASSIVE"}


@contextlib.contextmanager
def _kernel_environment() -> Iterator[None]:
    """KERNEL_ENVIRONMENT's defaults in os.environ (which the kernel inherits) inside the block only."""
    added = {key: value for key, value in KERNEL_ENVIRONMENT.items() if key not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


def _run_nbval(
    path: Path,
    timeouts: Mapping[int, float],
    default_timeout: float,
    watcher: CellWatcher | None = None,
    ran_before: int = -1,
    budget: Budget | None = None,
) -> dict[int, CellOutcome]:
    """Runs the notebook under nbval (lax mode, this interpreter's kernel); returns each cell's outcome.
    The cells up to ran_before ran before: the watcher hears that their outcomes are not final."""
    recorder = _CellRecorder(timeouts, default_timeout, watcher, ran_before, budget)
    args = [
        str(path),
        "--nbval-lax",
        "--nbval-current-env",
        f"--nbval-cell-timeout={default_timeout:g}",
        *("-p", "no:cacheprovider", "-p", "no:randomly", "-q", "--tb=no", "--no-header", "-o", "addopts="),
        *(f"--rootdir={path.parent}", "-W", "ignore"),
    ]
    log = io.StringIO()
    # the scorecard is the output; pytest's log only when it broke
    with contextlib.redirect_stdout(log), _kernel_environment():
        exit_code = pytest.main(args, plugins=[recorder])
    if not recorder.outcomes:
        print(
            f"nbval ran no cell of {path.name} (pytest exit code {exit_code}):\n{log.getvalue()}",
            file=sys.stderr,
        )
    return recorder.outcomes
