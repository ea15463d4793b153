"""Checks that graded notebook cells call.

A failed check raises AssertionError with a message a student can act on: which quantity,
what was expected, what came out, and a hint when the result matches a known mistake. A check of a
question with parts (utils/course.py) grades each part on its own through `Parts`.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence

import torch
from IPython.core.interactiveshell import InteractiveShell
from IPython.display import display

from utils.gradcheck import rel_error
from utils.results import PARTS_MIME, Status, status_of_exception

_collected: list[dict] | None = None  # the bundles published so far, while collecting_parts() is on

# A known mistake: the value a mistaken solution produces, and the hint that fixes it.
Mistake = tuple[torch.Tensor, str]


def fail(message: str, hint: str | None = None) -> None:
    """Raises the AssertionError a graded cell reports."""
    raise AssertionError(message + (f"\nHint: {hint}" if hint else ""))


def apart(
    actual: float, expected: float, digits: int = 10, style: str = "g", first: tuple[str, str] | None = None
) -> tuple[str, str]:
    """actual and expected as text: `first` when given and the two read as different numbers there, else
    formatted with `digits` digits of `style` ("g": significant digits, "f": decimals, "e": digits after the
    point, "%": decimals of a percentage), or with as many more as it takes for them to read apart. A failure
    never shows two numbers that print the same (in float32, 3/5 is 0.6000000238: 0.6 with 6 digits)."""

    def read(text: str) -> float:
        return float(text.rstrip("%x"))

    def shown(d: int) -> tuple[str, str]:
        return format(actual, f".{d}{style}"), format(expected, f".{d}{style}")

    a, e = first or shown(digits)
    while actual != expected and read(a) == read(e) and digits < 20:
        a, e = shown(digits)
        digits += 1
    return a, e


def as_tensor(name: str, value) -> torch.Tensor:
    """value as a tensor, or a failure naming what came back instead."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (int, float)):
        return torch.tensor(float(value), dtype=torch.float64)
    fail(f"{name} should be a torch.Tensor, got {type(value).__name__}")


def check_shape(name: str, value, shape: Sequence[int]) -> torch.Tensor:
    """value is a tensor of exactly this shape."""
    value = as_tensor(name, value)
    if tuple(value.shape) != tuple(shape):
        fail(f"{name} has shape {tuple(value.shape)}, expected {tuple(shape)}")
    return value


def check_finite(name: str, value, hint: str | None = None) -> torch.Tensor:
    """value holds no inf or NaN."""
    value = as_tensor(name, value)
    if not torch.isfinite(value).all():
        bad = (~torch.isfinite(value)).sum().item()
        fail(f"{name} has {bad} non-finite value(s) (inf or NaN) out of {value.numel()}", hint)
    return value


def check_close(
    name: str,
    actual,
    expected: torch.Tensor,
    tol: float = 1e-8,
    mistakes: Sequence[Mistake] = (),
    hint: str | None = None,
) -> float:
    """rel_error(actual, expected) <= tol; returns the error.

    When the check fails and actual matches one of the mistakes' values instead, the message
    carries that mistake's hint; otherwise the general hint.
    """
    actual = check_shape(name, actual, expected.shape)
    check_finite(name, actual)
    actual = actual.detach().to(torch.float64).cpu()
    expected = expected.detach().to(torch.float64).cpu()
    error = rel_error(actual, expected)
    if error <= tol:
        return error
    for wrong, mistake_hint in mistakes:
        if rel_error(actual, wrong.detach().to(torch.float64).cpu()) <= tol:
            hint = mistake_hint
            break
    shown = (
        "{}, expected {}".format(*apart(actual.item(), expected.item()))
        if actual.numel() == 1
        else "a wrong value"
    )
    fail(f"{name} is {shown} ({exceeds('relative error', error, tol)})", hint)


def exceeds(what: str, error: float, allowed: float) -> str:
    """'<what> 1.23e-05, allowed 1e-06': the error and the bound it passed, never printed as one number."""
    shown_error, shown_allowed = apart(error, allowed, 2, "e", first=(f"{error:.2e}", f"{allowed:.0e}"))
    return f"{what} {shown_error}, allowed {shown_allowed}"


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """torch runs on one intra-op thread inside the block; the caller's setting comes back afterwards.

    Timed with several threads, a small op can wait at a barrier for a pool thread that a busy machine
    does not schedule, and such a stall can outlast a whole measurement; with one thread there is no pool.
    """
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def seconds_of(fn: Callable[[], object]) -> float:
    """The calling thread's CPU seconds over one call of fn (every timing of a speed check goes through here).

    CPU time, not wall-clock time: the time the thread waits while a busy machine runs others does not
    count (a millisecond call among six busy processes on two cores is often preempted; on the wall clock,
    a loop as costly as the yardstick measured 3x faster than it in some runs). On one intra-op thread
    torch does a call's work on the calling thread. The thread's clock, not the process's: under a CPU-time
    limit (RLIMIT_CPU, as the grader sets) Linux counts a process's CPU time in scheduler ticks of 4 ms and
    more, and a millisecond call measured 0."""
    start = time.thread_time()
    fn()
    return time.thread_time() - start


