"""The teeth of cam_loss: mutants, mistakes only the hidden checks catch, a correct solution written
differently, correct idioms, and the parameters of a quick notebook run (see tools/teeth/__init__.py)."""

from __future__ import annotations

from tools.grade.workspace import reference_source
from tools.teeth.mutation import HiddenOnlyMutant, Mutant, mutate, rewrite, rewrite_all

# ---------------------------------------------------------------------------------------------
# Mutants, and a correct solution written differently
# ---------------------------------------------------------------------------------------------
_REFERENCE = reference_source("cam_loss")
_CAM_IN_LOSS = "cam = min_max_normalize(make_cam(feature_map, labels, fc_weight.detach()))"
MUTANTS = {
    "l1_summed_not_averaged": Mutant(
        mutate(
            _REFERENCE, "cam_loss", "l_cam = (cam - caam).abs().mean()", "l_cam = (cam - caam).abs().sum()"
        ),
        {"cam_loss": "do not sum them"},
        {"cam_loss_train_step"},
        notebook=True,
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
    ),
    "make_cam_loops_over_the_samples": Mutant(
        mutate(
            _REFERENCE,
            "make_cam",
            "    cams = torch.bmm(weights, feature_map.reshape(B, K, H * W)).view(B, H, W)\n",
            "    cams = torch.stack([weights[b] @ feature_map[b].reshape(K, H * W) for b in range(B)]).view(B, H, W)\n",
        ),
        {"make_cam": "faster than a loop over the samples"},
        frozenset({"cam_training"}),
    ),
    "vectorized_cam_calls_the_loop": Mutant(
        mutate(
            _REFERENCE,
            "make_cam",
            "    B, K, H, W = feature_map.shape\n    weights",
            "    return make_cam_naive(feature_map, labels, fc_weight)\n"
            "    B, K, H, W = feature_map.shape\n    weights",
        ),
        {"make_cam": "faster than a loop over the samples"},
        # Training through the loop runs past its limit, ten times the reference's time.
        frozenset({"cam_training"}),
    ),
    "caam_averaged_not_summed": Mutant(
        mutate(_REFERENCE, "make_caam", "caam = feature_map.sum(dim=1)", "caam = feature_map.mean(dim=1)"),
        {"make_caam": "wrong value"},
        {"cam_loss", "cam_loss_train_step"},
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
    ),
    "train_step_without_backward": Mutant(
        mutate(_REFERENCE, "cam_loss_train_step", "    total.backward()\n", ""),
        {"cam_loss_train_step": "unchanged", "cam_training": "accuracy"},
        full_size_gate=True,
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

# Correct solutions in idioms a check could refuse by demanding more than the docstring promises: each must
# pass every self-contained question in-process (tests/test_teeth.py) and every hidden check
# (tests/test_hidden_checks.py).
CORRECT_IDIOMS = {
    # bmm with the weights on the right (the reference has them on the left, the variant uses einsum).
    "cam_by_bmm_on_the_right": rewrite(
        _REFERENCE,
        "make_cam",
        """
        B, K, H, W = feature_map.shape
        pixels = feature_map.reshape(B, K, H * W).transpose(1, 2)  # (B, HW, K)
        cams = torch.bmm(pixels, fc_weight[labels].unsqueeze(2)).view(B, H, W)
        """,
    ),
    "cam_by_broadcasting": rewrite(
        _REFERENCE, "make_cam", "cams = (fc_weight[labels][:, :, None, None] * feature_map).sum(dim=1)"
    ),
    # torch.where: a map whose range is below eps becomes zeros (the clamp keeps the other branch finite, and
    # its gradient too); nan_to_num for the empty maps' share; F.l1_loss for l_cam.
    "where_nan_to_num_and_l1_loss": rewrite_all(
        _REFERENCE,
        {
            "min_max_normalize": """
                low, high = maps.amin(dim=(1, 2), keepdim=True), maps.amax(dim=(1, 2), keepdim=True)
                spread = high - low
                normalized = torch.where(spread < eps, torch.zeros_like(maps), (maps - low) / spread.clamp(min=eps))
            """,
            "cam_mass_inside": """
                share = torch.nan_to_num((maps * masks).sum(dim=(1, 2)) / maps.sum(dim=(1, 2)), nan=0.0)
            """,
            "cam_loss": """
                l_ce = F.cross_entropy(logits, labels)
                cam = min_max_normalize(make_cam(feature_map, labels, fc_weight.detach()))
                l_cam = F.l1_loss(cam, min_max_normalize(make_caam(feature_map)))
                total = l_ce + alpha * l_cam
            """,
        },
    ),
}

QUICK_PARAMETERS: dict = {"NUM_TRAIN": 256, "EPOCHS": 1, "WARMUP_EPOCHS": 0, "NUM_TEST": 200}
QUICK_CASUALTIES: set[str] = {"cam_training"}
