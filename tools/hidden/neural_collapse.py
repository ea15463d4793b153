"""Hidden checks, mutants and a correct variant of neural_collapse (see tools/hidden/__init__.py)."""

from __future__ import annotations

import torch

from tools.hidden import Case, draw
from tools.hidden.compare import difference, kind
from tools.hidden.drivers import errors_raised, input_gradients
from tools.hidden.mutation import HiddenOnlyMutant, Mutant, mutate, rewrite_all, solution_source


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
    if not torch.equal(output["weight"], output["etf"]):
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
    if not reached <= tol * (1 + 1e-6) or abs(reached - losses[-1]) > 1e-8 * max(1.0, reached):
        return (
            f"the weight returned has objective {reached:.3g}, "
            f"and the last loss recorded is {losses[-1]:.3g} (tol {tol:g})"
        )
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

# ---------------------------------------------------------------------------------------------
# Mutants, and a correct solution written differently
# ---------------------------------------------------------------------------------------------
_REFERENCE = solution_source("neural_collapse")
MUTANTS = {
    "etf_without_centring": Mutant(
        mutate(_REFERENCE, "simplex_etf", "(U - U.mean(dim=1, keepdim=True))", "U"),
        {"simplex_etf": "centre the orthonormal columns"},
        {"etf_classifier"},
    ),
    "etf_scale_missing": Mutant(
        mutate(_REFERENCE, "simplex_etf", "W = math.sqrt(C / (C - 1)) * (U", "W = (U"),
        {"simplex_etf": "scale by sqrt(C / (C - 1))"},
        {"etf_classifier"},
    ),
    "etf_returned_in_float64": Mutant(
        mutate(
            _REFERENCE,
            "simplex_etf",
            "    return W.to(dtype=dtype, device=device)\n",
            "    return W.to(device=device)\n",
        ),
        {"simplex_etf/float32": "returned torch.float64"},
        {"etf_classifier"},
    ),
    "head_registered_as_a_parameter": Mutant(
        mutate(
            _REFERENCE,
            "ETFClassifier",
            'self.register_buffer("weight", simplex_etf(num_features, num_classes, seed=seed))',
            "self.weight = nn.Parameter(simplex_etf(num_features, num_classes, seed=seed))",
        ),
        {"etf_classifier": "register_buffer"},
    ),
    "nc1_with_sigma_b_not_its_pseudo_inverse": Mutant(
        mutate(_REFERENCE, "neural_collapse_metrics", "torch.linalg.pinv(sigma_b)", "sigma_b"),
        {"nc1": "pseudo-inverse"},
    ),
    "long_tailed_profile_inverted": Mutant(
        mutate(
            _REFERENCE,
            "long_tailed_counts",
            "imbalance_ratio ** (c / (num_classes - 1))",
            "imbalance_ratio ** ((num_classes - 1 - c) / (num_classes - 1))",
        ),
        {"long_tailed_indices": "class 0 keeps the most"},
    ),
    # Graded in-process only (tests/test_teeth.py): they break self-contained questions alone.
    "gram_target_off_by_one": Mutant(
        mutate(_REFERENCE, "etf_gram_target", "-1.0 / (C - 1)", "-1.0 / C"),
        {"etf_gram_target": "-1/(C-1), not -1/C"},
        {
            "etf_objective_naive",
            "etf_objective",
            "etf_gradient_descent",
            "simplex_etf",
            "etf_classifier",
            "nc2",
        },
        notebook=False,
    ),
    "naive_objective_gradient_half": Mutant(
        mutate(_REFERENCE, "etf_objective_naive", "            grad[:, j] += 2 * error * W[:, i]\n", ""),
        {"etf_objective_naive": "gradient"},
        {"etf_objective"},
        notebook=False,
    ),
    "objective_gradient_without_the_factor_4": Mutant(
        mutate(_REFERENCE, "etf_objective", "grad = 4 * W @ error", "grad = 2 * W @ error"),
        {"etf_objective": "gradient"},
        {"etf_gradient_descent"},
        notebook=False,
    ),
    "etf_objective_loops_over_the_columns": Mutant(
        mutate(
            _REFERENCE,
            "etf_objective",
            "    error = W.t() @ W - M\n",
            "    error = torch.stack([W.t() @ W[:, j] - M[:, j] for j in range(W.shape[1])], dim=1)\n",
        ),
        {"etf_objective": "faster than a loop over the columns"},
        notebook=False,
    ),
    "descent_steps_up_the_gradient": Mutant(
        mutate(_REFERENCE, "etf_by_gradient_descent", "W = W - lr * grad", "W = W + lr * grad"),
        {"etf_gradient_descent": "tol"},
        notebook=False,
    ),
    "dot_regression_without_the_half": Mutant(
        mutate(
            _REFERENCE,
            "dot_regression_loss",
            "loss = 0.5 * ((cosine - 1) ** 2).mean()",
            "loss = ((cosine - 1) ** 2).mean()",
        ),
        {"dot_regression_loss": "1/2"},
        notebook=False,
    ),
    "dot_regression_weight_detached": Mutant(
        mutate(
            _REFERENCE,
            "dot_regression_loss",
            "F.normalize(weight, dim=0)[:, labels]",
            "F.normalize(weight.detach(), dim=0)[:, labels]",
        ),
        {"dot_regression_loss/gradient": "no gradient to the weight"},
    ),
    "equinorm_without_the_mean": Mutant(
        mutate(
            _REFERENCE, "neural_collapse_metrics", "(norms.std() / norms.mean()).item()", "norms.std().item()"
        ),
        {"nc2": "nc2_equinorm"},
        notebook=False,
    ),
    "nc3_without_normalizing": Mutant(
        mutate(
            _REFERENCE, "neural_collapse_metrics", "(W / W.norm() - M / M.norm()).norm()", "(W - M).norm()"
        ),
        {"nc3": "nc3"},
        notebook=False,
    ),
    "nc4_farthest_mean": Mutant(
        mutate(
            _REFERENCE,
            "neural_collapse_metrics",
            "torch.cdist(h, means).argmin(dim=1)",
            "torch.cdist(h, means).argmax(dim=1)",
        ),
        {"nc4": "nc4"},
        notebook=False,
    ),
}

