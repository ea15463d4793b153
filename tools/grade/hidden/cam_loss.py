"""The hidden checks of cam_loss: its CASES (see tools/grade/hidden/engine.py)."""

from __future__ import annotations

import functools

import torch

from tools.grade.hidden import draw
from tools.grade.hidden.drivers import cam_loss_routing, errors_raised
from tools.grade.hidden.engine import Case
from utils.grading import apart


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

    def routing_inputs(gen):
        """Maps with no ties (min-max normalization's gradient is then unique) and several channels."""
        b, k, h, w, c = 6, draw.integer(gen, 2, 8), draw.integer(gen, 3, 7), draw.integer(gen, 3, 7), 5
        fmap = draw.randn(gen, b, k, h, w).exp()
        return fmap, torch.randint(c, (b,), generator=gen), draw.randn(gen, c, k), draw.uniform(gen, 0.5, 5)

    def bad_loss_inputs(gen):
        """Calls cam_loss must refuse with ValueError: labels out of range, channels that fc_weight lacks."""
        logits, fmap, labels, weight, alpha = loss_inputs(torch.float64)(gen)
        out_of_range = torch.full_like(labels, weight.shape[0])
        return "cam_loss", [
            (logits, fmap, out_of_range, weight, alpha),
            (logits, fmap[:, :-1], labels, weight, alpha),
        ]

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
        Case("cam_loss", "cam_loss", loss_inputs(torch.float64), part="loss"),
        Case("cam_loss", "cam_loss", loss_inputs(torch.float32), part="loss"),
        Case(
            "cam_loss",
            "cam_loss",
            routing_inputs,
            driver=cam_loss_routing,
            part="gradient_routing",
        ),
        Case("cam_loss", "cam_loss", bad_loss_inputs, driver=errors_raised, part="bad_input"),
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
        Case("cam_loss_train_step", "cam_loss_train_step", _step_inputs, driver=two_steps),
        Case(
            "cam_training", "train_cam_model", _training_inputs, property=_classifies, driver=short_training
        ),
    ]


# ---------------------------------------------------------------------------------------------
# The training step: two steps from a state the grader sends, compared with the reference's
# ---------------------------------------------------------------------------------------------
def _state(seed: int, **model) -> dict:
    from solutions.cam_loss import SmallCNN

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return SmallCNN(**model).state_dict()


def _step_inputs(gen):
    state = {
        k: v.double() if v.is_floating_point() else v
        for k, v in _state(
            draw.integer(gen, 0, 10**6), in_channels=1, num_classes=3, widths=(4, 6, 8)
        ).items()
    }
    images = draw.randn(gen, 8, 1, 12, 12)
    return state, images, torch.arange(8) % 3, draw.uniform(gen, 0.5, 3)


def two_steps(module, state, images, labels, alpha):
    """Two of the student's steps with SGD and momentum for the backbone and the classifier (so that
    gradients left from the first step show); the losses and the state they leave."""
    import torch

    model = module.SmallCNN(in_channels=1, num_classes=3, widths=(4, 6, 8)).double()
    model.load_state_dict(state)
    classifier = list(model.fc.parameters())
    backbone = [p for p in model.parameters() if all(p is not q for q in classifier)]
    optimizers = [torch.optim.SGD(group, lr=0.05, momentum=0.9) for group in (backbone, classifier)]
    losses = [module.cam_loss_train_step(model, *optimizers, images, labels, alpha) for _ in range(2)]
    return losses, model.state_dict()


# ---------------------------------------------------------------------------------------------
# Training: a short run in the child; the grader measures accuracy on canvases it keeps
# ---------------------------------------------------------------------------------------------
NUM_TRAIN, NUM_TEST, EPOCHS = 768, 300, 4
MODEL = {"in_channels": 1, "num_classes": 10, "widths": (16, 32, 64)}
# Held-out accuracy of the reference after 4 epochs (one of cross-entropy alone, then alpha = 1) on 16 x 16
# canvases: 0.92 and 0.93 (seeds 0 and 1); a model that does not learn stays near 0.1.
MIN_ACCURACY = 0.7


@functools.cache
def _canvases() -> dict:
    from utils.generated import load_digit_canvas_splits

    return load_digit_canvas_splits(num_train=NUM_TRAIN, num_val=10, num_test=NUM_TEST, canvas_size=16)


def _training_inputs(gen):
    seed = draw.integer(gen, 0, 10**6)
    return _state(seed, **MODEL), _canvases()["X_train"], _canvases()["y_train"], EPOCHS, seed


def short_training(module, state, images, labels, epochs, seed):
    """module.train_cam_model (the student's step and schedule) from the given state; the state it leaves."""
    model = module.SmallCNN(in_channels=1, num_classes=10, widths=(16, 32, 64))
    model.load_state_dict(state)
    module.train_cam_model(model, images, labels, epochs, 32, 3e-3, alpha=1.0, warmup_epochs=1, seed=seed)
    return model.state_dict()


def held_out_accuracy(state: dict) -> float:
    """The share of the held-out canvases (which never enter the child) that SmallCNN with this state
    classifies right; raises when the state is not SmallCNN's."""
    from solutions.cam_loss import SmallCNN, predict_with_maps

    model = SmallCNN(**MODEL)
    model.load_state_dict(state)
    logits, _ = predict_with_maps(model, _canvases()["X_test"])
    return (logits.argmax(dim=1) == _canvases()["y_test"]).double().mean().item()


def _classifies(args, output) -> str | None:
    """The trained state classifies held-out canvases."""
    try:
        accuracy = held_out_accuracy(output)
    except (RuntimeError, TypeError, KeyError, AttributeError) as error:  # not SmallCNN's state
        return f"the trained model's state does not load ({type(error).__name__})"
    if accuracy >= MIN_ACCURACY:
        return None
    shown, goal = apart(accuracy, MIN_ACCURACY, 0, "%")
    return f"the trained model classifies {shown} of held-out canvases right, expected at least {goal}"


CASES = _cases()
