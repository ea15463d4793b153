"""Question checks for assignment 2 (utils/simclr.py).

The oracle for NT-Xent is cross-entropy over the similarity matrix with the diagonal masked out
(torch.nn.functional), and autograd for gradients; known mistakes are recognised by computing
what they would give.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from PIL import Image
from torchvision import transforms

from utils.checks.recorded import oracle
from utils.grading import (
    Parts,
    apart,
    check_accuracy,
    check_close,
    check_finite,
    check_shape,
    fail,
    report_pass,
)


# ---------------------------------------------------------------------------------------------
# Oracles
# ---------------------------------------------------------------------------------------------
@oracle
def nt_xent_oracle(out_left: torch.Tensor, out_right: torch.Tensor, tau: float) -> torch.Tensor:
    """NT-Xent as F.cross_entropy over cosine similarities / tau, self-similarity masked, target k <-> k + N."""
    n = out_left.shape[0]
    out = F.normalize(torch.cat([out_left, out_right]).double(), dim=1)
    logits = (out @ out.t() / tau).fill_diagonal_(float("-inf"))
    targets = (torch.arange(2 * n) + n) % (2 * n)
    return F.cross_entropy(logits, targets)


@oracle
def nt_xent_mistake(
    out_left, out_right, tau, include_self=False, positive_is_self=False, normalize=True, sum_=False
):
    """What a common mistake computes instead of NT-Xent."""
    n = out_left.shape[0]
    out = torch.cat([out_left, out_right]).double()
    out = F.normalize(out, dim=1) if normalize else out
    logits = out @ out.t() / tau
    rows = torch.arange(2 * n)
    positive = logits[rows, rows if positive_is_self else (rows + n) % (2 * n)]
    denominator = logits if include_self else logits.clone().fill_diagonal_(float("-inf"))
    losses = torch.logsumexp(denominator, dim=1) - positive
    return losses.sum() if sum_ else losses.mean()


@oracle
def nt_xent_gradients(out_left: torch.Tensor, out_right: torch.Tensor, tau: float):
    """Autograd's gradients of nt_xent_oracle with respect to out_left and out_right."""
    leaves = [t.detach().clone().requires_grad_(True) for t in (out_left, out_right)]
    return torch.autograd.grad(nt_xent_oracle(*leaves, tau), leaves)


@oracle
def cosine_oracle(a: torch.Tensor, b: torch.Tensor, dim: int) -> torch.Tensor:
    return F.cosine_similarity(a, b, dim=dim)


