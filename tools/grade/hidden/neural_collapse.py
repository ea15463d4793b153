"""The hidden checks of neural_collapse: its CASES (see tools/grade/hidden/engine.py)."""

from __future__ import annotations

import torch

from tools.grade.hidden import draw
from tools.grade.hidden.compare import difference, kind
from tools.grade.hidden.drivers import errors_raised, input_gradients
from tools.grade.hidden.engine import Case
from utils.grading import apart


# ---------------------------------------------------------------------------------------------
# Hidden checks
# ---------------------------------------------------------------------------------------------
def _gram(weight):
    """The Gram matrix of an ETF's columns: the same for every rotation of a correct answer."""
    return (
        weight.double().t() @ weight.double()
        if isinstance(weight, torch.Tensor) and weight.dim() == 2
        else weight
    )


def _metric(*keys: str):
    return lambda metrics: {key: metrics.get(key) for key in keys} if isinstance(metrics, dict) else metrics


def _cases() -> list[Case]:
    def columns(most_d: int):
        return lambda gen: (draw.randn(gen, draw.integer(gen, 1, most_d), draw.integer(gen, 2, 10)),)

    def etf_size(dtype):
        def inputs(gen):
            c = draw.integer(gen, 2, 16)
            return c + draw.integer(gen, -1, 8), c, draw.integer(gen, 0, 1000), dtype

        return inputs

    def features(gen):
        c, d = draw.integer(gen, 2, 8), draw.integer(gen, 4, 16)
        counts = [draw.integer(gen, 3, 20) for _ in range(c)]
        labels = torch.cat([torch.full((m,), k) for k, m in enumerate(counts)])
        means = draw.randn(gen, c, d, scale=3.0)
        weight = draw.randn(gen, d, c)
        return means[labels] + draw.randn(gen, len(labels), d), labels, weight

    def counts(gen):
        return draw.integer(gen, 10, 5000), draw.integer(gen, 2, 100), draw.uniform(gen, 0.005, 1.0)

    metrics = "neural_collapse_metrics"
    return [
        Case("etf_gram_target", "etf_gram_target", lambda gen: (draw.integer(gen, 2, 30),)),
        Case("etf_gram_target", "etf_gram_target", lambda gen: (draw.integer(gen, 2, 30), torch.float32)),
        Case("etf_objective_naive", "etf_objective_naive", columns(8)),
        Case("etf_objective", "etf_objective", columns(40)),
        Case("etf_objective", "etf_objective", columns(40)),
        Case(
            "etf_gradient_descent",
            "etf_by_gradient_descent",
            lambda gen: (
                draw.integer(gen, 8, 16),
                draw.integer(gen, 2, 6),
                0.05,
                1e-6,
                20000,
                draw.integer(gen, 0, 1000),
            ),
            property=_descended,
        ),
        Case("simplex_etf", "simplex_etf", etf_size(torch.float64), _gram, part="exact"),
        Case("simplex_etf", "simplex_etf", etf_size(torch.float32), _gram, part="float32"),
        Case("dot_regression_loss", "dot_regression_loss", features, part="value"),
        Case(
            "dot_regression_loss",
            "dot_regression_loss",
            lambda gen: ("dot_regression_loss", *features(gen)),
            driver=input_gradients,
            part="gradient",
        ),
        Case(
            "simplex_etf",
            "simplex_etf",
            lambda gen: ("simplex_etf", [(c - 2, c) for c in (draw.integer(gen, 3, 16),)]),  # D < C - 1
            driver=errors_raised,
            part="bad_input",
        ),
        Case("nc1", metrics, features, _metric("nc1")),
        Case("nc2", metrics, features, _metric("nc2_equinorm", "nc2_equiangularity", "nc2_etf_distance")),
        Case("nc3", metrics, features, _metric("nc3")),
        Case("nc4", metrics, features, _metric("nc4")),
        Case("long_tailed_indices", "long_tailed_counts", counts),
        Case("long_tailed_indices", "long_tailed_counts", counts),
        Case("long_tailed_indices", "long_tailed_indices", _balanced_labels, property=_is_long_tailed),
        *(
            Case(
                "etf_classifier",
                "ETFClassifier",
                _head(normalize),
                property=_is_an_etf_head,
                driver=probe_head,
            )
            for normalize in (False, True)
        ),
    ]


def _head(normalize_features: bool):
    def inputs(gen):
        c = draw.integer(gen, 2, 10)
        d = c + draw.integer(gen, -1, 6)
        features = draw.randn(gen, draw.integer(gen, 1, 12), d, dtype=torch.float32, scale=3.0)
        return d, c, draw.uniform(gen, 0.5, 10), normalize_features, draw.integer(gen, 1, 1000), features

    return inputs