def check_speedup(
    name: str,
    fast: Callable[[], object],
    slow: Callable[[], object],
    min_speedup: float,
    hint: str | None = None,
    rounds: int = 5,
    slow_is: str = "the naive version",
) -> float:
    """fast runs at least min_speedup times faster than slow (what slow_is names); returns the speedup.

    Both run on one thread, interleaved (each round times slow once, then fast once), so that a stretch
    of load hits both; the speedup is slow's best over fast's best. A stall only adds time, so each
    side's best is its own cost: a stall moves the ratio only if it lasts through all of one side's runs,
    and code as slow as the yardstick measures about 1x on an idle and a busy machine alike. Both sides
    get the same number of runs: with more of them, the fast side's best would be the likelier to have
    missed the stalls: an etf_objective that kept a loop as costly as the yardstick measured 1.1x idle
    and 3.3x under load with seven fast runs a round.
    """
    with one_thread():
        fast()  # warm-up: the first call pays for allocations and lazy initialisation
        slow_times, fast_times = [], []
        for _ in range(rounds):
            slow_times.append(seconds_of(slow))
            fast_times.append(seconds_of(fast))
    speedup = min(slow_times) / max(min(fast_times), 1e-9)
    if speedup < min_speedup:
        shown, goal = apart(speedup, min_speedup, 1, "f", first=(f"{speedup:.1f}", f"{min_speedup:g}"))
        fail(f"{name} is {shown}x faster than {slow_is}, expected at least {goal}x", hint)
    return speedup


def check_accuracy(name: str, accuracy: float, threshold: float, hint: str | None = None) -> None:
    """accuracy (a fraction in [0, 1]) reaches threshold."""
    if not isinstance(accuracy, (int, float)) or math.isnan(accuracy):
        fail(f"{name} should be a number (a fraction in [0, 1]), got {accuracy!r}")
    if accuracy > 1:
        fail(f"{name} is {accuracy:g}: accuracies are fractions in [0, 1], not percentages")
    if accuracy < threshold:
        shown, goal = apart(accuracy, threshold, 3, "f")
        fail(f"{name} is {shown}, expected at least {goal}", hint)


def report_pass(question: str, detail: str = "") -> None:
    """The line a graded cell prints when every check passed."""
    print(f"PASSED {question}" + (f": {detail}" if detail else ""))


class Parts:
    """Grades a question part by part, so that a failing part does not stop the others:

        parts = Parts("simclr_loss_vectorized")
        with parts("value"):
            ...  # the part's checks: an exception ends this part only
        parts.finish("matches the oracle")

    finish() publishes each part's outcome (a PARTS_MIME bundle the autograder reads) and raises when a
    part did not pass, so that the cell still fails with a message: the first part's own exception when
    none passed (as for a question graded all or nothing), else an AssertionError naming the failed parts.
    A part that meets a TODO (NotImplementedError) makes the whole question not implemented: a stub earns
    nothing for the input checks that run before its TODO.
    """

    def __init__(self, question: str):
        self.question = question
        self.errors: dict[str, Exception | None] = {}  # part id -> what ended it (None: passed)

    @contextlib.contextmanager
    def __call__(self, part: str) -> Iterator[None]:
        try:
            yield
        except Exception as error:  # any exception ends this part alone
            self.errors[part] = error
        else:
            self.errors[part] = None

    def finish(self, detail: str = "") -> None:
        unfinished = [e for e in self.errors.values() if isinstance(e, NotImplementedError)]
        if unfinished:  # a TODO left: the question is not implemented, whatever parts its checks passed
            raise unfinished[0]
        outcomes = {part: status_of_exception(error) for part, error in self.errors.items()}
        _publish(
            {
                "question": self.question,
                "parts": [{"id": p, "status": s.value, "message": m} for p, (s, m) in outcomes.items()],
            }
        )
        failed = [error for error in self.errors.values() if error is not None]
        if not failed:
            report_pass(self.question, detail)
            return
        if len(failed) == len(self.errors):
            raise failed[0]
        summary = [f"{p}: {m}" for p, (s, m) in outcomes.items() if s is not Status.PASSED]
        passed = [p for p, (s, _) in outcomes.items() if s is Status.PASSED]
        raise AssertionError("\n".join([*summary, f"(passed: {', '.join(passed)})"]))


def _publish(bundle: dict) -> None:
    """Displays bundle in the cell's output when a kernel runs the cell; hands it to collecting_parts()."""
    if _collected is not None:
        _collected.append(bundle)
    if InteractiveShell.initialized():
        display({PARTS_MIME: bundle, "text/plain": _plain(bundle)}, raw=True)


def _plain(bundle: dict) -> str:
    return "  ".join(f"{p['id']}: {Status(p['status']).mark}" for p in bundle["parts"])


@contextlib.contextmanager
def collecting_parts() -> Iterator[list[dict]]:
    """Collects the bundles that checks publish inside the block (checks run outside a kernel)."""
    global _collected
    _collected = bundles = []
    try:
        yield bundles
    finally:
        _collected = None