# The notebook's check builds its head with the default seed.
HIDDEN_ONLY_MUTANTS = {
    "head_ignores_the_seed": HiddenOnlyMutant(
        mutate(
            _REFERENCE,
            "ETFClassifier",
            "simplex_etf(num_features, num_classes, seed=seed)",
            "simplex_etf(num_features, num_classes)",
        ),
        "etf_classifier",
    ),
}

ALTERNATIVE = rewrite_all(
    _REFERENCE,
    {
        "etf_objective": """
            W_ = W.detach().requires_grad_(True)
            gram = W_.t() @ W_
            target = torch.full_like(gram, -1 / (W.shape[1] - 1)).fill_diagonal_(1)
            loss = ((gram - target) ** 2).sum()
            (grad,) = torch.autograd.grad(loss, W_)
            loss = loss.detach()
        """,
        "simplex_etf": """
            # An orthonormal (D, C - 1) basis times the Helmert basis: W^T W = C/(C-1) H H^T, for every D >= C - 1.
            P, _ = torch.linalg.qr(torch.randn(D, C - 1, generator=generator, dtype=torch.float64))
            W = math.sqrt(C / (C - 1)) * P @ _helmert_basis(C, torch.float64, "cpu").t()
        """,
        "dot_regression_loss": """
            cosine = F.cosine_similarity(features, weight.t()[labels], dim=1)
            loss = ((1 - cosine) ** 2).mean() / 2
        """,
    },
)

QUICK_PARAMETERS: dict = {"EPOCHS": 2, "METRICS_EVERY": 1, "UFM_STEPS": 200}
QUICK_CASUALTIES: set[str] = set()
