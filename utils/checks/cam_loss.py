"""Question checks for assignment 3 (utils/cam_loss.py).

Oracles that share no code with the module: einsum for CAMs, a 1 x 1 convolution with the classifier's
weights (the classic way to read every class's map at once) and the linearity of global average pooling
(a CAM's spatial mean is its logit minus the bias), flatten-based min and max for normalization, autograd
for where gradients go, and arithmetic by hand for the localization scores. Known mistakes are
recognised by computing what they would give.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
import torch.nn.functional as F

from utils.checks.recorded import oracle
from utils.grading import (
    Parts,
    apart,
    check_accuracy,
    check_close,
    check_shape,
    check_speedup,
    fail,
    report_pass,
)


# ---------------------------------------------------------------------------------------------
# Oracles
# ---------------------------------------------------------------------------------------------
@oracle
def cam_oracle(feature_map: torch.Tensor, labels: torch.Tensor, fc_weight: torch.Tensor) -> torch.Tensor:
    return torch.einsum("bk,bkhw->bhw", fc_weight[labels], feature_map)


@oracle
def cam_by_convolution(
    feature_map: torch.Tensor, labels: torch.Tensor, fc_weight: torch.Tensor
) -> torch.Tensor:
    """Every class's map by a 1 x 1 convolution with the classifier's weights, then each sample's class picked."""
    all_maps = F.conv2d(feature_map, fc_weight[:, :, None, None])  # (B, C, H, W)
    return all_maps[torch.arange(len(labels)), labels]


@oracle
def caam_oracle(feature_map: torch.Tensor) -> torch.Tensor:
    return feature_map.sum(dim=1)


@oracle
def cam_mistakes(
    feature_map: torch.Tensor, labels: torch.Tensor, fc_weight: torch.Tensor
) -> list[torch.Tensor]:
    """What the usual mistakes compute instead of the CAM, in the order of CAM_MISTAKE_HINTS."""
    return [
        caam_oracle(feature_map),
        cam_oracle(feature_map, labels, fc_weight) / feature_map.shape[1],
        torch.einsum("k,bkhw->bhw", fc_weight.sum(0), feature_map),
    ]


@oracle
def cam_gradients(
    feature_map: torch.Tensor, labels: torch.Tensor, fc_weight: torch.Tensor, upstream: torch.Tensor
):
    """Autograd's gradients of sum(cam_oracle(...) * upstream) with respect to feature_map and fc_weight."""
    leaves = [
        feature_map.detach().clone().requires_grad_(True),
        fc_weight.detach().clone().requires_grad_(True),
    ]
    return torch.autograd.grad((cam_oracle(leaves[0], labels, leaves[1]) * upstream).sum(), leaves)


