"""The hidden checks of simclr: its CASES (see tools/grade/hidden/engine.py)."""

from __future__ import annotations

import functools
import math
from types import SimpleNamespace

import torch

from solutions import simclr as reference
from tools.grade.hidden import draw
from tools.grade.hidden.compare import difference, precision
from tools.grade.hidden.drivers import errors_raised, in_half_precision, input_gradients
from tools.grade.hidden.engine import Case
from utils.grading import apart


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


def named(problem):
    """The problem's inputs after the name of the function a driver calls."""
    return lambda gen: ("simclr_loss_vectorized", *problem(gen))


def _close_in_half_precision(args, output) -> str | None:
    """Finite, and as close to the float64 reference as rounding the inputs to float16 allows."""
    _, left, right, tau = args
    expected = float(reference.simclr_loss_vectorized(left, right, tau))
    allowed = 4 * torch.finfo(torch.float16).eps / tau  # the logits move by about eps / tau
    if not torch.isfinite(output).all():
        return "is not finite in float16 (exp(sim / tau) overflows: subtract the row maximum, or logsumexp)"
    if abs(float(output) - expected) > allowed:
        shown, wanted = apart(float(output), expected, 5)
        return f"is {shown} in float16, the reference {wanted} within {allowed:.2g}"
    return None


def _bad_pairs(gen):
    """Calls the loss must refuse with ValueError: mismatched shapes, tau = 0, a single pair."""
    left, right, tau = _pair(torch.float64, 20)(gen)
    return "simclr_loss_vectorized", [(left, right[:-1], tau), (left, right, 0.0), (left[:1], right[:1], tau)]


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
        Case("simclr_loss_vectorized", "simclr_loss_vectorized", _pair(torch.float64, 64), part="value"),
        Case("simclr_loss_vectorized", "simclr_loss_vectorized", _pair(torch.float32, 64), part="value"),
        Case(
            "simclr_loss_vectorized",
            "simclr_loss_vectorized",
            named(_pair(torch.float64, 64)),
            driver=input_gradients,
            part="gradient",
        ),
        Case(
            "simclr_loss_vectorized",
            "simclr_loss_vectorized",
            lambda gen: ("simclr_loss_vectorized", *_pair(torch.float64, 64)(gen)[:2], 0.05),
            driver=in_half_precision,
            property=_close_in_half_precision,
            part="half_precision",
        ),
        Case(
            "simclr_loss_vectorized",
            "simclr_loss_vectorized",
            _bad_pairs,
            driver=errors_raised,
            part="bad_input",
        ),
        Case(
            "compute_train_transform",
            "compute_train_transform",
            _probe,
            property=_augments,
            driver=draw_views,
        ),
        Case(
            "simclr_train_step",
            "simclr_train_step",
            _step_inputs,
            property=_steps_as_the_reference,
            driver=two_steps,
        ),
        Case("simclr_training", "train_simclr", _training_inputs, property=_learned, driver=short_training),
    ]


# ---------------------------------------------------------------------------------------------
# The augmentation: views of a probe image, judged here by what they show
# ---------------------------------------------------------------------------------------------
NUM_VIEWS, VIEW_SIZE = 300, 20
FLIP_RATE, GRAY_RATE = 0.5, 0.2
SIGMAS = 5  # a rate is wrong when it lies this many binomial standard deviations from the docstring's


def _probe(gen):
    """A colour gradient, brighter to the right in every channel (so that a flip shows whatever the crop),
    whose channels differ everywhere by 0.2 (so that only grayscale makes them equal); its own mean and std."""
    x = torch.linspace(0, 1, 32, dtype=torch.float32)
    image = torch.stack([0.05 + 0.5 * x, 0.25 + 0.5 * x, 0.45 + 0.5 * x])[:, None, :].expand(3, 32, 32)
    mean = tuple(round(draw.uniform(gen, 0.2, 0.6), 3) for _ in range(3))
    std = tuple(round(draw.uniform(gen, 0.1, 0.4), 3) for _ in range(3))
    return image.contiguous(), mean, std, draw.integer(gen, 0, 10**6), VIEW_SIZE, NUM_VIEWS


