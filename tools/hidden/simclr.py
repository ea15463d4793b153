"""Hidden checks, mutants and a correct variant of simclr (see tools/hidden/__init__.py)."""

from __future__ import annotations

import torch

from tools.hidden import Case, draw
from tools.hidden.mutation import HiddenOnlyMutant, Mutant, mutate, rewrite_all, solution_source


# ---------------------------------------------------------------------------------------------
# Hidden checks
# ---------------------------------------------------------------------------------------------
def _pair(dtype, most: int):
    def inputs(gen):
        n, d = draw.integer(gen, 2, most), draw.integer(gen, 2, 16)
        left = draw.randn(gen, n, d, dtype=dtype, scale=draw.uniform(gen, 0.1, 5))
        right = (left.double() + draw.randn(gen, n, d)).to(dtype)
        return left, right, draw.uniform(gen, 0.05, 1.0)

    return inputs


def _cases() -> list[Case]:
    def vectors(gen):
        d = draw.integer(gen, 1, 64)
        return draw.randn(gen, d, scale=draw.uniform(gen, 0.1, 10)), draw.randn(gen, d)

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


CASES = _cases()

# ---------------------------------------------------------------------------------------------
# Mutants, and a correct solution written differently
# ---------------------------------------------------------------------------------------------
_REFERENCE = solution_source("simclr")
MUTANTS = {
    "self_in_denominator": Mutant(
        mutate(
            _REFERENCE,
            "simclr_loss_naive",
            "            if k != i:\n                denominator",
            "            if True:\n                denominator",
        ),
        {"simclr_loss_naive": "leave out k = i"},
    ),
    "positive_from_the_wrong_half": Mutant(
        mutate(_REFERENCE, "simclr_loss_naive", "positive = i + N if i < N else i - N", "positive = i"),
        {"simclr_loss_naive": "not row k itself"},
    ),
    "similarity_without_normalization": Mutant(
        mutate(
            _REFERENCE,
            "compute_sim_matrix",
            "out_norm = out / out.norm(dim=1, keepdim=True)",
            "out_norm = out",
        ),
        {"compute_sim_matrix": "normalize the rows", "simclr_loss_vectorized": "relative error"},
        {"simclr_train_step"},
    ),
    "loss_summed_not_averaged": Mutant(
        mutate(
            _REFERENCE,
            "simclr_loss_vectorized",
            "(log_denominator - positives.repeat(2)).mean()",
            "(log_denominator - positives.repeat(2)).sum()",
        ),
        {"simclr_loss_vectorized": "instead of summing"},
        {"simclr_train_step"},
    ),
    # The textbook formula, exact in float64: exp(sim / tau) overflows half precision.
    "textbook_nt_xent_without_log_sum_exp": Mutant(
        mutate(
            _REFERENCE,
            "simclr_loss_vectorized",
            """    dtype = torch.promote_types(out_left.dtype, torch.float32)
    out = torch.cat([out_left, out_right], dim=0).to(dtype)
    logits = compute_sim_matrix(out).div_(tau)  # in place: the product's backward does not need its output
    logits.fill_diagonal_(float("-inf"))  # k = i leaves the denominator
    log_denominator = torch.logsumexp(logits, dim=1)
    positives = sim_positive_pairs(out[:N], out[N:]).squeeze(1) / tau
    loss = (log_denominator - positives.repeat(2)).mean()
""",
            """    out = torch.cat([out_left, out_right], dim=0)
    others = 1 - torch.eye(2 * N, dtype=out.dtype, device=out.device)
    denominator = (torch.exp(compute_sim_matrix(out) / tau) * others).sum(dim=1)
    positives = torch.exp(sim_positive_pairs(out[:N], out[N:]).squeeze(1) / tau).repeat(2)
    loss = -torch.log(positives / denominator).mean()
""",
        ),
        {"simclr_loss_vectorized/half_precision": "overflows half precision"},
    ),
    "vectorized_loss_accepts_bad_input": Mutant(
        mutate(_REFERENCE, "simclr_loss_vectorized", "    _check_pair(out_left, out_right, tau)\n", ""),
        {"simclr_loss_vectorized/bad_input": "raise ValueError"},
    ),
    "transform_without_colour_jitter": Mutant(
        mutate(
            _REFERENCE,
            "compute_train_transform",
            "        transforms.RandomApply([color_jitter], p=0.8),\n",
            "",
        ),
        {"compute_train_transform": "colour jitter is essential"},
    ),
    # Graded in-process only (tests/test_teeth.py), but for the train step's, which training needs.
    "cosine_without_normalization": Mutant(
        mutate(
            _REFERENCE,
            "sim",
            "torch.dot(z_i, z_j) / (torch.linalg.norm(z_i) * torch.linalg.norm(z_j))",
            "torch.dot(z_i, z_j)",
        ),
        {"sim": "both norms"},
        {"simclr_loss_naive"},
        notebook=False,
    ),
    "positive_pairs_without_a_column": Mutant(
        mutate(
            _REFERENCE,
            "sim_positive_pairs",
            "F.cosine_similarity(out_left, out_right, dim=1).unsqueeze(1)",
            "F.cosine_similarity(out_left, out_right, dim=1)",
        ),
        {"sim_positive_pairs": "expected (6, 1)"},
        {"simclr_loss_vectorized", "simclr_train_step"},
        notebook=False,
    ),
    "train_step_never_steps": Mutant(
        mutate(_REFERENCE, "simclr_train_step", "    optimizer.step()\n", ""),
        {"simclr_train_step": "did not change the model's parameters", "simclr_training": "accuracy"},
        full_run=True,
    ),
}

HIDDEN_ONLY_MUTANTS: dict[str, HiddenOnlyMutant] = {}

ALTERNATIVE = rewrite_all(
    _REFERENCE,
    {
        "sim": "norm_dot_product = F.cosine_similarity(z_i, z_j, dim=0)",
        "compute_sim_matrix": "sim_matrix = F.cosine_similarity(out[:, None, :], out[None, :, :], dim=2)",
        "simclr_loss_vectorized": """
            out = torch.cat([out_left, out_right]).to(torch.promote_types(out_left.dtype, torch.float32))
            self_pairs = torch.eye(2 * N, dtype=torch.bool, device=out.device)
            logits = (compute_sim_matrix(out) / tau).masked_fill(self_pairs, float("-inf"))
            targets = torch.cat([torch.arange(N, 2 * N), torch.arange(N)]).to(out.device)
            loss = F.cross_entropy(logits, targets)
        """,
    },
)

QUICK_PARAMETERS: dict = {"TRAIN_STEPS": 3}
QUICK_CASUALTIES: set[str] = {"simclr_training"}
