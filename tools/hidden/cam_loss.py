"""Hidden checks, mutants and a correct variant of cam_loss (see tools/hidden/__init__.py)."""

from __future__ import annotations

import torch

from tools.hidden import Case, draw
from tools.hidden.mutation import HiddenOnlyMutant, Mutant, mutate, rewrite_all, solution_source


# ---------------------------------------------------------------------------------------------
# Hidden checks
# ---------------------------------------------------------------------------------------------
def _feature_maps(dtype, most_b: int, most_k: int, most_hw: int):
    def inputs(gen):
        b, k, h, w, c = (
            draw.integer(gen, 1, most_b),
            draw.integer(gen, 1, most_k),
            draw.integer(gen, 1, most_hw),
            draw.integer(gen, 1, most_hw),
            draw.integer(gen, 2, 12),
        )
        fmap = draw.randn(gen, b, k, h, w).relu().to(dtype)
        return fmap, torch.randint(c, (b,), generator=gen), draw.randn(gen, c, k, dtype=dtype)

    return inputs


def _cases() -> list[Case]:
    def maps(gen):
        b, h, w = draw.integer(gen, 1, 8), draw.integer(gen, 1, 9), draw.integer(gen, 1, 9)
        result = draw.randn(gen, b, h, w, scale=draw.uniform(gen, 1, 100))
        result[0] = 1.5  # a constant map normalizes to zeros
        return (result,)

    def loss_inputs(dtype):
        def inputs(gen):
            fmap, labels, weight = _feature_maps(dtype, 8, 16, 7)(gen)
            return (
                draw.randn(gen, len(labels), weight.shape[0], dtype=dtype),
                fmap,
                labels,
                weight,
                draw.uniform(gen, 0, 5),
            )

        return inputs

    def localization(gen):
        b, h, w = draw.integer(gen, 1, 10), draw.integer(gen, 2, 9), draw.integer(gen, 2, 9)
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
                    draw.integer(gen, 0, 3),
                    draw.integer(gen, 1, 5),
                    draw.uniform(gen, 0.1, 10),
                ),  # epochs around the warm-up's end
                lambda gen: (draw.integer(gen, 5, 50), draw.integer(gen, 0, 5), draw.uniform(gen, 0.1, 10)),
            )
        ),
    ]


CASES = _cases()