def projections(seed: int, n: int = 6, d: int = 5, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    left = torch.randn(n, d, generator=gen, dtype=dtype)
    right = left + 0.7 * torch.randn(n, d, generator=gen, dtype=dtype)  # positives resemble each other
    return 3 * left, 0.5 * right  # different norms: cosine similarity must normalize


def loss_mistakes(left, right, tau):
    n = left.shape[0]
    return [
        (
            nt_xent_mistake(left, right, tau, include_self=True),
            "the denominator sums over k != i only: leave out k = i",
        ),
        (
            nt_xent_mistake(left, right, tau, positive_is_self=True),
            "the positive of row k is row k + N (and of row k + N, row k), not row k itself",
        ),
        (
            nt_xent_mistake(left, right, tau, normalize=False),
            "sim is the cosine similarity: normalize the vectors",
        ),
        (
            nt_xent_mistake(left, right, tau, sum_=True),
            f"average over the 2N = {2 * n} anchors instead of summing",
        ),
        (nt_xent_oracle(left, right, tau) * 2, "average over all 2N anchors (divide by 2N, not N)"),
    ]


# ---------------------------------------------------------------------------------------------
# Questions
# ---------------------------------------------------------------------------------------------
def check_train_transform(compute_train_transform: Callable) -> None:
    """The six augmentations in order with SimCLR's parameters, and determinism under the seed."""
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.6, 0.7)
    transform = compute_train_transform(seed=1, image_size=24, mean=mean, std=std)
    steps = list(getattr(transform, "transforms", []))
    expected = [
        "RandomResizedCrop",
        "RandomHorizontalFlip",
        "RandomApply",
        "RandomGrayscale",
        "ToTensor",
        "Normalize",
    ]
    names = [type(t).__name__ for t in steps]
    if names != expected:
        missing = [e for e in expected if e not in names]
        hint = f"missing: {', '.join(missing)}" if missing else "keep the order of the docstring"
        if "RandomApply" in missing:
            hint = (
                "wrap ColorJitter(0.4, 0.4, 0.4, 0.1) in RandomApply(..., p=0.8): "
                "colour jitter is essential to SimCLR"
            )
        fail(f"compute_train_transform: got the steps {names}, expected {expected}", hint)
    crop, flip, jitter, gray, _, normalize = steps
    if tuple(crop.size) != (24, 24):
        fail(f"RandomResizedCrop has size {crop.size}, expected the image_size (24, 24)")
    if flip.p != 0.5 or gray.p != 0.2 or jitter.p != 0.8:
        fail(
            f"probabilities: flip {flip.p}, colour jitter {jitter.p}, grayscale {gray.p}; expected 0.5, 0.8, 0.2"
        )
    inner = list(jitter.transforms)
    if len(inner) != 1 or not isinstance(inner[0], transforms.ColorJitter):
        fail("RandomApply should hold exactly one ColorJitter")
    cj = inner[0]
    if (tuple(cj.brightness), tuple(cj.contrast), tuple(cj.saturation), tuple(cj.hue)) != (
        (0.6, 1.4),
        (0.6, 1.4),
        (0.6, 1.4),
        (-0.1, 0.1),
    ):
        fail("ColorJitter should be ColorJitter(0.4, 0.4, 0.4, 0.1)")
    if tuple(normalize.mean) != mean or tuple(normalize.std) != std:
        fail(f"Normalize uses mean {normalize.mean} and std {normalize.std}; use the mean and std arguments")

    gen = torch.Generator().manual_seed(0)
    image = Image.fromarray((torch.rand(32, 32, 3, generator=gen) * 255).byte().numpy())
    first = compute_train_transform(seed=7, image_size=24, mean=mean, std=std)(image)
    again = compute_train_transform(seed=7, image_size=24, mean=mean, std=std)(image)
    other = compute_train_transform(seed=8, image_size=24, mean=mean, std=std)(image)
    check_shape("an augmented view", first, (3, 24, 24))
    if not torch.equal(first, again):
        fail(
            "two transforms made with the same seed gave different views",
            "seed before building the transforms",
        )
    if torch.equal(first, other):
        fail("transforms made with different seeds gave the same view")
    report_pass("compute_train_transform")


def check_sim(sim: Callable) -> None:
    """sim against F.cosine_similarity, in float64, for vectors of different norms."""
    left, right = projections(0)
    for k in range(3):
        value = sim(left[k], right[k])
        expected = cosine_oracle(left[k], right[k], dim=0)
        check_close(
            f"sim(z_i, z_j) for pair {k}",
            value,
            expected,
            tol=1e-12,
            mistakes=[(left[k] @ right[k], "divide the dot product by both norms")],
        )
    check_close("sim(z, 2 z)", sim(left[0], 2 * left[0]), torch.tensor(1.0, dtype=torch.float64), tol=1e-12)
    report_pass("sim")


def check_against_oracle(loss_fn: Callable, name: str) -> None:
    """The loss against the cross-entropy oracle for several N and tau, with hints for the usual mistakes."""
    for seed, n, tau in [(1, 2, 0.5), (2, 6, 0.1), (3, 9, 1.0)]:
        left, right = projections(seed, n=n)
        loss = loss_fn(left.clone(), right.clone(), tau)
        check_close(
            f"{name} (N={n}, tau={tau})",
            loss,
            nt_xent_oracle(left, right, tau),
            tol=1e-10,
            mistakes=loss_mistakes(left, right, tau),
        )


def check_simclr_loss_naive(loss_fn: Callable) -> None:
    check_against_oracle(loss_fn, "simclr_loss_naive")
    report_pass("simclr_loss_naive", "matches cross-entropy over the masked similarity matrix")


