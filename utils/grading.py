"""Checks that graded notebook cells call.

A failed check raises AssertionError with a message a student can act on: which quantity,
what was expected, what came out, and a hint when the result matches a known mistake.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import torch

from utils.gradcheck import rel_error

# A known mistake: the value a mistaken solution produces, and the hint that fixes it.
Mistake = tuple[torch.Tensor, str]


def fail(message: str, hint: str | None = None) -> None:
    """Raises the AssertionError a graded cell reports."""
    raise AssertionError(message + (f"\nHint: {hint}" if hint else ""))


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
        f"{actual.item():.10g}, expected {expected.item():.10g}" if actual.numel() == 1 else "a wrong value"
    )
    fail(f"{name} is {shown} (relative error {error:.2e}, allowed {tol:.0e})", hint)


def best_time(fn: Callable[[], object], repeats: int = 5) -> float:
    """The fastest of repeats runs of fn, in seconds (the least disturbed by other work)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def check_speedup(
    name: str,
    fast: Callable[[], object],
    slow: Callable[[], object],
    min_speedup: float,
    hint: str | None = None,
) -> float:
    """fast runs at least min_speedup times faster than slow; returns the measured speedup."""
    fast()  # warm-up: the first call pays for allocations and lazy initialisation
    # The fast version is cheap: more repeats make its best time robust to a busy machine.
    slow_time, fast_time = best_time(slow, repeats=2), best_time(fast, repeats=20)
    speedup = slow_time / max(fast_time, 1e-9)
    if speedup < min_speedup:
        fail(
            f"{name} is {speedup:.1f}x faster than the naive version, expected at least {min_speedup:g}x",
            hint,
        )
    return speedup


def check_accuracy(name: str, accuracy: float, threshold: float, hint: str | None = None) -> None:
    """accuracy (a fraction in [0, 1]) reaches threshold."""
    if not isinstance(accuracy, (int, float)) or math.isnan(accuracy):
        fail(f"{name} should be a number (a fraction in [0, 1]), got {accuracy!r}")
    if accuracy > 1:
        fail(f"{name} is {accuracy:g}: accuracies are fractions in [0, 1], not percentages")
    if accuracy < threshold:
        fail(f"{name} is {accuracy:.3f}, expected at least {threshold:.3f}", hint)


def report_pass(question: str, detail: str = "") -> None:
    """The line a graded cell prints when every check passed."""
    print(f"PASSED {question}" + (f": {detail}" if detail else ""))