@oracle
def normalize_oracle(maps: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    flat = maps.reshape(maps.shape[0], -1)
    low, high = flat.min(dim=1).values, flat.max(dim=1).values
    return ((flat - low[:, None]) / (high - low).clamp(min=eps)[:, None]).reshape(maps.shape)


@oracle
def normalize_mistakes(maps: torch.Tensor) -> list[torch.Tensor]:
    """What the usual mistakes compute instead of min_max_normalize, in the order of NORMALIZE_MISTAKE_HINTS."""
    by_rows = (maps - maps.amin(2, keepdim=True)) / (maps.amax(2, keepdim=True) - maps.amin(2, keepdim=True))
    by_columns = (maps - maps.amin(1, keepdim=True)) / (
        maps.amax(1, keepdim=True) - maps.amin(1, keepdim=True)
    )
    return [
        (maps - maps.min()) / (maps.max() - maps.min()),
        by_rows,
        by_columns,
        maps / maps.flatten(1).amax(1).view(-1, 1, 1),
    ]


@oracle
def normalize_gradient(maps: torch.Tensor, upstream: torch.Tensor) -> torch.Tensor:
    """Autograd's gradient of sum(normalize_oracle(maps) * upstream) with respect to maps."""
    leaf = maps.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad((normalize_oracle(leaf) * upstream).sum(), leaf)
    return grad


@oracle
def cam_loss_oracle(
    logits, feature_map, labels, fc_weight, alpha, labels_for_cam=None, normalize=True, reduce="mean"
):
    """CAM-loss as the summary defines it, or (with the keyword arguments) as a common mistake computes it."""
    l_ce = F.cross_entropy(logits, labels)
    cam = cam_oracle(feature_map, labels if labels_for_cam is None else labels_for_cam, fc_weight.detach())
    caam = caam_oracle(feature_map)
    if normalize:
        cam, caam = normalize_oracle(cam), normalize_oracle(caam)
    difference = (cam - caam).abs()
    l_cam = (
        difference.mean()
        if reduce == "mean"
        else difference.sum()
        if reduce == "sum"
        else difference.sum((1, 2)).mean()
    )
    return l_ce + alpha * l_cam, l_ce, l_cam


@oracle
def cam_loss_feature_gradient(feature_map, fc_weight, bias, labels, alpha) -> torch.Tensor:
    """Autograd's gradient of the oracle's l_cam with respect to the feature maps, with logits that depend on
    fc_weight as in a real network."""
    leaves = [t.detach().clone().requires_grad_(True) for t in (feature_map, fc_weight, bias)]
    l_cam = cam_loss_oracle(_logits(*leaves), leaves[0], labels, leaves[1], alpha)[2]
    (grad,) = torch.autograd.grad(l_cam, leaves[:1])
    return grad


@oracle
def train_step_oracle(model: torch.nn.Module, images, labels, alpha: float, lr: float, steps: int = 2):
    """(total, l_ce, l_cam, the total's gradients for model.parameters()) before each of `steps` plain SGD
    steps of a copy of model, with the CAM built from model.fc.weight."""
    model = copy.deepcopy(model)
    results = []
    for _ in range(steps):
        logits, fmap = model(images)
        total, l_ce, l_cam = cam_loss_oracle(logits, fmap, labels, model.fc.weight, alpha)
        grads = torch.autograd.grad(total, list(model.parameters()))
        results.append((total.detach(), l_ce.detach(), l_cam.detach(), grads))
        with torch.no_grad():
            for parameter, grad in zip(model.parameters(), grads):
                parameter -= lr * grad
    return results


def feature_maps(seed: int, b: int = 5, k: int = 6, h: int = 3, w: int = 4, c: int = 4):
    """float64 feature maps (non-negative, as after a ReLU), labels and classifier weights; H != W so that
    mixing up the axes shows."""
    gen = torch.Generator().manual_seed(seed)
    fmap = torch.randn(b, k, h, w, generator=gen, dtype=torch.float64).relu() + 0.1 * torch.rand(
        b, k, h, w, generator=gen, dtype=torch.float64
    )
    labels = torch.randint(c, (b,), generator=gen)
    weight = torch.randn(c, k, generator=gen, dtype=torch.float64)
    return fmap, labels, weight


def _unchanged(name: str, before: torch.Tensor, after: torch.Tensor) -> None:
    if not torch.equal(before, after):
        fail(
            f"{name} modified its input in place", "compute into new tensors; leave the arguments as they are"
        )


# ---------------------------------------------------------------------------------------------
# Questions
# ---------------------------------------------------------------------------------------------
CAM_MISTAKE_HINTS = [
    "weight each channel k by fc_weight[label, k]: this is the CAAM (all weights 1)",
    "sum over the channels, not the mean",
    "use the row of fc_weight of each sample's label, not all rows",
]
NORMALIZE_MISTAKE_HINTS = [
    "normalize each sample on its own: its min and max, not the batch's",
    "take the min and max over both spatial axes (H and W together), not along one of them",
    "take the min and max over both spatial axes (H and W together), not along one of them",
    "subtract the minimum before dividing by the range",
]


def _cam_mistakes(fmap, labels, weight):
    return list(zip(cam_mistakes(fmap, labels, weight), CAM_MISTAKE_HINTS))


def check_make_cam_naive(make_cam_naive: Callable) -> None:
    """Against einsum for several shapes, with hints for the usual mistakes; inputs left as they were."""
    for seed, shape in [(0, dict()), (1, dict(b=3, k=2, h=5, w=2, c=3)), (2, dict(b=1, k=7, h=1, w=6, c=10))]:
        fmap, labels, weight = feature_maps(seed, **shape)
        copies = fmap.clone(), weight.clone()
        cams = make_cam_naive(fmap, labels, weight)
        check_close(
            f"make_cam_naive for feature maps of shape {tuple(fmap.shape)}",
            cams,
            cam_oracle(fmap, labels, weight),
            tol=1e-12,
            mistakes=_cam_mistakes(fmap, labels, weight),
        )
        _unchanged("make_cam_naive", copies[0], fmap)
    report_pass("make_cam_naive")


def _naive_if_right(make_cam_naive: Callable, fmap, labels, weight) -> torch.Tensor | None:
    """The student's naive CAM on these inputs when it runs and is right, else None (its own question reports it)."""
    try:
        cams = make_cam_naive(fmap, labels, weight)
    except Exception:
        return None
    ok = isinstance(cams, torch.Tensor) and cams.shape == fmap.shape[:1] + fmap.shape[2:]
    return (
        cams
        if ok and torch.allclose(cams, cam_oracle(fmap, labels, weight), rtol=1e-10, atol=1e-12)
        else None
    )


# make_cam against a loop over the samples, in CPU time: the threshold sits near the middle, on a log scale,
# between correct code's worst ratio and a kept loop's best, idle and busy (benchmarks/README.md, speed margins).
MIN_CAM_SPEEDUP = 4


def _loop_yardstick(fmap, weights):
    """The speed check's yardstick: a loop over the samples, one product of a weight vector with the sample's
    channels each, weights (B, K). The quickest loop over the samples: a make_cam that keeps one is slower."""
    B, K, H, W = fmap.shape
    return torch.stack([weights[b] @ fmap[b].reshape(K, H * W) for b in range(B)]).view(B, H, W)


def check_make_cam(make_cam: Callable, make_cam_naive: Callable) -> None:
    """Against einsum, a 1 x 1 convolution, the logits of a global-average-pooled classifier and the naive
    version; gradients as autograd gives them; no Python loops (MIN_CAM_SPEEDUP times faster than a loop over
    the samples)."""
    fmap, labels, weight = feature_maps(3, b=6, k=5, h=4, w=3, c=7)
    cams = make_cam(fmap, labels, weight)
    check_close(
        "make_cam",
        cams,
        cam_oracle(fmap, labels, weight),
        tol=1e-12,
        mistakes=_cam_mistakes(fmap, labels, weight),
    )
    check_close(
        "make_cam against a 1 x 1 convolution with fc_weight",
        cams,
        cam_by_convolution(fmap, labels, weight),
        tol=1e-12,
    )
    gen = torch.Generator().manual_seed(9)
    bias = torch.randn(weight.shape[0], generator=gen, dtype=torch.float64)
    logits = fmap.mean(dim=(2, 3)) @ weight.t() + bias
    check_close(
        "the spatial mean of make_cam (should equal the label's logit minus its bias under average pooling)",
        cams.mean(dim=(1, 2)),
        logits[torch.arange(len(labels)), labels] - bias[labels],
        tol=1e-12,
    )
    naive = _naive_if_right(make_cam_naive, fmap, labels, weight)
    if naive is not None:
        check_close("make_cam against make_cam_naive", cams, naive, tol=1e-12)
    else:
        print("(make_cam_naive is not right yet: the comparison with it is skipped)")

    leaves = [fmap.clone().requires_grad_(True), weight.clone().requires_grad_(True)]
    upstream = torch.randn(cams.shape, generator=gen, dtype=torch.float64)
    try:
        grads = torch.autograd.grad((make_cam(leaves[0], labels, leaves[1]) * upstream).sum(), leaves)
    except RuntimeError as error:
        fail(
            f"make_cam could not be differentiated: {error}",
            "build the CAM from differentiable tensor operations, no in-place writes into a leaf",
        )
    for label, g, e in zip(
        ["feature_map", "fc_weight"], grads, cam_gradients(fmap, labels, weight, upstream)
    ):
        check_close(f"gradient of make_cam with respect to {label}", g, e, tol=1e-10)

    gen = torch.Generator().manual_seed(4)
    big = (
        torch.randn(256, 32, 4, 4, generator=gen),
        torch.randint(10, (256,), generator=gen),
        torch.randn(10, 32, generator=gen),
    )
    loop_weights = torch.rand(256, 32, generator=gen)
    speedup = check_speedup(
        "make_cam",
        lambda: make_cam(*big),
        lambda: _loop_yardstick(big[0], loop_weights),
        MIN_CAM_SPEEDUP,
        "no Python loops: index fc_weight with the labels, then one torch.bmm or torch.einsum",
        slow_is="a loop over the samples",
    )
    report_pass("make_cam", f"{speedup:.0f}x faster than a loop over the samples")


def check_make_caam(make_caam: Callable) -> None:
    fmap, _, _ = feature_maps(5, h=4, w=2)
    caam = check_shape("make_caam(feature_map)", make_caam(fmap), (5, 4, 2))
    expected = caam_oracle(fmap)
    check_close(
        "make_caam",
        caam,
        expected,
        tol=1e-12,
        mistakes=[(expected / fmap.shape[1], "sum over the channels, not the mean")],
    )
    report_pass("make_caam")


def check_min_max_normalize(min_max_normalize: Callable) -> None:
    """Per sample over H x W, against flatten-based min and max; a constant map gives zeros; differentiable."""
    gen = torch.Generator().manual_seed(6)
    maps = (
        3 * torch.randn(4, 3, 5, generator=gen, dtype=torch.float64)
        + torch.arange(4, dtype=torch.float64).view(4, 1, 1) * 10
    )
    before = maps.clone()
    out = min_max_normalize(maps)
    _unchanged("min_max_normalize", before, maps)
    mistakes = list(zip(normalize_mistakes(maps), NORMALIZE_MISTAKE_HINTS))
    check_close("min_max_normalize", out, normalize_oracle(maps), tol=1e-7, mistakes=mistakes)

    constant = torch.full((2, 3, 3), 0.7, dtype=torch.float64)
    constant[1] = torch.arange(9, dtype=torch.float64).view(3, 3)
    out = check_shape("min_max_normalize of a constant map", min_max_normalize(constant), (2, 3, 3))
    if not torch.isfinite(out).all() or not torch.equal(out[0], torch.zeros(3, 3, dtype=out.dtype)):
        fail(
            f"min_max_normalize turned a constant map into {out[0].flatten().tolist()}, expected zeros",
            "divide by the range clamped to at least eps: (max - min).clamp(min=eps)",
        )
    check_close("min_max_normalize beside a constant map", out[1], constant[1] / 8, tol=1e-7)

    leaf = maps.clone().requires_grad_(True)
    upstream = torch.randn(maps.shape, generator=gen, dtype=torch.float64)
    (grad,) = torch.autograd.grad((min_max_normalize(leaf) * upstream).sum(), leaf)
    check_close("gradient of min_max_normalize", grad, normalize_gradient(maps, upstream), tol=1e-6)
    report_pass("min_max_normalize")


def _cam_loss_inputs(seed: int):
    """Feature maps from a pooled classifier whose predictions differ from the labels for some samples."""
    fmap, labels, weight = feature_maps(seed, b=6, k=5, h=3, w=4, c=4)
    bias = torch.linspace(-0.5, 0.5, 4, dtype=torch.float64)
    return fmap, labels, weight, bias


def _logits(fmap, weight, bias):
    return fmap.mean(dim=(2, 3)) @ weight.t() + bias


def check_cam_loss_value(cam_loss: Callable, fmap, labels, weight, bias, alpha: float) -> None:
    """(total, l_ce, l_cam) against the oracle, with hints for the usual mistakes."""
    logits = _logits(fmap, weight, bias)
    result = cam_loss(logits, fmap, labels, weight, alpha)
    if not isinstance(result, tuple) or len(result) != 3:
        fail("cam_loss should return the tuple (total, l_ce, l_cam)")
    total, l_ce, l_cam = result
    expected = cam_loss_oracle(logits, fmap, labels, weight, alpha)
    check_close(
        "l_ce", l_ce, expected[1], tol=1e-12, hint="F.cross_entropy(logits, labels), averaged over the batch"
    )
    predicted = logits.argmax(dim=1)
    mistakes = [
        (
            cam_loss_oracle(logits, fmap, labels, weight, alpha, labels_for_cam=predicted)[2],
            "build the CAM of each sample's label, not of its predicted class",
        ),
        (
            cam_loss_oracle(logits, fmap, labels, weight, alpha, normalize=False)[2],
            "min-max normalize both maps before comparing them",
        ),
        (
            cam_loss_oracle(logits, fmap, labels, weight, alpha, reduce="sum")[2],
            "average the absolute differences over B x H x W (as nn.L1Loss does), do not sum them",
        ),
        (
            cam_loss_oracle(logits, fmap, labels, weight, alpha, reduce="per_sample")[2],
            "average the absolute differences over the pixels too, not only over the batch",
        ),
    ]
    check_close("l_cam", l_cam, expected[2], tol=1e-7, mistakes=mistakes)
    check_close("total", total, expected[0], tol=1e-7, hint="total = l_ce + alpha * l_cam")


def check_cam_loss_routing(cam_loss: Callable, fmap, labels, weight, bias, alpha: float) -> None:
    """None of l_cam's gradient reaches fc_weight, and the feature maps get what autograd of the oracle
    gives, with logits that depend on fc_weight as in a real network."""
    leaves = [t.clone().requires_grad_(True) for t in (fmap, weight, bias)]
    _, _, l_cam = cam_loss(_logits(*leaves), leaves[0], labels, leaves[1], alpha)
    fmap_grad, weight_grad = torch.autograd.grad(l_cam, leaves[:2], allow_unused=True)
    if weight_grad is not None and weight_grad.abs().max() > 0:
        fail(
            f"l_cam sends a gradient to fc_weight (largest entry {weight_grad.abs().max().item():.3g}); "
            "it should send none",
            "build the CAM from fc_weight.detach(): the CAM term trains the backbone only",
        )
    expected_grad = cam_loss_feature_gradient(fmap, weight, bias, labels, alpha)
    if fmap_grad is None:
        fail(
            "l_cam sends no gradient to the feature maps",
            "keep the feature maps attached: the CAM term trains the backbone",
        )
    check_close("gradient of l_cam with respect to the feature maps", fmap_grad, expected_grad, tol=1e-6)


def check_cam_loss_bad_input(cam_loss: Callable, fmap, labels, weight, bias, alpha: float) -> None:
    logits = _logits(fmap, weight, bias)
    for bad, what in [
        ((logits, fmap, labels.clamp(max=2) + 2, weight, alpha), "labels out of range"),
        ((logits, fmap[:, :4], labels, weight, alpha), "feature maps with 4 channels and fc_weight with 5"),
    ]:
        try:
            cam_loss(*bad)
        except ValueError:
            continue
        fail(f"cam_loss accepted {what}: keep the provided _check_cam_inputs call")


def check_cam_loss(cam_loss: Callable) -> None:
    """Part by part: the value of (total, l_ce, l_cam) against the oracle; where gradients go (none from
    l_cam to fc_weight, to the feature maps what autograd of the oracle gives); ValueError for bad input."""
    fmap, labels, weight, bias = _cam_loss_inputs(7)
    if torch.equal(_logits(fmap, weight, bias).argmax(1), labels):
        raise RuntimeError("the check's inputs should have some predictions differ from the labels")
    parts = Parts("cam_loss")
    for part, check in [
        ("loss", check_cam_loss_value),
        ("gradient_routing", check_cam_loss_routing),
        ("bad_input", check_cam_loss_bad_input),
    ]:
        with parts(part):
            check(cam_loss, fmap, labels, weight, bias, alpha=2.5)
    parts.finish("value and gradient routing match the oracle")


def check_alpha_schedule(alpha_schedule: Callable) -> None:
    for epoch, warmup, alpha, expected in [
        (0, 10, 3.0, 0.0),
        (9, 10, 3.0, 0.0),
        (10, 10, 3.0, 3.0),
        (19, 10, 3.0, 3.0),
        (0, 0, 2.0, 2.0),
    ]:
        value = alpha_schedule(epoch, warmup, alpha)
        if value != expected:
            fail(
                f"alpha_schedule(epoch={epoch}, warmup_epochs={warmup}, alpha={alpha}) is {value}, expected {expected}",
                "epochs count from 0: the first warmup_epochs epochs (0 to warmup_epochs - 1) use alpha = 0",
            )


def check_train_step(
    train_step: Callable, alpha_schedule: Callable, model_class: Callable, split_parameters: Callable
) -> None:
    """alpha_schedule's values; then, in float64 with plain SGD, each of two consecutive steps moves every
    parameter by exactly -lr times the oracle's gradient of the total (fc through l_ce alone)."""
    check_alpha_schedule(alpha_schedule)
    torch.manual_seed(0)
    model = model_class(in_channels=1, num_classes=3, widths=(4, 6, 8)).double()
    gen = torch.Generator().manual_seed(8)
    images = torch.randn(8, 1, 12, 12, generator=gen, dtype=torch.float64)
    labels = torch.arange(8) % 3
    lr, alpha = 0.05, 2.0
    backbone, classifier = split_parameters(model)
    backbone_optimizer, fc_optimizer = torch.optim.SGD(backbone, lr=lr), torch.optim.SGD(classifier, lr=lr)
    # The oracle's own trajectory: a correct first step leaves the model where the oracle's is.
    expected_steps = train_step_oracle(model, images, labels, alpha, lr)
    previous_grads = None
    for step, (total, l_ce, l_cam, grads) in enumerate(expected_steps, start=1):
        before = [p.detach().clone() for p in model.parameters()]
        losses = train_step(model, backbone_optimizer, fc_optimizer, images, labels, alpha)
        if not isinstance(losses, dict) or set(losses) != {"total", "ce", "cam"}:
            fail(f"cam_loss_train_step should return a dict with the keys total, ce and cam; got {losses!r}")
        for key, value in (("total", total), ("ce", l_ce), ("cam", l_cam)):
            if not isinstance(losses[key], float):
                fail(
                    f"cam_loss_train_step's {key} should be a Python float (loss.item()), "
                    f"got {type(losses[key]).__name__}"
                )
            check_close(
                f"the {key} loss of step {step}",
                torch.tensor(losses[key], dtype=torch.float64),
                value.detach(),
                tol=1e-6,
            )
        for (name, p), b, g, g_previous in zip(
            model.named_parameters(), before, grads, previous_grads or grads
        ):
            if torch.equal(p.detach(), b):
                fail(
                    f"step {step} left {name} unchanged",
                    "step both optimizers: the backbone's and the classifier's",
                )
            step_size = (lr * g).abs().max().clamp(min=1e-300)
            error = ((p.detach() - (b - lr * g)).abs().max() / step_size).item()
            if error > 1e-4:  # relative to the step: admits an eps added to the range in min_max_normalize
                accumulated = (
                    step == 2
                    and ((p.detach() - (b - lr * (g + g_previous))).abs().max() / step_size).item() < 1e-4
                )
                fail(
                    f"{name} moved by a wrong amount in step {step}: "
                    f"off by {error:.2e} of the expected step -lr * gradient",
                    "zero both optimizers' gradients at the start of every step"
                    if accumulated
                    else "backpropagate total = l_ce + alpha * l_cam, with model.fc.weight in cam_loss",
                )
        previous_grads = grads
    report_pass(
        "cam_loss_train_step", "two SGD steps move every parameter exactly as the oracle's gradients say"
    )


def check_localization(cam_mass_inside: Callable, pointing_game: Callable) -> None:
    """Both scores on maps made by hand, whose answers are worked out in the comments."""
    maps = torch.zeros(3, 3, 4, dtype=torch.float64)
    masks = torch.zeros(3, 3, 4, dtype=torch.bool)
    # Map 0: 3.0 on the two masked pixels, 1.0 on the ten others: 6 of a total mass of 16 inside.
    maps[0] = 1.0
    masks[0, 0, 1:3] = True
    maps[0, 0, 1:3] = 3.0
    # Map 1: all its mass (2 + 2) on unmasked pixels; its peak (first maximum, row-major) at (1, 0), unmasked.
    maps[1, 1, 0] = maps[1, 2, 3] = 2.0
    masks[1, 0, :] = True
    # Map 2: zero mass: share 0; every pixel is a maximum, so the first, (0, 0), counts: masked.
    masks[2, 0, 0] = True
    share = check_shape("cam_mass_inside(maps, masks)", cam_mass_inside(maps, masks), (3,))
    by_area = torch.tensor([3.0 / (16 / 12), 0.0, 0.0], dtype=torch.float64)
    check_close(
        "cam_mass_inside",
        share,
        torch.tensor([6 / 16, 0.0, 0.0], dtype=torch.float64),
        tol=1e-12,
        mistakes=[
            (by_area, "the share of the mass: sum(map * mask) / sum(map), not mean inside / mean overall")
        ],
        hint="a map with zero mass has share 0, not NaN",
    )

    hits = check_shape("pointing_game(maps, masks)", pointing_game(maps, masks), (3,))
    if hits.dtype != torch.bool:
        fail(f"pointing_game should return a bool tensor, got {hits.dtype}")
    # A peak at row 2, column 1 of a 3 x 4 map: flat index 9; reading it as (9 // 3, 9 % 3) lands elsewhere.
    peaked = torch.zeros(1, 3, 4, dtype=torch.float64)
    peaked[0, 2, 1] = 1.0
    peak_mask = torch.zeros(1, 3, 4, dtype=torch.bool)
    peak_mask[0, 2, 1] = True
    expected = [True, False, True]
    if hits.tolist() != expected:
        fail(
            f"pointing_game gave {hits.tolist()}, expected {expected}",
            "the hit is whether the mask is True at the map's argmax (the first maximum in row-major order)",
        )
    if not pointing_game(peaked, peak_mask).tolist() == [True]:
        fail(
            "pointing_game missed a peak at row 2, column 1 of a 3 x 4 map",
            "turn the flat argmax into (row, column) with the width W, or gather from the flattened mask",
        )
    report_pass("localization", "cam_mass_inside and pointing_game on hand-made maps")


# What both networks of the notebook's runs reach on the offline default, at least: a third of the gap between
# correct code's worst network and a step without backward() (chance, 0.1) stays on the correct side, over 10
# seeds (benchmarks/README.md, gate margins).
TRAINED_TEST_ACCURACY = 0.6
MAX_CAM_RATIO = 0.75  # the CAM-loss network's test L_cam over the cross-entropy network's, at most


def check_cam_training(results: dict[str, dict], dataset: str, cam_loss_trained: bool) -> None:
    """On the offline default, both networks reach TRAINED_TEST_ACCURACY, and training with CAM-loss (when
    its alpha was on for some epochs) leaves the test L_cam at most MAX_CAM_RATIO of cross-entropy's.
    results: {"cross-entropy" | "CAM-loss": {"accuracy", "l_cam", ...}} from the notebook's runs."""
    if dataset != "digit_canvas":
        return
    for name, result in results.items():
        check_accuracy(
            f"test accuracy of the {name} network",
            result["accuracy"],
            TRAINED_TEST_ACCURACY,
            "both runs share train_cam_model: check cam_loss_train_step, and that the loss falls",
        )
    if cam_loss_trained:
        ratio = results["CAM-loss"]["l_cam"] / results["cross-entropy"]["l_cam"]
        if not ratio <= MAX_CAM_RATIO:
            fail(
                "training with CAM-loss left the test L_cam at {} of the cross-entropy network's, "
                "expected at most {}".format(
                    *apart(ratio, MAX_CAM_RATIO, 2, "f", first=(f"{ratio:.2f}", f"{MAX_CAM_RATIO:g}"))
                ),
                "the step must backpropagate l_ce + alpha * l_cam, with the epoch's alpha from alpha_schedule",
            )