def check_sim_positive_pairs(sim_positive_pairs: Callable) -> None:
    left, right = projections(4)
    pos = check_shape("sim_positive_pairs(out_left, out_right)", sim_positive_pairs(left, right), (6, 1))
    check_close(
        "sim_positive_pairs",
        pos,
        cosine_oracle(left, right, dim=1).unsqueeze(1),
        tol=1e-12,
        mistakes=[((left * right).sum(1, keepdim=True), "divide each dot product by both norms")],
    )
    report_pass("sim_positive_pairs")


def check_compute_sim_matrix(compute_sim_matrix: Callable) -> None:
    left, right = projections(5)
    out = torch.cat([left, right])
    matrix = check_shape("compute_sim_matrix(out)", compute_sim_matrix(out), (12, 12))
    expected = cosine_oracle(out.unsqueeze(1), out.unsqueeze(0), dim=2)
    check_close(
        "compute_sim_matrix",
        matrix,
        expected,
        tol=1e-12,
        mistakes=[(out @ out.t(), "normalize the rows before the matrix product")],
    )
    report_pass("compute_sim_matrix")


def naive_value_if_right(naive_fn: Callable, left, right, tau: float) -> torch.Tensor | None:
    """The student's naive loss on these inputs when it runs and agrees with the oracle, else None."""
    try:
        value = torch.as_tensor(naive_fn(left, right, tau)).detach()
    except Exception:  # any bug of the naive version belongs to its own question
        return None
    return (
        value
        if abs(value.item() - nt_xent_oracle(left, right, tau).item()) <= 1e-10 * abs(value.item())
        else None
    )


HALF_PRECISION_HINT = (
    "exp(sim / 0.05) overflows half precision: compute in float32 (out.float()), use torch.logsumexp, "
    "and mask with -inf or by indexing, not with a large constant"
)


def check_vectorized_value(loss_fn: Callable, naive_fn: Callable, left, right) -> None:
    """Against the oracle (float64), and against the naive loss when that one is right."""
    check_against_oracle(loss_fn, "simclr_loss_vectorized")
    naive = naive_value_if_right(naive_fn, left, right, 0.3)
    if naive is not None:  # otherwise its own question says what is wrong
        check_close(
            "simclr_loss_vectorized against simclr_loss_naive", loss_fn(left, right, 0.3), naive, tol=1e-7
        )
    else:
        print("(simclr_loss_naive is not right yet: the comparison with it is skipped)")


def check_vectorized_gradient(loss_fn: Callable, left, right) -> None:
    leaves = [t.clone().requires_grad_(True) for t in (left, right)]
    grads = torch.autograd.grad(loss_fn(*leaves, 0.3), leaves)
    expected = nt_xent_gradients(left, right, 0.3)
    for label, g, e in zip(["out_left", "out_right"], grads, expected):
        check_close(f"gradient of simclr_loss_vectorized with respect to {label}", g, e, tol=1e-9)


def check_half_precision(loss_fn: Callable, left, right) -> None:
    """Finite and close to the float64 oracle in float16 and bfloat16 at tau = 0.05."""
    reference = nt_xent_oracle(left, right, 0.05)
    for dtype in (torch.float16, torch.bfloat16):
        loss = loss_fn(left.to(dtype), right.to(dtype), 0.05)
        check_finite(f"simclr_loss_vectorized in {dtype} at tau = 0.05", loss, HALF_PRECISION_HINT)
        # Rounding the inputs to this dtype alone moves the logits by about eps / tau.
        allowed = 4 * torch.finfo(dtype).eps / 0.05
        if not abs(loss.double().item() - reference.item()) <= allowed:
            shown, expected = apart(loss.double().item(), reference.item(), 5)
            fail(
                f"simclr_loss_vectorized in {dtype} at tau = 0.05 is {shown}, expected {expected} within "
                f"{allowed:.2g} (off by {abs(loss.double().item() - reference.item()):.2g})",
                HALF_PRECISION_HINT,
            )


