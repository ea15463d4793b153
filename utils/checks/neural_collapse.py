"""Question checks for assignment 4 (utils/neural_collapse.py).

Oracles that share no code with the module: the Gram matrix itself and autograd for the ETF objective,
F.cosine_similarity for the dot-regression loss, and features built by hand whose neural-collapse
measurements are worked out in the comments. Known mistakes are recognised by computing what they give.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from utils.checks.recorded import oracle
from utils.grading import Parts, apart, check_close, check_shape, check_speedup, fail, report_pass


@oracle
def _target(C: int) -> torch.Tensor:
    return torch.eye(C, dtype=torch.float64) * (1 + 1 / (C - 1)) - 1 / (C - 1)


def _objective(W: torch.Tensor) -> torch.Tensor:
    """||W^T W - M||_F^2, as etf_objective's docstring defines it."""
    return torch.linalg.matrix_norm(W.t() @ W - _target(W.shape[1])) ** 2


@oracle
def _autograd_objective(W: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    leaf = W.detach().clone().requires_grad_(True)
    loss = _objective(leaf)
    (grad,) = torch.autograd.grad(loss, leaf)
    return loss.detach(), grad


@oracle
def _dot_regression_oracle(features: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor):
    """(the loss, [what the usual mistakes give, in the order of DOT_REGRESSION_MISTAKE_HINTS])."""
    cosine = F.cosine_similarity(features, weight[:, labels].t(), dim=1)
    raw = (features * weight[:, labels].t()).sum(1)
    return 0.5 * ((cosine - 1) ** 2).mean(), [0.5 * ((raw - 1) ** 2).mean(), ((cosine - 1) ** 2).mean()]


@oracle
def _dot_regression_gradients(features: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor):
    """Autograd's gradients of the oracle's loss with respect to features and weight."""
    leaves = [features.detach().clone().requires_grad_(True), weight.detach().clone().requires_grad_(True)]
    return torch.autograd.grad(_dot_regression_oracle(*leaves, labels)[0], leaves)


@oracle
def _etf_distance(gram: torch.Tensor) -> float:
    """nc2_etf_distance of class means with this Gram matrix."""
    target = _target(gram.shape[0])
    return (gram / gram.norm() - target / target.norm()).norm().item()


def _expect_value_error(fn: Callable, what: str, words: str | None = None) -> None:
    try:
        fn()
    except ValueError as error:
        if words and words not in str(error):
            fail(f"the ValueError for {what} should say why; got: {error}", f"mention {words!r}")
        return
    fail(f"no ValueError for {what}")


@oracle
def _target_off_by_one(C: int) -> torch.Tensor:
    """The ETF target with -1/C off the diagonal, a common mistake."""
    return torch.eye(C, dtype=torch.float64) - 1 / C


@oracle
def _target_off_the_diagonal_only(C: int) -> torch.Tensor:
    """The same mistake with the diagonal kept at 1."""
    return torch.eye(C, dtype=torch.float64) * (1 + 1 / C) - 1 / C


def check_etf_gram_target(etf_gram_target: Callable) -> None:
    """Against the target for C = 2, 3, 10, in float64 by default (to float64's rounding: 1e-12) and in the
    dtype asked for; ValueError for C = 1."""
    hint = "off the diagonal: -1/(C-1), not -1/C"
    for C in (2, 3, 10):
        M = check_shape(f"etf_gram_target({C})", etf_gram_target(C), (C, C))
        if M.dtype != torch.float64:
            fail(
                f"etf_gram_target({C}) returned {M.dtype}, expected torch.float64 (the default dtype argument)",
                "create the matrix with dtype=dtype and device=device",
            )
        mistakes = [(_target_off_by_one(C), hint), (_target_off_the_diagonal_only(C), hint)]
        check_close(f"etf_gram_target({C})", M, _target(C), tol=1e-12, mistakes=mistakes)
    M = etf_gram_target(3, dtype=torch.float32)
    if not isinstance(M, torch.Tensor) or M.dtype != torch.float32:
        fail(
            f"etf_gram_target(3, dtype=torch.float32) returned {getattr(M, 'dtype', type(M).__name__)}",
            "create the matrix with dtype=dtype and device=device",
        )
    _expect_value_error(lambda: etf_gram_target(1), "C = 1")
    report_pass("etf_gram_target")


def _objective_checks(objective: Callable, name: str) -> None:
    gen = torch.Generator().manual_seed(0)
    for D, C in [(5, 4), (3, 6), (8, 2)]:
        W = torch.randn(D, C, generator=gen, dtype=torch.float64)
        before = W.clone()
        result = objective(W)
        if not isinstance(result, tuple) or len(result) != 2:
            fail(f"{name} should return (loss, grad)")
        loss, grad = result
        expected_loss, expected_grad = _autograd_objective(W)
        check_close(f"{name} loss for W of shape {(D, C)}", loss, expected_loss, tol=1e-10)
        check_close(
            f"{name} gradient for W of shape {(D, C)}",
            grad,
            expected_grad,
            tol=1e-10,
            mistakes=[
                (expected_grad / 2, "the gradient is 4 W (W^T W - M): each column appears in two factors"),
                (expected_grad / 4, "the gradient is 4 W (W^T W - M), not W (W^T W - M)"),
            ],
        )
        if not torch.equal(W, before):
            fail(f"{name} modified W in place")


def check_etf_objective_naive(etf_objective_naive: Callable) -> None:
    _objective_checks(etf_objective_naive, "etf_objective_naive")
    report_pass("etf_objective_naive", "loss and gradient match autograd")


# etf_objective against a loop over the columns, in CPU time: the threshold sits near the middle, on a log
# scale, between correct code's worst ratio (autograd's backward is the slowest correct way) and a kept loop's
# best, idle and busy (benchmarks/README.md, speed margins).
MIN_ETF_SPEEDUP = 2


def _loop_yardstick(W, M):
    """The speed check's yardstick: a loop over the columns, one column of the error W^T W - M each, the
    gradient from the stacked errors. An etf_objective that keeps this loop is as slow."""
    errors = torch.stack([W.t() @ W[:, j] - M[:, j] for j in range(W.shape[1])], dim=1)
    return (errors * errors).sum(), 4 * W @ errors


def check_etf_objective(etf_objective: Callable, etf_objective_naive: Callable) -> None:
    _objective_checks(etf_objective, "etf_objective")
    W = torch.randn(6, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    try:
        naive = etf_objective_naive(W)
        naive_ok = all(torch.allclose(a, b, rtol=1e-10) for a, b in zip(naive, _autograd_objective(W)))
    except Exception:  # a broken naive version belongs to its own question
        naive_ok = False
    if naive_ok:
        for a, b, what in zip(etf_objective(W), naive, ("loss", "gradient")):
            check_close(f"etf_objective's {what} against etf_objective_naive", a, b, tol=1e-12)
    else:
        print("(etf_objective_naive is not right yet: the comparison with it is skipped)")
    # Many columns of few features: the loop's cost per column stays, the products' work stays small.
    W = torch.randn(32, 200, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    M = _target(W.shape[1])
    speedup = check_speedup(
        "etf_objective",
        lambda: etf_objective(W),
        lambda: _loop_yardstick(W, M),
        MIN_ETF_SPEEDUP,
        "no Python loops: the error matrix W^T W - M gives the loss and the gradient in two products",
        slow_is="a loop over the columns",
    )
    report_pass("etf_objective", f"{speedup:.1f}x faster than a loop over the columns")


def check_gradient_descent(etf_by_gradient_descent: Callable) -> None:
    tol = 1e-6
    result = etf_by_gradient_descent(24, 8, lr=0.05, tol=tol, max_iters=20000, seed=3)
    W, iterations, losses = result
    check_shape("the weight found by gradient descent", W, (24, 8))
    if not losses or not losses[-1] <= tol:
        fail(
            f"gradient descent stopped at objective {losses[-1] if losses else None}, expected <= tol = {tol}",
            "step W -= lr * grad until the objective is <= tol",
        )
    if len(losses) != iterations + 1:
        fail(
            f"{iterations} iterations but {len(losses)} recorded losses; "
            "expected iterations + 1 (the start and each step)"
        )
    if not all(b < a for a, b in zip(losses, losses[1:])):
        fail(
            "the objective went up during gradient descent at lr = 0.05",
            "step against the gradient: W - lr * grad",
        )
    if any(loss <= tol for loss in losses[:-1]):
        fail(
            "gradient descent went on after the objective reached tol",
            "stop as soon as the objective is <= tol",
        )
    check_close(
        "the objective of the weight returned",
        _objective(W),
        torch.tensor(losses[-1], dtype=torch.float64),
        tol=1e-8,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        short = etf_by_gradient_descent(24, 8, lr=0.05, tol=tol, max_iters=5, seed=3)
    if short.iterations != 5 or not any(issubclass(w.category, RuntimeWarning) for w in caught):
        fail(
            f"with max_iters = 5, expected 5 iterations and a RuntimeWarning; got {short.iterations} iterations and "
            f"{[w.category.__name__ for w in caught]}",
            "keep the provided warning after the loop: return early only on success",
        )
    report_pass("etf_gradient_descent", f"objective <= {tol:g} after {iterations} steps")


def _check_gram(name: str, gram: torch.Tensor, tol: float) -> None:
    """gram within tol of etf_gram_target entrywise (absolute: its entries are of order 1, and an exact 0 off
    the diagonal comes out of a product as 1e-17, which a relative error would blow up)."""
    C = gram.shape[0]
    error = (gram - _target(C)).abs().max().item()
    if error <= tol:
        return
    uncentred = "centre the orthonormal columns: multiply by I - 11^T / C"
    mistakes = [
        (C / (C - 1) * torch.eye(C, dtype=torch.float64), uncentred),
        (torch.eye(C, dtype=torch.float64), uncentred),
        ((C - 1) / C * _target(C), "scale by sqrt(C / (C - 1)): the centred columns have norm sqrt((C-1)/C)"),
    ]
    hint = next((h for wrong, h in mistakes if (gram - wrong).abs().max().item() <= 1e-6), None)
    shown, allowed = apart(error, tol, 2, "e", first=(f"{error:.2e}", f"{tol:.0e}"))
    fail(f"{name} is off the ETF target 1 / -1/(C-1) by up to {shown} (allowed {allowed})", hint)


def check_etf_exact(simplex_etf: Callable) -> None:
    """Gram error for D > C, D = C, D = C - 1 in float64; the orientation follows the seed."""
    for D, C in [(10, 4), (6, 6), (9, 10), (2, 3), (1, 2)]:
        W = check_shape(f"simplex_etf({D}, {C})", simplex_etf(D, C, seed=0, dtype=torch.float64), (D, C))
        if W.dtype != torch.float64:
            fail(f"simplex_etf returned {W.dtype}; return the dtype asked for")
        _check_gram(f"the Gram matrix of simplex_etf({D}, {C})", W.t() @ W, 1e-12)
    a, b, c = (simplex_etf(12, 5, seed=s, dtype=torch.float64) for s in (7, 7, 8))
    if not torch.equal(a, b):
        fail(
            "simplex_etf with the same seed gave two different matrices",
            "draw the Gaussian matrix with the seeded generator",
        )
    if torch.allclose(a, c):
        fail("simplex_etf with different seeds gave the same matrix: the orientation should be random")


def check_etf_float32(simplex_etf: Callable) -> None:
    W32 = simplex_etf(300, 100, seed=1, dtype=torch.float32)
    if W32.dtype != torch.float32:
        fail(f"simplex_etf(..., dtype=torch.float32) returned {W32.dtype}")
    error = (W32.double().t() @ W32.double() - _target(100)).abs().max().item()
    if not error < 1e-5:
        shown, allowed = apart(error, 1e-5, 2, "e", first=(f"{error:.2e}", "1e-5"))
        fail(
            f"simplex_etf in float32 has a Gram error of {shown}, expected under {allowed}",
            "compute in float64, then convert",
        )


def check_simplex_etf(simplex_etf: Callable) -> None:
    """Part by part: exact in float64 (D > C, D = C, D = C - 1, seeded orientation), accurate in float32,
    and the ValueError for D < C - 1."""
    parts = Parts("simplex_etf")
    with parts("exact"):
        check_etf_exact(simplex_etf)
    with parts("float32"):
        check_etf_float32(simplex_etf)
    with parts("bad_input"):
        _expect_value_error(lambda: simplex_etf(3, 5, seed=0), "D = 3 < C - 1 = 4", "C - 1")
    parts.finish("exact for D > C, D = C and D = C - 1")


def check_etf_classifier(classifier_class: Callable) -> None:
    torch.manual_seed(0)
    head = classifier_class(num_features=6, num_classes=4, scale=2.0)
    weight = getattr(head, "weight", None)
    if not isinstance(weight, torch.Tensor):
        fail("ETFClassifier should have a weight tensor (register_buffer('weight', ...))")
    if any(p is weight for p in head.parameters()) or isinstance(weight, nn.Parameter):
        fail(
            "ETFClassifier's weight is a Parameter: an optimizer would train it",
            "register it with self.register_buffer('weight', ...), not as nn.Parameter",
        )
    if "weight" not in dict(head.named_buffers()) or "weight" not in head.state_dict():
        fail("ETFClassifier's weight should be a registered buffer (it then moves with .to() and is saved)")
    check_shape("ETFClassifier.weight", weight, (6, 4))
    _check_gram("the Gram matrix of ETFClassifier.weight", weight.double().t() @ weight.double(), 1e-6)
    model = nn.Sequential(nn.Linear(3, 6), head)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    before = weight.clone()
    F.cross_entropy(model(torch.randn(8, 3)), torch.arange(8) % 4).backward()
    optimizer.step()
    if not torch.equal(head.weight, before):
        fail("an optimizer step moved ETFClassifier's weight")
    first, again, other = (classifier_class(num_features=6, num_classes=4, seed=s).weight for s in (3, 3, 4))
    if not torch.equal(first, again) or torch.equal(first, other):
        fail(
            "two ETFClassifiers with seed=3 hold different weights"
            if not torch.equal(first, again)
            else "ETFClassifiers with seeds 3 and 4 hold the same weight",
            "pass the seed on: simplex_etf(num_features, num_classes, seed=seed)",
        )
    features = torch.randn(5, 6)
    # In float64 whatever the buffer's dtype (the docstring leaves it open): the logits come in float32.
    check_close("ETFClassifier's logits", head(features), 2.0 * features.double() @ before.double(), tol=1e-6)
    report_pass("etf_classifier", "the weight is a buffer no optimizer moves")


DOT_REGRESSION_MISTAKE_HINTS = [
    "normalize the features and the weight's columns before the dot product",
    "the loss has a factor 1/2",
]


def check_dot_regression_loss(dot_regression_loss: Callable) -> None:
    """Part by part: the value against the oracle, with hints for the usual mistakes; the gradients with
    respect to the features and the weight against autograd of the oracle."""
    gen = torch.Generator().manual_seed(4)
    features = 3 * torch.randn(7, 5, generator=gen, dtype=torch.float64)
    weight = 2 * torch.randn(5, 4, generator=gen, dtype=torch.float64)
    labels = torch.tensor([0, 1, 2, 3, 0, 1, 2])
    parts = Parts("dot_regression_loss")
    with parts("value"):
        expected, mistakes = _dot_regression_oracle(features, weight, labels)
        check_close(
            "dot_regression_loss",
            dot_regression_loss(features, labels, weight),
            expected,
            tol=1e-12,
            mistakes=list(zip(mistakes, DOT_REGRESSION_MISTAKE_HINTS)),
        )
    with parts("gradient"):
        leaves = [features.clone().requires_grad_(True), weight.clone().requires_grad_(True)]
        grads = torch.autograd.grad(
            dot_regression_loss(leaves[0], labels, leaves[1]), leaves, allow_unused=True
        )
        expected_grads = _dot_regression_gradients(features, weight, labels)
        for what, g, e in zip(("features", "weight"), grads, expected_grads):
            if g is None:
                fail(
                    f"dot_regression_loss sends no gradient to the {what}",
                    f"keep the {what} in the graph (no .detach())",
                )
            check_close(f"gradient of dot_regression_loss with respect to {what}", g, e, tol=1e-10)
    parts.finish()


# ---------------------------------------------------------------------------------------------
# Hand-built features for the neural-collapse metrics
# ---------------------------------------------------------------------------------------------
def _triangle_features():
    """Three classes whose means are unit vectors at 120 degrees in the first two of three dimensions;
    class c has two samples, its mean plus and minus s_c along an axis: s = 0.3 and 0.6 along x, 0.9 along y.

    Global mean: 0. Sigma_B = (1/3) sum_c mu_c mu_c^T = diag(1/2, 1/2, 0), so pinv(Sigma_B) = diag(2, 2, 0).
    Sigma_W = (1/6) sum over samples of d d^T = (1/3)(0.09 e_x e_x^T + 0.36 e_x e_x^T + 0.81 e_y e_y^T).
    NC1 = tr(Sigma_W pinv(Sigma_B)) / 3 = (2/9)(0.09 + 0.36 + 0.81) = 0.28.
    With Sigma_B itself instead of its pseudo-inverse: (1/18)(1.26) = 0.07.
    """
    angles = torch.tensor([90.0, 210.0, 330.0], dtype=torch.float64) * math.pi / 180
    means = torch.stack([angles.cos(), angles.sin(), torch.zeros(3, dtype=torch.float64)], dim=1)
    offsets = torch.tensor([[0.3, 0, 0], [0.6, 0, 0], [0, 0.9, 0]], dtype=torch.float64)
    features = torch.cat([means + offsets, means - offsets])
    return features, torch.tensor([0, 1, 2, 0, 1, 2])


def _square_features():
    """Four classes with one sample each at (1, 0), (0, 2), (-1, 0), (0, -2): global mean 0.

    Norms 1, 2, 1, 2: mean 1.5, unbiased std sqrt(4 * 0.25 / 3) = 0.57735, so NC2 equinorm = 0.3849.
    Cosines between distinct means: 0 for the 8 ordered adjacent pairs, -1 for the 4 ordered opposite
    pairs; their mean is -1/3 and their unbiased std sqrt((8/9 + 16/9) / 11) = 0.49237.
    """
    features = torch.tensor([[1.0, 0], [0, 2], [-1, 0], [0, -2]], dtype=torch.float64)
    return features, torch.arange(4)


def _metric(metrics, key: str) -> float:
    if not isinstance(metrics, dict) or key not in metrics:
        fail(f"neural_collapse_metrics should return a dict with the key {key!r}; got {metrics!r}")
    value = metrics[key]
    if not isinstance(value, float):
        fail(f"neural_collapse_metrics' {key} should be a Python float, got {type(value).__name__}")
    return value


def _check_value(name: str, value: float, expected: float, tol: float, mistakes=(), hint=None) -> None:
    """value within tol of expected: relative, or absolute when expected is 0 (rounding leaves ~1e-16 there)."""
    if expected == 0:
        if not abs(value) <= tol:
            fail(f"{name} is {value:.10g}, expected 0 (within {tol:.0e})", hint)
        return
    check_close(
        name,
        torch.tensor(value, dtype=torch.float64),
        torch.tensor(expected, dtype=torch.float64),
        tol=tol,
        mistakes=[(torch.tensor(v, dtype=torch.float64), h) for v, h in mistakes],
        hint=hint,
    )


def _perfect_collapse(num_per_class: int = 3):
    """Every sample exactly at its class mean, and the means a simplex ETF: every measurement is 0."""
    means = torch.tensor(
        [[1.0, 0, 0], [-0.5, math.sqrt(3) / 2, 0], [-0.5, -math.sqrt(3) / 2, 0]], dtype=torch.float64
    )
    labels = torch.arange(3).repeat(num_per_class)
    return means[labels], labels, means.t().clone()


def _long_tailed_line():
    """Two classes on a line, three samples of class 0 at 0.5, 1 and 1.5 (mean 1) and one of class 1 at -3.

    mu_G, the plain mean of the four features, is (0.5 + 1 + 1.5 - 3) / 4 = 0: the centred means are 1 and -3.
    (The mean of the class means, -1, would centre them at 2 and -2.)
    NC1: Sigma_W = (0.25 + 0 + 0.25 + 0) / 4 = 0.125, Sigma_B = (1 + 9) / 2 = 5: 0.125 / 5 / 2 = 0.0125
    (centred at -1: Sigma_B = 4, NC1 = 0.015625).
    NC2 equinorm: norms 1 and 3, mean 2, unbiased std sqrt(2): sqrt(2) / 2 (centred at -1: 0).
    NC2 ETF distance: G = [[1, -3], [-3, 9]], ||G||_F = 10; T = [[1, -1], [-1, 1]], ||T||_F = 2;
    G / 10 - T / 2 = [[-0.4, 0.2], [0.2, 0.4]]: sqrt(0.4) (centred at -1: 0).
    NC3 with W = [[1, -3]] (the centred means): 0 (centred at -1: sqrt(2 - 4 / sqrt(5)), from the cosine
    of [1, -3] and [2, -2], 2 / sqrt(5)).
    """
    features = torch.tensor([[0.5], [1.0], [1.5], [-3.0]], dtype=torch.float64)
    return features, torch.tensor([0, 0, 0, 1]), torch.tensor([[1.0, -3.0]], dtype=torch.float64)


GLOBAL_MEAN_HINT = (
    "mu_G is the plain mean of all N features (which weights each class by its size), not the mean of the "
    "class means: they differ when the classes differ in size"
)


def check_nc1(neural_collapse_metrics: Callable) -> None:
    features, labels = _triangle_features()
    _check_value(
        "nc1 on the hand-built triangle features",
        _metric(neural_collapse_metrics(features, labels), "nc1"),
        0.28,
        1e-9,
        mistakes=[(0.07, "use the pseudo-inverse of Sigma_B (torch.linalg.pinv), not Sigma_B itself")],
        hint="Sigma_W averages (h - mu_y)(h - mu_y)^T over all samples; Sigma_B averages over classes",
    )
    line, line_labels, _ = _long_tailed_line()
    _check_value(
        "nc1 on classes of 3 samples and 1 sample on a line",
        _metric(neural_collapse_metrics(line, line_labels), "nc1"),
        0.0125,
        1e-9,
        mistakes=[(0.015625, GLOBAL_MEAN_HINT)],
    )
    h, y, _ = _perfect_collapse()
    _check_value("nc1 under perfect collapse", _metric(neural_collapse_metrics(h, y), "nc1"), 0.0, 1e-9)
    _expect_value_error(
        lambda: neural_collapse_metrics(features, labels[:-1]), "features and labels of different lengths"
    )
    _expect_value_error(
        lambda: neural_collapse_metrics(features, labels, torch.randn(3, 4, dtype=torch.float64)),
        "a class with no samples (4 classes in the weight, 3 in the labels)",
        "no samples",
    )
    report_pass("nc1", "0.28 on the triangle features, 0.0125 on the line, 0 under perfect collapse")


def check_nc2(neural_collapse_metrics: Callable) -> None:
    features, labels = _square_features()
    metrics = neural_collapse_metrics(features, labels)
    _check_value(
        "nc2_equinorm on the square features",
        _metric(metrics, "nc2_equinorm"),
        math.sqrt(1 / 3) / 1.5,
        1e-9,
        mistakes=[(0.5 / 1.5, "use the unbiased std (torch.std's default)")],
    )
    _check_value(
        "nc2_equiangularity on the square features",
        _metric(metrics, "nc2_equiangularity"),
        math.sqrt((8 / 9 + 16 / 9) / 11),
        1e-9,
        hint="the std (unbiased) of the C(C-1) off-diagonal entries of the cosine matrix of the centred means",
    )
    # The Gram matrix of the square's means, written out, against the ETF target of 4 classes.
    gram = torch.tensor([[1.0, 0, -1, 0], [0, 4, 0, -4], [-1, 0, 1, 0], [0, -4, 0, 4]], dtype=torch.float64)
    expected = _etf_distance(gram)
    _check_value(
        "nc2_etf_distance on the square features",
        _metric(metrics, "nc2_etf_distance"),
        expected,
        1e-9,
        hint="normalize both Gram matrices by their Frobenius norms before subtracting",
    )
    line = neural_collapse_metrics(*_long_tailed_line()[:2])
    for key, value in (("nc2_equinorm", math.sqrt(2) / 2), ("nc2_etf_distance", math.sqrt(0.4))):
        _check_value(
            f"{key} on classes of 3 samples and 1 sample on a line",
            _metric(line, key),
            value,
            1e-9,
            mistakes=[(0.0, GLOBAL_MEAN_HINT)],
        )
    h, y, _ = _perfect_collapse()
    perfect = neural_collapse_metrics(h, y)
    for key in ("nc2_equinorm", "nc2_equiangularity", "nc2_etf_distance"):
        _check_value(f"{key} under perfect collapse", _metric(perfect, key), 0.0, 1e-9)
    report_pass("nc2")


def check_nc3(neural_collapse_metrics: Callable) -> None:
    h, y, means = _perfect_collapse()
    for factor, expected in [(1.0, 0.0), (3.0, 0.0), (-1.0, 2.0)]:
        value = _metric(neural_collapse_metrics(h, y, factor * means), "nc3")
        _check_value(
            f"nc3 with the classifier equal to {factor:g} x the centred means",
            value,
            expected,
            1e-9,
            hint="normalize W and M by their Frobenius norms: nc3 measures alignment, not scale",
        )
    line, line_labels, weight = _long_tailed_line()
    _check_value(
        "nc3 on classes of 3 samples and 1 sample on a line, with the classifier equal to the centred means",
        _metric(neural_collapse_metrics(line, line_labels, weight), "nc3"),
        0.0,
        1e-9,
        hint=GLOBAL_MEAN_HINT,
    )
    report_pass("nc3", "0 for W = M and W = 3M, 2 for W = -M")


def check_nc4(neural_collapse_metrics: Callable) -> None:
    """Four classes with one sample each at (1, 0), (0, 1), (-1, 0), (0, -1) (each its own class mean).

    With W's columns equal to the samples, the classifier (argmax h @ W) picks each sample's own class: 0.
    With the last two columns swapped, classes 2 and 3 are classified as each other: 0.5. An argmin instead of
    the argmax picks the opposite class every time: 1.0 and 1.0.
    """
    features = torch.tensor([[1.0, 0], [0, 1], [-1, 0], [0, -1]], dtype=torch.float64)
    labels = torch.arange(4)
    for columns, expected in [([0, 1, 2, 3], 0.0), ([0, 1, 3, 2], 0.5)]:
        value = _metric(neural_collapse_metrics(features, labels, features[columns].t()), "nc4")
        _check_value(
            f"nc4 with the classifier's columns {columns}",
            value,
            expected,
            1e-6,  # a fraction of the samples: a float32 mean of the disagreements counts (within 6e-8)
            mistakes=[(1.0, "the classifier predicts argmax_c h @ W (the largest score), not argmin")],
            hint="nc4 is the share of samples where argmax_c h @ W differs from the nearest class mean",
        )
    report_pass("nc4")


def check_long_tailed_indices(long_tailed_indices: Callable) -> None:
    """100 samples of each of 10 classes, ratio 0.1: class c keeps int(100 * 0.1 ** (c / 9)) of them."""
    labels = torch.arange(10).repeat_interleave(100)[
        torch.randperm(1000, generator=torch.Generator().manual_seed(5))
    ]
    expected = [100, 77, 59, 46, 35, 27, 21, 16, 12, 10]  # 100 * 0.1 ** (c / 9), rounded down
    picks = long_tailed_indices(labels, 0.1, seed=0)
    if not isinstance(picks, torch.Tensor) or picks.dtype not in (torch.int64, torch.int32):
        fail(f"long_tailed_indices should return an integer tensor of indices, got {picks!r:.80}")
    counts = torch.bincount(labels[picks], minlength=10).tolist()
    if counts != expected:
        hint = (
            "class 0 keeps the most (n_max) and class C - 1 the fewest (n_max * ratio)"
            if counts == expected[::-1]
            else "class c keeps int(n_max * ratio ** (c / (C - 1))) samples"
        )
        fail(f"long_tailed_indices kept {counts} samples per class, expected {expected}", hint)
    if picks.unique().numel() != picks.numel():
        fail("long_tailed_indices returned an index twice")
    if not torch.equal(picks, long_tailed_indices(labels, 0.1, seed=0)):
        fail("long_tailed_indices is not deterministic for a fixed seed")
    if torch.equal(picks, long_tailed_indices(labels, 0.1, seed=1)):
        fail("long_tailed_indices gave the same subset for two seeds: pick each class's samples at random")
    report_pass("long_tailed_indices", f"{expected} samples per class")
