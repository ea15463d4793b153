"""Hidden checks: the student's functions on randomized inputs of other shapes and dtypes than the
notebooks' public checks, compared in the grader with the reference solutions.

Instructor-only (never released). Each case belongs to one graded question; a question the notebook
passed keeps its points only when all its cases agree with the reference. Inputs come from generators
seeded by the case's name, so a submission graded twice gets the same grade. The student's code runs
in a tools.sandbox.Child (a process in the grading copy, which holds no solutions); only its outputs
come back, and the reference runs here.

Outputs are compared normwise, max|got - expected| / max|expected|, against the reference evaluated in
float64 (so a float32 input is held to float32's accuracy, not to the reference's float32 rounding);
integer and boolean outputs must match exactly.
"""

from __future__ import annotations

import importlib
import math
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from tools.sandbox import Child, ChildDied

TOLERANCE = {torch.float64: 1e-6, torch.float32: 1e-4}


@dataclass(frozen=True)
class Case:
    question: str
    function: str
    inputs: Callable[[torch.Generator], tuple]
    view: Callable[[Any], Any] = lambda output: output  # what of the output is compared (applied to both)
    # For functions with more than one right answer (random sampling): why (args, output) is wrong, or None.
    # Such a case is checked by this property instead of against the reference.
    property: Callable[[tuple, Any], str | None] | None = None


@dataclass
class QuestionVerdict:
    passed: int = 0
    failures: list[str] = field(default_factory=list)


def _draw(gen: torch.Generator, low: int, high: int) -> int:
    return int(torch.randint(low, high + 1, (), generator=gen))


def _uniform(gen: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=gen, dtype=torch.float64))


def _randn(gen: torch.Generator, *shape: int, dtype=torch.float64, scale: float = 1.0) -> torch.Tensor:
    return (scale * torch.randn(*shape, generator=gen, dtype=torch.float64)).to(dtype)


# ---------------------------------------------------------------------------------------------
# Cases, per topic
# ---------------------------------------------------------------------------------------------
def _linear_problem(dtype, scale: float = 1.0):
    def inputs(gen):
        n, d, c = _draw(gen, 1, 40), _draw(gen, 1, 30), _draw(gen, 2, 12)
        W, X = _randn(gen, d, c, dtype=dtype, scale=0.1), _randn(gen, n, d, dtype=dtype, scale=scale)
        return W, X, torch.randint(c, (n,), generator=gen), _uniform(gen, 0, 1)

    return inputs


def _linear_cases() -> list[Case]:
    problems = [
        _linear_problem(torch.float64),
        _linear_problem(torch.float32),
        _linear_problem(torch.float64, 1e3),
    ]
    cases = [
        Case(name, name, problem)
        for name in ("svm_loss_naive", "svm_loss_vectorized", "softmax_loss_naive", "softmax_loss_vectorized")
        for problem in problems
    ]

    def predict_inputs(most_n: int):
        def inputs(gen):
            d, c, n = _draw(gen, 1, 20), _draw(gen, 2, 10), _draw(gen, 1, most_n)
            return _randn(gen, d, c), _randn(gen, n, d)

        return inputs

    return cases + [
        Case("predict_linear_classifier", "predict_linear_classifier", predict_inputs(50)),
        Case("predict_linear_classifier", "predict_linear_classifier", predict_inputs(1)),  # one sample
        Case("sample_batch", "sample_batch", _batch_problem, property=_is_a_batch),
    ]


def _batch_problem(gen):
    n, d = _draw(gen, 5, 60), _draw(gen, 1, 8)
    X = torch.arange(n * d, dtype=torch.float64).reshape(n, d) + _randn(gen, n, d, scale=0.1)
    return X, torch.randint(10, (n,), generator=gen), _draw(gen, 1, n), _draw(gen, 1, 2 * n)


