"""Drivers: small functions of the grader's that run in the child as driver(module, *args), module being
the student's utils.<topic>. Only a driver's source travels (tools.grade.hidden.child), so each imports what it needs
in its own body and uses no name of the file it is defined in; it returns plain data (tensors, numbers,
containers of them)."""

from __future__ import annotations

import functools
import inspect
import textwrap
from collections.abc import Callable


@functools.cache
def source_of(driver: Callable) -> str:
    return textwrap.dedent(inspect.getsource(driver))


def set_threads(module, count: int) -> int:
    """Sets torch's intra-op threads in the child; returns the count it had."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    return previous


def keep_inputs(module, *args) -> None:
    """Keeps args in the child for the next run_kept, so that a timed call carries no data."""
    global KEPT
    KEPT = args


def run_kept(module, name: str, of_the_grader: bool) -> None:
    """name(*KEPT): the module's function, or else a driver defined beside this one (a loop of the grader's).
    Its output is kept for kept_output, so that the reply carries no data either."""
    global KEPT_OUTPUT
    KEPT_OUTPUT = globals()[name](module, *KEPT) if of_the_grader else getattr(module, name)(*KEPT)


def kept_output(module):
    """The output of the last run_kept."""
    return KEPT_OUTPUT


def input_gradients(module, function: str, *args):
    """The gradients of module.<function>(*args) (a scalar) with respect to its floating-point tensor
    inputs, in order."""
    import torch

    inputs = [
        a.detach().clone().requires_grad_() if torch.is_tensor(a) and a.is_floating_point() else a
        for a in args
    ]
    getattr(module, function)(*inputs).backward()
    return [a.grad for a in inputs if torch.is_tensor(a) and a.requires_grad]


def errors_raised(module, function: str, calls: list):
    """The name of the exception module.<function>(*call) raises for each call (None: it returned)."""
    raised = []
    for call in calls:
        try:
            getattr(module, function)(*call)
            raised.append(None)
        except Exception as error:  # which one is the point
            raised.append(type(error).__name__)
    return raised


def in_half_precision(module, function: str, left, right, tau: float):
    """module.<function> on the pair rounded to float16, as a float64 scalar."""

    return getattr(module, function)(left.half(), right.half(), tau).double()


def cam_loss_routing(module, feature_map, labels, fc_weight, alpha: float):
    """Where l_cam's gradient goes when the logits depend on fc_weight as in a network: (its gradient on
    the feature maps, the largest entry of its gradient on fc_weight, 0 when none reaches it)."""
    import torch

    feature_map, fc_weight = feature_map.clone().requires_grad_(), fc_weight.clone().requires_grad_()
    logits = feature_map.mean(dim=(2, 3)) @ fc_weight.t()
    l_cam = module.cam_loss(logits, feature_map, labels, fc_weight, alpha)[2]
    to_maps, to_weight = torch.autograd.grad(l_cam, [feature_map, fc_weight], allow_unused=True)
    return to_maps, 0.0 if to_weight is None else float(to_weight.abs().max())