# ---------------------------------------------------------------------------------------------
# Mutants, and a correct solution written differently
# ---------------------------------------------------------------------------------------------
_REFERENCE = solution_source("cam_loss")
_CAM_IN_LOSS = "cam = min_max_normalize(make_cam(feature_map, labels, fc_weight.detach()))"
MUTANTS = {
    "l1_summed_not_averaged": Mutant(
        mutate(
            _REFERENCE, "cam_loss", "l_cam = (cam - caam).abs().mean()", "l_cam = (cam - caam).abs().sum()"
        ),
        {"cam_loss": "do not sum them"},
        {"cam_loss_train_step"},
    ),
    "fc_weight_not_detached": Mutant(
        mutate(
            _REFERENCE,
            "cam_loss",
            _CAM_IN_LOSS,
            "cam = min_max_normalize(make_cam(feature_map, labels, fc_weight))",
        ),
        {"cam_loss/gradient_routing": "fc_weight.detach()"},
        {"cam_loss_train_step"},
    ),
    "normalized_over_the_batch": Mutant(
        mutate(
            _REFERENCE,
            "min_max_normalize",
            "    flat = maps.flatten(1)\n",
            "    flat = maps.flatten().unsqueeze(0)\n",
        ),
        {"min_max_normalize": "not the batch's"},
        {"cam_loss", "cam_loss_train_step", "localization"},
    ),
    "normalized_along_one_axis": Mutant(
        mutate(
            _REFERENCE,
            "min_max_normalize",
            "    flat = maps.flatten(1)\n    low = flat.min(dim=1).values.view(-1, 1, 1)\n"
            "    high = flat.max(dim=1).values.view(-1, 1, 1)\n",
            "    low, high = maps.amin(dim=2, keepdim=True), maps.amax(dim=2, keepdim=True)\n",
        ),
        {"min_max_normalize": "both spatial axes"},
        {"cam_loss", "cam_loss_train_step"},
    ),
    "cam_of_the_predicted_class": Mutant(
        mutate(
            _REFERENCE,
            "cam_loss",
            _CAM_IN_LOSS,
            "cam = min_max_normalize(make_cam(feature_map, logits.argmax(dim=1), fc_weight.detach()))",
        ),
        {"cam_loss": "not of its predicted class"},
        {"cam_loss_train_step"},
    ),
    "maps_compared_before_normalization": Mutant(
        mutate(
            _REFERENCE,
            "cam_loss",
            "    l_cam = (cam - caam).abs().mean()\n",
            "    l_cam = (make_cam(feature_map, labels, fc_weight.detach()) - make_caam(feature_map)).abs().mean()\n",
        ),
        {"cam_loss": "normalize both maps before comparing"},
        {"cam_loss_train_step"},
    ),
    # Graded in-process only (tests/test_teeth.py), but for the train step's, which training needs.
    "naive_cam_keeps_the_last_channel": Mutant(
        mutate(
            _REFERENCE,
            "make_cam_naive",
            "cams[b] += fc_weight[labels[b], k] * feature_map[b, k]",
            "cams[b] = fc_weight[labels[b], k] * feature_map[b, k]",
        ),
        {"make_cam_naive": "wrong value"},
        {"make_cam"},
        notebook=False,
    ),
    "vectorized_cam_calls_the_loop": Mutant(
        mutate(
            _REFERENCE,
            "make_cam",
            "    B, K, H, W = feature_map.shape\n    weights",
            "    return make_cam_naive(feature_map, labels, fc_weight)\n"
            "    B, K, H, W = feature_map.shape\n    weights",
        ),
        {"make_cam": "faster than the naive version"},
        notebook=False,
    ),
    "caam_averaged_not_summed": Mutant(
        mutate(_REFERENCE, "make_caam", "caam = feature_map.sum(dim=1)", "caam = feature_map.mean(dim=1)"),
        {"make_caam": "wrong value"},
        {"cam_loss", "cam_loss_train_step"},
        notebook=False,
    ),
    "mass_inside_by_area": Mutant(
        mutate(
            _REFERENCE,
            "cam_mass_inside",
            "    inside = (maps * masks).sum(dim=(1, 2))\n    total = maps.sum(dim=(1, 2))\n",
            "    inside = (maps * masks).sum(dim=(1, 2)) / masks.sum(dim=(1, 2)).clamp(min=1)\n"
            "    total = maps.mean(dim=(1, 2))\n",
        ),
        {"localization": "not mean inside / mean overall"},
        notebook=False,
    ),
    "train_step_without_backward": Mutant(
        mutate(_REFERENCE, "cam_loss_train_step", "    total.backward()\n", ""),
        {"cam_loss_train_step": "unchanged", "cam_training": "accuracy"},
        full_run=True,
    ),
}

HIDDEN_ONLY_MUTANTS: dict[str, HiddenOnlyMutant] = {}

ALTERNATIVE = rewrite_all(
    _REFERENCE,
    {
        "make_cam": 'cams = torch.einsum("bk,bkhw->bhw", fc_weight[labels], feature_map)',
        "min_max_normalize": """
            low, high = maps.amin(dim=(1, 2), keepdim=True), maps.amax(dim=(1, 2), keepdim=True)
            normalized = (maps - low) / (high - low + eps)
        """,
    },
)

QUICK_PARAMETERS: dict = {"NUM_TRAIN": 256, "EPOCHS": 1, "WARMUP_EPOCHS": 0, "NUM_TEST": 200}
QUICK_CASUALTIES: set[str] = {"cam_training"}