def _is_a_batch(args, output) -> str | None:
    """sample_batch's answer: batch_size of the first num_train rows of X, each with its own label."""
    X, y, num_train, batch_size = args
    if not (
        isinstance(output, (list, tuple))
        and len(output) == 2
        and all(isinstance(t, torch.Tensor) for t in output)
    ):
        return "the output should be a tuple (X_batch, y_batch) of tensors"
    X_batch, y_batch = output
    if X_batch.shape != (batch_size, X.shape[1]) or y_batch.shape != (batch_size,):
        return f"the batch has shapes {tuple(X_batch.shape)} and {tuple(y_batch.shape)}, expected {(batch_size, X.shape[1])} and {(batch_size,)}"
    rows = (X_batch.double()[:, None, :] == X[None]).all(dim=2).float().argmax(dim=1)
    if not (X_batch.double() == X[rows]).all() or rows.max() >= num_train:
        return f"some rows of X_batch are not among the first num_train = {num_train} rows of X"
    if not torch.equal(y_batch.long(), y[rows]):
        return "y_batch does not hold the labels of the rows in X_batch"
    return None


def _pair(dtype, most: int):
    def inputs(gen):
        n, d = _draw(gen, 2, most), _draw(gen, 2, 16)
        left = _randn(gen, n, d, dtype=dtype, scale=_uniform(gen, 0.1, 5))
        right = (left.double() + _randn(gen, n, d)).to(dtype)
        return left, right, _uniform(gen, 0.05, 1.0)

    return inputs


def _simclr_cases() -> list[Case]:
    def vectors(gen):
        d = _draw(gen, 1, 64)
        return _randn(gen, d, scale=_uniform(gen, 0.1, 10)), _randn(gen, d)

    def without_tau(problem):
        return lambda gen: problem(gen)[:2]

    def stacked(gen):
        left, right, _ = _pair(torch.float64, 20)(gen)
        return (torch.cat([left, right]),)

    return [
        Case("sim", "sim", vectors),
        Case("sim", "sim", vectors),
        Case("simclr_loss_naive", "simclr_loss_naive", _pair(torch.float64, 10)),
        Case("simclr_loss_naive", "simclr_loss_naive", _pair(torch.float32, 10)),
        Case("sim_positive_pairs", "sim_positive_pairs", without_tau(_pair(torch.float64, 30))),
        Case("compute_sim_matrix", "compute_sim_matrix", stacked),
        Case("simclr_loss_vectorized", "simclr_loss_vectorized", _pair(torch.float64, 64)),
        Case("simclr_loss_vectorized", "simclr_loss_vectorized", _pair(torch.float32, 64)),
    ]


def _feature_maps(dtype, most_b: int, most_k: int, most_hw: int):
    def inputs(gen):
        b, k, h, w, c = (
            _draw(gen, 1, most_b),
            _draw(gen, 1, most_k),
            _draw(gen, 1, most_hw),
            _draw(gen, 1, most_hw),
            _draw(gen, 2, 12),
        )
        fmap = _randn(gen, b, k, h, w).relu().to(dtype)
        return fmap, torch.randint(c, (b,), generator=gen), _randn(gen, c, k, dtype=dtype)

    return inputs