def probe_head(module, num_features, num_classes, scale, normalize_features, seed, features):
    """The student's ETFClassifier: what it registers, its weight, its logits, and the student's own
    simplex_etf for the same seed (the head should hold that ETF)."""
    head = module.ETFClassifier(num_features, num_classes, scale, normalize_features, seed)
    return {
        "parameters": [name for name, _ in head.named_parameters()],
        "buffers": [name for name, _ in head.named_buffers()],
        "state": list(head.state_dict()),
        "weight": head.weight,
        "etf": module.simplex_etf(num_features, num_classes, seed=seed),
        "logits": head(features),
    }


def _is_an_etf_head(args, output) -> str | None:
    """A buffer (saved, never a parameter) holding simplex_etf(D, C, seed) whose Gram matrix is an ETF's, and
    logits scale * h @ weight (h normalized when asked)."""
    num_features, num_classes, scale, normalize_features, _, features = args
    if not isinstance(output, dict) or not isinstance(output.get("weight"), torch.Tensor):
        return "the head should have a weight tensor"
    if "weight" in output["parameters"]:
        return "the head's weight is a Parameter, which an optimizer would train: register it as a buffer"
    if "weight" not in output["buffers"] or "weight" not in output["state"]:
        return "the head's weight should be a registered (persistent) buffer"
    weight = output["weight"].double()
    if weight.shape != (num_features, num_classes):
        return f"the weight has shape {tuple(weight.shape)}, expected {(num_features, num_classes)}"
    target = torch.full(
        (num_classes, num_classes), -1 / (num_classes - 1), dtype=torch.float64
    ).fill_diagonal_(1)
    if (weight.t() @ weight - target).abs().max() > 1e-5:
        return "the weight's Gram matrix is not a simplex ETF's"
    # Within float32's rounding: the docstring leaves the buffer's dtype open (simplex_etf's default is float32).
    etf = output["etf"]
    if (
        not isinstance(etf, torch.Tensor)
        or etf.shape != weight.shape
        or (etf.double() - weight).abs().max() > 1e-6
    ):
        return "the weight is not simplex_etf(num_features, num_classes, seed=seed): pass the seed on"
    h = torch.nn.functional.normalize(features.double(), dim=1) if normalize_features else features.double()
    return difference(output["logits"], scale * h @ weight, 1e-4, "the logits")


def _descended(args, output) -> str | None:
    """A descent that ends at the objective's tol with a decreasing record of len iterations + 1, on its own
    weight (any starting point is right: the case is checked by what it reached)."""
    num_features, num_classes, _, tol, _, _ = args
    if not (isinstance(output, (list, tuple)) and len(output) == 3):
        return f"the output should be DescentResult(weight, iterations, losses), got {kind(output)}"
    weight, iterations, losses = output
    if not isinstance(weight, torch.Tensor) or weight.shape != (num_features, num_classes):
        return f"the weight should be a tensor of shape {(num_features, num_classes)}, got {kind(weight)}"
    if not isinstance(losses, (list, tuple)) or len(losses) != iterations + 1 or not losses:
        return "losses should hold the objective before each step and after the last: iterations + 1 values"
    from solutions.neural_collapse import etf_objective

    reached = float(etf_objective(weight.double())[0])
    if not reached <= tol * (1 + 1e-6):
        shown, goal = apart(reached, tol, 3, "g", first=(f"{reached:.3g}", f"{tol:g}"))
        return f"the weight returned has objective {shown}, expected at most tol = {goal}"
    if abs(reached - float(losses[-1])) > 1e-8 * max(1.0, reached):
        shown, recorded = apart(reached, float(losses[-1]), 3)
        return f"the weight returned has objective {shown}, but the last loss recorded is {recorded}"
    if any(b >= a for a, b in zip(losses, losses[1:])) or any(loss <= tol for loss in losses[:-1]):
        return "the losses should fall at every step and stop at the first one <= tol"
    return None


def _balanced_labels(gen):
    c, m = draw.integer(gen, 2, 12), draw.integer(gen, 5, 80)
    labels = torch.arange(c).repeat_interleave(m)
    return (
        labels[torch.randperm(len(labels), generator=gen)],
        draw.uniform(gen, 0.02, 1.0),
        draw.integer(gen, 0, 100),
    )


def _is_long_tailed(args, output) -> str | None:
    """Distinct valid indices whose class sizes follow the reference's long-tailed profile."""
    labels, ratio, _ = args
    if not isinstance(output, torch.Tensor) or output.dim() != 1 or output.is_floating_point():
        return f"the output should be a 1-D tensor of indices, got {kind(output)}"
    if output.numel() and (output.min() < 0 or output.max() >= len(labels)):
        return "some indices lie outside the dataset"
    if len(output.unique()) != len(output):
        return "some indices repeat: each sample should be kept at most once"
    from solutions.neural_collapse import long_tailed_counts

    num_classes = int(labels.max()) + 1
    expected = long_tailed_counts(int((labels == 0).sum()), num_classes, ratio)
    got = torch.bincount(labels[output], minlength=num_classes).tolist()
    return None if got == expected else f"the class sizes are {got}, expected {expected}"


CASES = _cases()
