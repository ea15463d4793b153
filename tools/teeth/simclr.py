"""The teeth of simclr: mutants, mistakes only the hidden checks catch, a correct solution written
differently, correct idioms, and the parameters of a quick notebook run (see tools/teeth/__init__.py)."""

from __future__ import annotations

from tools.grade.workspace import reference_source
from tools.teeth.mutation import HiddenOnlyMutant, Mutant, mutate, rewrite, rewrite_all

# ---------------------------------------------------------------------------------------------
# Mutants, and a correct solution written differently
# ---------------------------------------------------------------------------------------------
_REFERENCE = reference_source("simclr")
MUTANTS = {
    "self_in_denominator": Mutant(
        mutate(
            _REFERENCE,
            "simclr_loss_naive",
            "            if k != i:\n                denominator",
            "            if True:\n                denominator",
        ),
        {"simclr_loss_naive": "leave out k = i"},
        notebook=True,
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
        {"simclr_train_step", "simclr_training"},
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
        rewrite(
            _REFERENCE,
            "simclr_loss_vectorized",
            """out = torch.cat([out_left, out_right], dim=0)
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
    ),
    "positive_pairs_without_a_column": Mutant(
        mutate(
            _REFERENCE,
            "sim_positive_pairs",
            "F.cosine_similarity(out_left, out_right, dim=1).unsqueeze(1)",
            "F.cosine_similarity(out_left, out_right, dim=1)",
        ),
        {"sim_positive_pairs": "expected (6, 1)"},
        {"simclr_loss_vectorized", "simclr_train_step", "simclr_training"},
    ),
    "train_step_never_steps": Mutant(
        mutate(_REFERENCE, "simclr_train_step", "    optimizer.step()\n", ""),
        {"simclr_train_step": "did not change the model's parameters", "simclr_training": "accuracy"},
        full_size_gate=True,
    ),
}

# The notebook's step check only asks that the loss falls on a fixed batch, which it still does.
HIDDEN_ONLY_MUTANTS = {
    "train_step_never_zeroes_the_gradients": HiddenOnlyMutant(
        mutate(_REFERENCE, "simclr_train_step", "    optimizer.zero_grad()\n", ""), "simclr_train_step"
    ),
}

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

# Correct solutions in idioms a check could refuse by demanding more than the docstring promises: each must
# pass every self-contained question in-process (tests/test_teeth.py) and every hidden check
# (tests/test_hidden_checks.py).
CORRECT_IDIOMS = {
    # CS231n's step: a forward pass per view (BatchNorm then normalizes each view with its own statistics).
    "step_one_view_at_a_time": rewrite(
        _REFERENCE,
        "simclr_train_step",
        """
        _, z_i = model(x_i)
        _, z_j = model(x_j)
        loss = simclr_loss_vectorized(z_i, z_j, tau)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        """,
    ),
    # The similarity matrix by einsum, the self-pairs masked with torch.where, the loss cast back to the inputs'
    # dtype (half precision included).
    "einsum_where_and_the_inputs_dtype": rewrite_all(
        _REFERENCE,
        {
            "compute_sim_matrix": """
                unit = out / out.norm(dim=1, keepdim=True)
                sim_matrix = torch.einsum("id,kd->ik", unit, unit)
            """,
            "simclr_loss_vectorized": """
                out = torch.cat([out_left, out_right]).to(torch.promote_types(out_left.dtype, torch.float32))
                self_pairs = torch.eye(2 * N, dtype=torch.bool, device=out.device)
                logits = torch.where(self_pairs, float("-inf"), compute_sim_matrix(out) / tau)
                positives = torch.cat([logits.diagonal(N), logits.diagonal(-N)])
                loss = (torch.logsumexp(logits, dim=1) - positives).mean().to(out_left.dtype)
            """,
        },
    ),
}

QUICK_PARAMETERS: dict = {"TRAIN_STEPS": 3}
QUICK_CASUALTIES: set[str] = {"simclr_training"}