def _cam_cases() -> list[Case]:
    def maps(gen):
        b, h, w = _draw(gen, 1, 8), _draw(gen, 1, 9), _draw(gen, 1, 9)
        result = _randn(gen, b, h, w, scale=_uniform(gen, 1, 100))
        result[0] = 1.5  # a constant map normalizes to zeros
        return (result,)

    def loss_inputs(dtype):
        def inputs(gen):
            fmap, labels, weight = _feature_maps(dtype, 8, 16, 7)(gen)
            return (
                _randn(gen, len(labels), weight.shape[0], dtype=dtype),
                fmap,
                labels,
                weight,
                _uniform(gen, 0, 5),
            )

        return inputs

    def localization(gen):
        b, h, w = _draw(gen, 1, 10), _draw(gen, 2, 9), _draw(gen, 2, 9)
        values = torch.randint(0, 4, (b, h, w), generator=gen).double()  # ties: the first maximum counts
        values[0] = 0  # a map with no mass
        return values, torch.rand(b, h, w, generator=gen) < 0.4

    return [
        Case("make_cam_naive", "make_cam_naive", _feature_maps(torch.float64, 4, 6, 5)),
        Case("make_cam_naive", "make_cam_naive", _feature_maps(torch.float32, 4, 6, 5)),
        Case("make_cam", "make_cam", _feature_maps(torch.float64, 16, 32, 9)),
        Case("make_cam", "make_cam", _feature_maps(torch.float32, 16, 32, 9)),
        Case("make_caam", "make_caam", lambda gen: _feature_maps(torch.float64, 8, 16, 9)(gen)[:1]),
        Case("min_max_normalize", "min_max_normalize", maps),
        Case("min_max_normalize", "min_max_normalize", maps),
        Case("cam_loss", "cam_loss", loss_inputs(torch.float64)),
        Case("cam_loss", "cam_loss", loss_inputs(torch.float32)),
        Case("localization", "cam_mass_inside", localization),
        Case("localization", "pointing_game", localization),
        *(
            Case("cam_loss_train_step", "alpha_schedule", schedule)
            for schedule in (
                lambda gen: (
                    _draw(gen, 0, 3),
                    _draw(gen, 1, 5),
                    _uniform(gen, 0.1, 10),
                ),  # epochs around the warm-up's end
                lambda gen: (_draw(gen, 5, 50), _draw(gen, 0, 5), _uniform(gen, 0.1, 10)),
            )
        ),
    ]


def _gram(weight):
    """The Gram matrix of an ETF's columns: the same for every rotation of a correct answer."""
    return (
        weight.double().t() @ weight.double()
        if isinstance(weight, torch.Tensor) and weight.dim() == 2
        else weight
    )


def _metric(*keys: str):
    return lambda metrics: {key: metrics.get(key) for key in keys} if isinstance(metrics, dict) else metrics


def _neural_collapse_cases() -> list[Case]:
    def columns(most_d: int):
        return lambda gen: (_randn(gen, _draw(gen, 1, most_d), _draw(gen, 2, 10)),)

    def etf_size(dtype):
        def inputs(gen):
            c = _draw(gen, 2, 16)
            return c + _draw(gen, -1, 8), c, _draw(gen, 0, 1000), dtype

        return inputs

    def features(gen):
        c, d = _draw(gen, 2, 8), _draw(gen, 4, 16)
        counts = [_draw(gen, 3, 20) for _ in range(c)]
        labels = torch.cat([torch.full((m,), k) for k, m in enumerate(counts)])
        means = _randn(gen, c, d, scale=3.0)
        weight = _randn(gen, d, c)
        return means[labels] + _randn(gen, len(labels), d), labels, weight

    def counts(gen):
        return _draw(gen, 10, 5000), _draw(gen, 2, 100), _uniform(gen, 0.005, 1.0)

    metrics = "neural_collapse_metrics"
    return [
        Case("etf_gram_target", "etf_gram_target", lambda gen: (_draw(gen, 2, 30),)),
        Case("etf_gram_target", "etf_gram_target", lambda gen: (_draw(gen, 2, 30), torch.float32)),
        Case("etf_objective_naive", "etf_objective_naive", columns(8)),
        Case("etf_objective", "etf_objective", columns(40)),
        Case("etf_objective", "etf_objective", columns(40)),
        Case(
            "etf_gradient_descent",
            "etf_by_gradient_descent",
            lambda gen: (_draw(gen, 8, 16), _draw(gen, 2, 6), 0.05, 1e-6, 20000, _draw(gen, 0, 1000)),
            property=_descended,
        ),
        Case("simplex_etf", "simplex_etf", etf_size(torch.float64), _gram),
        Case("simplex_etf", "simplex_etf", etf_size(torch.float32), _gram),
        Case("dot_regression_loss", "dot_regression_loss", features),
        Case("nc1", metrics, features, _metric("nc1")),
        Case("nc2", metrics, features, _metric("nc2_equinorm", "nc2_equiangularity", "nc2_etf_distance")),
        Case("nc3", metrics, features, _metric("nc3")),
        Case("nc4", metrics, features, _metric("nc4")),
        Case("long_tailed_indices", "long_tailed_counts", counts),
        Case("long_tailed_indices", "long_tailed_counts", counts),
        Case("long_tailed_indices", "long_tailed_indices", _balanced_labels, property=_is_long_tailed),
    ]


