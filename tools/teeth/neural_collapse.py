"""The teeth of neural_collapse: mutants, mistakes only the hidden checks catch, a correct solution written
differently, correct idioms, and the parameters of a quick notebook run (see tools/teeth/__init__.py)."""

from __future__ import annotations

from tools.grade.workspace import reference_source
from tools.teeth.mutation import HiddenOnlyMutant, Mutant, mutate, rewrite_all

# ---------------------------------------------------------------------------------------------
# Mutants, and a correct solution written differently
# ---------------------------------------------------------------------------------------------
_REFERENCE = reference_source("neural_collapse")
MUTANTS = {
    "etf_without_centring": Mutant(
        mutate(_REFERENCE, "simplex_etf", "(U - U.mean(dim=1, keepdim=True))", "U"),
        {"simplex_etf": "centre the orthonormal columns"},
        {"etf_classifier"},
        notebook=True,
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
    "head_ignores_the_seed": Mutant(
        mutate(
            _REFERENCE,
            "ETFClassifier",
            "simplex_etf(num_features, num_classes, seed=seed)",
            "simplex_etf(num_features, num_classes)",
        ),
        {"etf_classifier": "pass the seed on"},
    ),
    # Reads "weighted by the class sizes" as weights to add: the mean of the class means is unweighted.
    "global_mean_of_the_class_means": Mutant(
        mutate(
            _REFERENCE,
            "neural_collapse_metrics",
            "global_mean = h.mean(dim=0)",
            "global_mean = means.mean(dim=0)",
        ),
        {"nc1": "plain mean", "nc2": "plain mean", "nc3": "plain mean"},
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
    ),
    "naive_objective_gradient_half": Mutant(
        mutate(_REFERENCE, "etf_objective_naive", "            grad[:, j] += 2 * error * W[:, i]\n", ""),
        {"etf_objective_naive": "gradient"},
        {"etf_objective"},
    ),
    "objective_gradient_without_the_factor_4": Mutant(
        mutate(_REFERENCE, "etf_objective", "grad = 4 * W @ error", "grad = 2 * W @ error"),
        {"etf_objective": "gradient"},
        {"etf_gradient_descent"},
    ),
    "etf_objective_loops_over_the_columns": Mutant(
        mutate(
            _REFERENCE,
            "etf_objective",
            "    error = W.t() @ W - M\n",
            "    error = torch.stack([W.t() @ W[:, j] - M[:, j] for j in range(W.shape[1])], dim=1)\n",
        ),
        {"etf_objective": "faster than a loop over the columns"},
    ),
    "descent_steps_up_the_gradient": Mutant(
        mutate(_REFERENCE, "etf_by_gradient_descent", "W = W - lr * grad", "W = W + lr * grad"),
        {"etf_gradient_descent": "tol"},
    ),
    "dot_regression_without_the_half": Mutant(
        mutate(
            _REFERENCE,
            "dot_regression_loss",
            "loss = 0.5 * ((cosine - 1) ** 2).mean()",
            "loss = ((cosine - 1) ** 2).mean()",
        ),
        {"dot_regression_loss": "1/2"},
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
    ),
    "nc3_without_normalizing": Mutant(
        mutate(
            _REFERENCE, "neural_collapse_metrics", "(W / W.norm() - M / M.norm()).norm()", "(W - M).norm()"
        ),
        {"nc3": "nc3"},
    ),
    "nc4_farthest_mean": Mutant(
        mutate(
            _REFERENCE,
            "neural_collapse_metrics",
            "torch.cdist(h, means).argmin(dim=1)",
            "torch.cdist(h, means).argmax(dim=1)",
        ),
        {"nc4": "nc4"},
    ),
}

HIDDEN_ONLY_MUTANTS: dict[str, HiddenOnlyMutant] = {}

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

# Correct solutions in idioms a check could refuse by demanding more than the docstring promises: each must
# pass every self-contained question in-process (tests/test_teeth.py) and every hidden check
# (tests/test_hidden_checks.py).
CORRECT_IDIOMS = {
    # numpy's pseudo-inverse, converted back to a tensor; nc4 as a float32 mean; mu_G as the class means
    # weighted by the class sizes (the plain mean of all features, again).
    "numpy_pinv_float32_nc4_weighted_global_mean": mutate(
        mutate(
            mutate(
                _REFERENCE,
                "neural_collapse_metrics",
                "torch.linalg.pinv(sigma_b)",
                "torch.from_numpy(__import__('numpy').linalg.pinv(sigma_b.cpu().numpy())).to(sigma_b)",
            ),
            "neural_collapse_metrics",
            "(classifier != nearest_mean).double().mean().item()",
            "(classifier != nearest_mean).float().mean().item()",
        ),
        "neural_collapse_metrics",
        "global_mean = h.mean(dim=0)",
        "global_mean = torch.bincount(labels, minlength=num_classes).to(h) @ means / h.shape[0]",
    ),
    "scipy_pinv": mutate(
        _REFERENCE,
        "neural_collapse_metrics",
        "torch.linalg.pinv(sigma_b)",
        "torch.as_tensor(__import__('scipy.linalg').linalg.pinv(sigma_b.cpu().numpy())).to(sigma_b)",
    ),
    # The objective's loops over the unordered pairs i <= j, each pair i < j counted twice; einsum for the
    # vectorized Gram matrix; the ETF's Gaussian drawn in float32; a float64 buffer in the head.
    "unordered_pairs_einsum_float32_draw_float64_head": mutate(
        rewrite_all(
            _REFERENCE,
            {
                "etf_objective_naive": """
                M = etf_gram_target(W.shape[1], dtype=W.dtype, device=W.device)
                C = W.shape[1]
                loss = W.new_zeros(())
                grad = torch.zeros_like(W)
                for i in range(C):
                    for j in range(i, C):
                        error = W[:, i] @ W[:, j] - M[i, j]
                        times = 1 if i == j else 2
                        loss += times * error * error
                        grad[:, i] += 2 * times * error * W[:, j]
                        grad[:, j] += 2 * times * error * W[:, i]
            """,
                "etf_objective": """
                error = torch.einsum("di,dj->ij", W, W) - etf_gram_target(W.shape[1], dtype=W.dtype, device=W.device)
                loss = (error**2).sum()
                grad = 4 * torch.einsum("di,ij->dj", W, error)
            """,
                "simplex_etf": """
                gaussian = torch.randn(D, min(D, C), generator=generator).double()
                Q, _ = torch.linalg.qr(gaussian)
                U = Q if D >= C else Q @ _helmert_basis(C, torch.float64, "cpu").t()
                W = math.sqrt(C / (C - 1)) * (U - U.mean(dim=1, keepdim=True))
            """,
            },
        ),
        "ETFClassifier",
        "simplex_etf(num_features, num_classes, seed=seed))",
        "simplex_etf(num_features, num_classes, seed=seed, dtype=torch.float64))",
    ),
}

QUICK_PARAMETERS: dict = {"EPOCHS": 2, "METRICS_EVERY": 1, "UFM_STEPS": 200}
QUICK_CASUALTIES: set[str] = set()