def draw_views(module, image, mean, std, seed, size, count):
    """count views from one transform, and the first two again from a new transform with the same seed."""
    import torch
    from torchvision.transforms.functional import to_pil_image

    picture = to_pil_image(image)
    transform = module.compute_train_transform(seed, size, mean, std)
    views = torch.stack([transform(picture) for _ in range(count)])
    again = module.compute_train_transform(seed, size, mean, std)
    return views, torch.stack([again(picture) for _ in range(2)])


def _rate_off(name: str, hits: int, count: int, rate: float) -> str | None:
    spread = SIGMAS * math.sqrt(rate * (1 - rate) / count)
    if abs(hits / count - rate) <= spread:
        return None
    return f"{hits} of {count} views were {name}, expected a rate of {rate:g} (within {spread:.2f})"


def _augments(args, output) -> str | None:
    """Normalized float32 views of the right size, different from each other, repeatable under the seed,
    flipped and grayscale at the docstring's rates."""
    _, mean, std, _, size, count = args
    if not (isinstance(output, (list, tuple)) and len(output) == 2):
        return "the views could not be stacked"
    views, again = output
    if views.shape != (count, 3, size, size) or views.dtype != torch.float32:
        return (
            f"a view is {views.dtype} of shape {tuple(views.shape[1:])}, expected float32 (3, {size}, {size})"
        )
    pixels = views.double() * torch.tensor(std).view(1, 3, 1, 1) + torch.tensor(mean).view(1, 3, 1, 1)
    if pixels.min() < -1e-4 or pixels.max() > 1 + 1e-4:
        return "the views are not ToTensor's [0, 1] pixels normalized with the given mean and std"
    if torch.equal(views[0], views[1]):
        return "two views of the same image are equal: the augmentation is not random"
    if not torch.equal(again, views[:2]):
        return "a transform made with the same seed gave other views: seed before building it"
    gray = (pixels - pixels.mean(dim=1, keepdim=True)).abs().flatten(1).max(dim=1).values < 1e-4
    brightness = pixels.mean(dim=1)
    flipped = brightness[:, :, : size // 2].mean(dim=(1, 2)) > brightness[:, :, size // 2 :].mean(dim=(1, 2))
    return _rate_off("flipped", int(flipped.sum()), count, FLIP_RATE) or _rate_off(
        "grayscale", int(gray.sum()), count, GRAY_RATE
    )


# ---------------------------------------------------------------------------------------------
# The training step: two steps from a state the grader sends, compared with the reference's
# ---------------------------------------------------------------------------------------------
def _step_inputs(gen):
    from solutions.simclr import SimCLRModel

    with torch.random.fork_rng():
        torch.manual_seed(draw.integer(gen, 0, 10**6))
        state = SimCLRModel(feature_dim=16, projection_dim=8).double().state_dict()
    images = draw.randn(gen, 6, 3, 8, 8)
    return state, images + draw.randn(gen, 6, 3, 8, 8, scale=0.3), images.flip(3), draw.uniform(gen, 0.1, 1)


def two_steps(module, state, x_i, x_j, tau):
    """Two of the student's steps with SGD and momentum (so that gradients left from the first step show);
    the losses and the state they leave."""
    import torch

    model = module.SimCLRModel(feature_dim=16, projection_dim=8).double()
    model.load_state_dict(state)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = [module.simclr_train_step(model, optimizer, x_i, x_j, tau) for _ in range(2)]
    return losses, model.state_dict()


def _one_view_at_a_time(model, optimizer, x_i, x_j, tau) -> float:
    """The reference's step with a forward pass per view (CS231n's way), which the docstring accepts too: with
    BatchNorm in training mode each view is then normalized with its own batch's statistics."""
    model.train()
    _, z_i = model(x_i)
    _, z_j = model(x_j)
    loss = reference.simclr_loss_vectorized(z_i, z_j, tau)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def _steps_as_the_reference(args, output) -> str | None:
    """The losses and the state of two steps agree with the reference's, whose step feeds both views through
    the model in one batch, or with the same step fed one view at a time."""
    one_batch = two_steps(reference, *args)
    reason = difference(output, one_batch, precision(args))
    if reason is None:
        return None
    per_view = SimpleNamespace(SimCLRModel=reference.SimCLRModel, simclr_train_step=_one_view_at_a_time)
    return None if difference(output, two_steps(per_view, *args), precision(args)) is None else reason


# ---------------------------------------------------------------------------------------------
# Training: a short run in the child; the grader measures the NT-Xent loss of views it keeps
# ---------------------------------------------------------------------------------------------
NUM_TRAIN, NUM_HELD_OUT, IMAGE_SIZE, TRAIN_STEPS = 256, 144, 16, 20
# The held-out loss after training over the loss at the start: near the middle of the gap between correct
# code's worst and a step that never steps, over 10 seeds of the case's inputs (benchmarks/hidden_gate_margins.py;
# the figures in benchmarks/README.md). A step that never steps still moves BatchNorm's running statistics in
# its forward passes, so it sits just below 1. Twenty steps, not ten: the gap doubles for about a second.
MAX_LOSS_RATIO = 0.92


def _augmentation():
    """The grader's own augmentation (the student's has its own question)."""
    from torchvision import transforms

    return transforms.Compose(
        [
            transforms.RandomResizedCrop(IMAGE_SIZE, scale=(0.5, 1)),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
        ]
    )


@functools.cache
def _shapes() -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """Training images for the child, and two seeded views of held-out images that never enter it."""
    from torchvision.transforms.functional import to_pil_image

    from utils.generated import make_shapes

    images = make_shapes(NUM_TRAIN + NUM_HELD_OUT, image_size=IMAGE_SIZE, seed=3)["images"]
    pictures, augment = [to_pil_image(image) for image in images[NUM_TRAIN:]], _augmentation()
    with torch.random.fork_rng():
        torch.manual_seed(1)
        views = tuple(torch.stack([augment(p) for p in pictures]) for _ in range(2))
    return images[:NUM_TRAIN], views


def _training_inputs(gen):
    from solutions.simclr import SimCLRModel

    seed = draw.integer(gen, 0, 10**6)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        state = SimCLRModel(feature_dim=32, projection_dim=16).state_dict()
    return state, _shapes()[0], TRAIN_STEPS, seed


def short_training(module, state, images, steps, seed):
    """module.train_simclr (the student's step) from the given state with Adam; the state it leaves."""
    import torch
    from torch.utils.data import DataLoader
    from torchvision import transforms

    augment = transforms.Compose(  # as _augmentation's
        [
            transforms.RandomResizedCrop(images.shape[-1], scale=(0.5, 1)),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
        ]
    )
    torch.manual_seed(seed)
    model = module.SimCLRModel(feature_dim=32, projection_dim=16)
    model.load_state_dict(state)
    pairs = module.PairDataset(
        module.ImageDataset(images, torch.zeros(len(images), dtype=torch.long)), augment
    )
    loader = DataLoader(pairs, batch_size=32, shuffle=True, drop_last=True)
    module.train_simclr(model, loader, torch.optim.Adam(model.parameters(), lr=3e-3), 0.5, steps)
    return model.state_dict()


def _held_out_loss(state) -> float:
    from solutions.simclr import SimCLRModel, simclr_loss_vectorized

    model = SimCLRModel(feature_dim=32, projection_dim=16)
    model.load_state_dict(state)
    model.eval()
    views = _shapes()[1]
    with torch.no_grad():
        return simclr_loss_vectorized(model(views[0])[1], model(views[1])[1], 0.5).item()


def held_out_loss_ratio(start: dict, trained: dict) -> float:
    """The NT-Xent loss of held-out views (which never enter the child) with the trained state over that with
    the starting one; raises when a state is not SimCLRModel's."""
    return _held_out_loss(trained) / _held_out_loss(start)


def _learned(args, output) -> str | None:
    """The trained state lowers the NT-Xent loss of held-out views by the margin."""
    try:
        ratio = held_out_loss_ratio(args[0], output)
    except (RuntimeError, TypeError, KeyError, AttributeError) as error:  # not SimCLRModel's state
        return f"the trained model's state does not load ({type(error).__name__})"
    if ratio <= MAX_LOSS_RATIO:
        return None
    shown, goal = apart(ratio, MAX_LOSS_RATIO, 2, "f", first=(f"{ratio:.2f}", f"{MAX_LOSS_RATIO:g}"))
    return f"{args[2]} training steps took the loss of held-out views to {shown} of its start, expected at most {goal}"


CASES = _cases()