def _descended(args, output) -> str | None:
    """A descent that ends at the objective's tol with a decreasing record of len iterations + 1, on its own
    weight (any starting point is right: the case is checked by what it reached)."""
    num_features, num_classes, _, tol, _, _ = args
    if not (isinstance(output, (list, tuple)) and len(output) == 3):
        return f"the output should be DescentResult(weight, iterations, losses), got {_kind(output)}"
    weight, iterations, losses = output
    if not isinstance(weight, torch.Tensor) or weight.shape != (num_features, num_classes):
        return f"the weight should be a tensor of shape {(num_features, num_classes)}, got {_kind(weight)}"
    if not isinstance(losses, (list, tuple)) or len(losses) != iterations + 1 or not losses:
        return "losses should hold the objective before each step and after the last: iterations + 1 values"
    from solutions.neural_collapse import etf_objective

    reached = float(etf_objective(weight.double())[0])
    if not reached <= tol * (1 + 1e-6) or abs(reached - losses[-1]) > 1e-8 * max(1.0, reached):
        return f"the weight returned has objective {reached:.3g}, and the last loss recorded is {losses[-1]:.3g} (tol {tol:g})"
    if any(b >= a for a, b in zip(losses, losses[1:])) or any(l <= tol for l in losses[:-1]):
        return "the losses should fall at every step and stop at the first one <= tol"
    return None


def _balanced_labels(gen):
    c, m = _draw(gen, 2, 12), _draw(gen, 5, 80)
    labels = torch.arange(c).repeat_interleave(m)
    return labels[torch.randperm(len(labels), generator=gen)], _uniform(gen, 0.02, 1.0), _draw(gen, 0, 100)


def _is_long_tailed(args, output) -> str | None:
    """Distinct valid indices whose class sizes follow the reference's long-tailed profile."""
    labels, ratio, _ = args
    if not isinstance(output, torch.Tensor) or output.dim() != 1 or output.is_floating_point():
        return f"the output should be a 1-D tensor of indices, got {_kind(output)}"
    if output.numel() and (output.min() < 0 or output.max() >= len(labels)):
        return "some indices lie outside the dataset"
    if len(output.unique()) != len(output):
        return "some indices repeat: each sample should be kept at most once"
    from solutions.neural_collapse import long_tailed_counts

    num_classes = int(labels.max()) + 1
    expected = long_tailed_counts(int((labels == 0).sum()), num_classes, ratio)
    got = torch.bincount(labels[output], minlength=num_classes).tolist()
    return None if got == expected else f"the class sizes are {got}, expected {expected}"


CASES: dict[str, Callable[[], list[Case]]] = {
    "linear_classifier": _linear_cases,
    "simclr": _simclr_cases,
    "cam_loss": _cam_cases,
    "neural_collapse": _neural_collapse_cases,
}


# ---------------------------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------------------------
def _to_float64(value):
    if isinstance(value, torch.Tensor):
        return value.double() if value.is_floating_point() else value
    if isinstance(value, torch.dtype):
        return torch.float64 if value.is_floating_point else value
    if isinstance(value, (list, tuple)):
        return type(value)(_to_float64(v) for v in value)
    return value


