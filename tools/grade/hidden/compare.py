"""How the grader compares a student's output with the reference's: normwise relative error,
max|got - expected| / max|expected|, against the reference evaluated in float64 (so a float32 input is
held to float32's accuracy, not to the reference's float32 rounding); integer and boolean outputs must
match exactly. Messages name shapes and dtypes, never values."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from utils.grading import apart

TOLERANCE = {torch.float64: 1e-6, torch.float32: 1e-4}


def to_float64(value):
    if isinstance(value, torch.Tensor):
        return value.double() if value.is_floating_point() else value
    if isinstance(value, torch.dtype):
        return torch.float64 if value.is_floating_point else value
    if isinstance(value, (list, tuple)):
        return type(value)(to_float64(v) for v in value)
    return value


def precision(args: Sequence) -> float:
    """float32's tolerance when any input is float32 (or asks for it), else float64's."""
    lowest = any(
        a is torch.float32 or (isinstance(a, torch.Tensor) and a.dtype == torch.float32) for a in args
    )
    return TOLERANCE[torch.float32] if lowest else TOLERANCE[torch.float64]


def difference(got, expected, tolerance: float, where: str = "the output") -> str | None:
    """Why got does not match expected, or None when it does."""
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"{where} should be a dict, got {type(got).__name__}"
        for key, value in expected.items():
            reason = difference(got.get(key), value, tolerance, f"{where}[{key!r}]")
            if reason:
                return reason
        return None
    if isinstance(expected, (list, tuple)):
        if not isinstance(got, (list, tuple)) or len(got) != len(expected):
            return f"{where} should be a sequence of {len(expected)} items, got {kind(got)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            reason = difference(g, e, tolerance, f"{where}[{i}]")
            if reason:
                return reason
        return None
    if isinstance(expected, torch.Tensor) and expected.dim() == 0 and isinstance(got, (int, float)):
        got = torch.tensor(got)
    if isinstance(expected, (int, float)) and isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.item()
    if isinstance(expected, int):  # bools included: exact
        if not isinstance(got, (int, float)):
            return f"{where} should be a number, got {kind(got)}"
        return None if got == expected else f"{where} is {got}, not the reference's value"
    if isinstance(expected, float):
        if not isinstance(got, (int, float)) or not math.isfinite(got):
            return f"{where} should be a finite number, got {kind(got)}"
        error = _normwise_error(torch.tensor(float(got)), torch.tensor(expected, dtype=torch.float64))
        return _within(error, tolerance, where)
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return f"{where} should be a tensor, got {kind(got)}"
        if got.shape != expected.shape:
            return f"{where} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
        if not expected.is_floating_point():
            return (
                None
                if torch.equal(got.to(expected.dtype), expected)
                else f"{where} differs from the reference"
            )
        if not got.is_floating_point() and not got.dtype == torch.bool:
            got = got.double()
        if not torch.isfinite(got).all():
            return f"{where} holds inf or nan"
        return _within(_normwise_error(got, expected), tolerance, where)
    return None if got == expected else f"{where} is {kind(got)}, not the reference's value"


def _normwise_error(got: torch.Tensor, expected: torch.Tensor) -> float:
    """max|got - expected| / max|expected|, in float64 (0 for empty tensors)."""
    if not got.numel():
        return 0.0
    return float((got.double() - expected).abs().max() / expected.abs().max().clamp(min=1e-12))


def _within(error: float, tolerance: float, where: str) -> str | None:
    if error <= tolerance:
        return None
    shown, allowed = apart(error, tolerance, 1, "e", first=(f"{error:.1e}", f"{tolerance:.0e}"))
    return f"{where} differs from the reference (relative error {shown}, allowed {allowed})"


def kind(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return type(value).__name__


def describe_inputs(args: Sequence) -> str:
    """Shapes and dtypes, never values: enough for a student to reproduce the situation, nothing the grader
    hides (a number says only its type: a regularization strength or a temperature is a hidden input)."""
    parts = []
    for arg in args:
        if isinstance(arg, torch.Tensor):
            parts.append(f"{tuple(arg.shape)} {str(arg.dtype).removeprefix('torch.')}")
        elif isinstance(arg, torch.dtype):
            parts.append(str(arg).removeprefix("torch."))
        elif isinstance(arg, (float, int)) and not isinstance(arg, bool):
            parts.append(type(arg).__name__)
        elif isinstance(arg, dict) and len(arg) > 4:  # a state dict
            parts.append(f"a dict of {len(arg)} entries")
        elif isinstance(arg, dict):
            parts.append("{" + ", ".join(f"{key!r}: {describe_inputs([v])}" for key, v in arg.items()) + "}")
        else:
            parts.append(repr(arg))
    return ", ".join(parts)