def check_bad_input(loss_fn: Callable, left, right) -> None:
    for bad, what in [
        ((left, right[:-1], 0.5), "mismatched shapes"),
        ((left, right, 0.0), "tau = 0"),
        ((left[:1], right[:1], 0.5), "N = 1"),
    ]:
        try:
            loss_fn(*bad)
        except ValueError:
            continue
        except Exception as error:  # another error than the one asked for, deeper in the computation
            fail(
                f"simclr_loss_vectorized raised {type(error).__name__} for {what}: raise ValueError naming the problem"
            )
        fail(f"simclr_loss_vectorized accepted {what}: raise ValueError naming the problem")


def check_simclr_loss_vectorized(loss_fn: Callable, naive_fn: Callable) -> None:
    """Part by part: the value against the oracle (float64) and the naive loss, gradients against autograd
    of the oracle, finite and close in float16/bfloat16 at tau = 0.05, and ValueError for bad input."""
    left, right = projections(6, n=7)
    parts = Parts("simclr_loss_vectorized")
    with parts("value"):
        check_vectorized_value(loss_fn, naive_fn, left, right)
    with parts("gradient"):
        check_vectorized_gradient(loss_fn, left, right)
    with parts("half_precision"):
        check_half_precision(loss_fn, left, right)
    with parts("bad_input"):
        check_bad_input(loss_fn, left, right)
    parts.finish("matches the oracle, stable in half precision")


def check_train_step(train_step: Callable, model_class: Callable) -> None:
    """On a fixed batch, repeated steps lower the loss and change the parameters; returns floats."""
    torch.manual_seed(0)
    model = model_class(feature_dim=32, projection_dim=16)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(1)
    images = torch.randn(16, 3, 16, 16, generator=gen)
    x_i, x_j = images + 0.1 * torch.randn(16, 3, 16, 16, generator=gen), images.flip(3)
    before = [p.detach().clone() for p in model.parameters()]
    losses = [train_step(model, optimizer, x_i, x_j, 0.5) for _ in range(15)]
    if not all(isinstance(v, float) for v in losses):
        fail(
            f"simclr_train_step should return the loss as a Python float (loss.item()), got {type(losses[0]).__name__}"
        )
    if all(torch.equal(b, p) for b, p in zip(before, model.parameters())):
        fail(
            "simclr_train_step did not change the model's parameters",
            "call loss.backward() and optimizer.step()",
        )
    if not losses[-1] < 0.8 * losses[0]:
        ratio, goal = apart(
            losses[-1] / losses[0], 0.8, 3, "f", first=(f"{losses[-1] / losses[0]:.3f}", "0.8")
        )
        fail(
            f"15 steps on one fixed batch took the loss from {losses[0]:.3f} to {losses[-1]:.3f}, {ratio} of its "
            f"start; expected a clear drop, below {goal} of it",
            "feed both views through the model, use the projections z in the loss, and zero the gradients each step",
        )
    report_pass("simclr_train_step", f"loss {losses[0]:.3f} -> {losses[-1]:.3f} on a fixed batch")


# What the trained encoder's linear probe must beat a random encoder's and raw pixels' by: each margin sits
# near the middle of the gap between correct code's worst and a step that never steps, over 10 seeds
# (benchmarks/README.md, gate margins).
RANDOM_ENCODER_MARGIN = 0.04
RAW_PIXELS_MARGIN = 0.05


def check_simclr_training(simclr_accuracy: float, random_accuracy: float, raw_accuracy: float) -> None:
    """The trained encoder's linear probe beats a random encoder's by RANDOM_ENCODER_MARGIN, and raw pixels'
    by RAW_PIXELS_MARGIN."""
    hint = "check that the loss falls during training; a loss stuck near log(2N - 1) means the step does not learn"
    check_accuracy(
        "SimCLR linear-probe accuracy", simclr_accuracy, random_accuracy + RANDOM_ENCODER_MARGIN, hint
    )
    check_accuracy(
        "SimCLR linear-probe accuracy (against raw pixels)",
        simclr_accuracy,
        raw_accuracy + RAW_PIXELS_MARGIN,
        hint,
    )