def _precision(args: Sequence) -> float:
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
            return f"{where} should be a sequence of {len(expected)} items, got {_kind(got)}"
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
            return f"{where} should be a number, got {_kind(got)}"
        return None if got == expected else f"{where} is {got}, not the reference's value"
    if isinstance(expected, float):
        if not isinstance(got, (int, float)) or not math.isfinite(got):
            return f"{where} should be a finite number, got {_kind(got)}"
        error = abs(got - expected) / max(abs(expected), 1e-12)
        return (
            None if error <= tolerance else f"{where} differs from the reference (relative error {error:.1e})"
        )
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return f"{where} should be a tensor, got {_kind(got)}"
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
        error = (
            float((got.double() - expected).abs().max() / expected.abs().max().clamp(min=1e-12))
            if got.numel()
            else 0.0
        )
        return (
            None if error <= tolerance else f"{where} differs from the reference (relative error {error:.1e})"
        )
    return None if got == expected else f"{where} is {_kind(got)}, not the reference's value"


def _kind(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return type(value).__name__


def describe_inputs(args: Sequence) -> str:
    """Shapes and dtypes, never values: enough for a student to reproduce the situation."""
    parts = []
    for arg in args:
        if isinstance(arg, torch.Tensor):
            parts.append(f"{tuple(arg.shape)} {str(arg.dtype).removeprefix('torch.')}")
        elif isinstance(arg, torch.dtype):
            parts.append(str(arg).removeprefix("torch."))
        elif isinstance(arg, float):
            parts.append(f"{arg:.3g}")
        else:
            parts.append(repr(arg))
    return ", ".join(parts)


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------
def case_inputs(topic: str, index: int, case: Case) -> tuple:
    """The inputs of one case, from a generator seeded by its name: the same on every run."""
    gen = torch.Generator().manual_seed(
        zlib.crc32(f"{topic}/{case.question}/{case.function}/{index}".encode())
    )
    return case.inputs(gen)


def run_hidden_checks(
    topic: str,
    questions: set[str],
    start_child: Callable[[], Child],
    call_timeout: float = 20,
    deadline: float = math.inf,
) -> dict[str, QuestionVerdict]:
    """Runs the cases of the given questions; {question: verdict}. start_child gives a fresh child, called
    again whenever one dies or hangs; cases left when time.monotonic() passes deadline fail unrun."""
    reference = importlib.import_module(f"solutions.{topic}")
    verdicts: dict[str, QuestionVerdict] = {}
    child: Child | None = None
    try:
        for index, case in enumerate(CASES[topic]()):
            if case.question not in questions:
                continue
            verdict = verdicts.setdefault(case.question, QuestionVerdict())
            args = case_inputs(topic, index, case)
            label = f"hidden check: {case.function}({describe_inputs(args)})"
            if time.monotonic() > deadline:
                verdict.failures.append(f"{label}: not run, the submission's time limit was spent")
                continue
            try:
                if child is None:
                    child = start_child()
                    if child.import_error:
                        raise ChildDied(f"the module did not import: {child.import_error}")
                reply = child.call(
                    case.function, args, min(call_timeout, max(deadline - time.monotonic(), 1.0))
                )
            except ChildDied as died:
                if child is not None:
                    child.close()
                child = None
                why = str(died)
                verdict.failures.append(
                    f"{label}: "
                    + (
                        f"did not finish within {call_timeout:g} s"
                        if why == "timeout"
                        else "the process ended (os._exit, exit, a crash or memory exhausted)"
                        if why == "ended"
                        else why
                    )
                )
                continue
            if reply.error:
                verdict.failures.append(f"{label} raised {reply.error}")
                continue
            if case.property is not None:
                reason = case.property(args, reply.value)
            else:
                expected = getattr(reference, case.function)(*_to_float64(args))
                reason = difference(case.view(reply.value), case.view(expected), _precision(args))
            if reason:
                verdict.failures.append(f"{label}: {reason}")
            else:
                verdict.passed += 1
    finally:
        if child is not None:
            child.close()
    return verdicts
