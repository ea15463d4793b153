"""Numeric gradients and relative errors, for checking analytic gradients (as in CS231n / EECS 498)."""

from __future__ import annotations

from collections.abc import Callable

import torch


def rel_error(x: torch.Tensor | float, y: torch.Tensor | float, eps: float = 1e-10) -> float:
    """Largest relative error max |x - y| / max(|x| + |y|, eps), elementwise over x and y.

    The eps floor keeps the ratio finite (zero) when x and y are both exactly zero.
    """
    x = torch.as_tensor(x, dtype=torch.float64)
    y = torch.as_tensor(y, dtype=torch.float64, device=x.device)
    if x.shape != y.shape:
        raise ValueError(f"rel_error needs tensors of one shape; got {tuple(x.shape)} and {tuple(y.shape)}")
    if x.numel() == 0:
        return 0.0
    ratio = (x - y).abs() / (x.abs() + y.abs()).clamp_min(eps)
    return ratio.max().item()


def _centered_difference(
    f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, i: int, h: float
) -> float:
    """(f(x + h e_i) - f(x - h e_i)) / 2h for flat index i; x is restored afterwards."""
    flat_x = x.view(-1)
    old = flat_x[i].item()
    flat_x[i] = old + h
    fxph = float(f(x))
    flat_x[i] = old - h
    fxmh = float(f(x))
    flat_x[i] = old
    return (fxph - fxmh) / (2 * h)


def compute_numeric_gradient(
    f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, h: float = 1e-7
) -> torch.Tensor:
    """Centered-difference gradient of a scalar function f at x, one coordinate at a time.

    x: a contiguous tensor of any shape (use float64: h = 1e-7 is too small for float32).
    Returns a tensor shaped like x. x is restored after each perturbation.
    """
    grad = torch.zeros_like(x)
    flat_grad = grad.view(-1)
    for i in range(x.numel()):
        flat_grad[i] = _centered_difference(f, x, i, h)
    return grad


def grad_check_sparse(
    f: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    analytic_grad: torch.Tensor,
    num_checks: int = 10,
    h: float = 1e-7,
    seed: int | None = 0,
    verbose: bool = True,
) -> float:
    """Compares analytic_grad with centered differences at num_checks random coordinates of x.

    Prints one line per coordinate when verbose; returns the largest relative error seen.
    """
    if analytic_grad.shape != x.shape:
        raise ValueError(f"analytic_grad has shape {tuple(analytic_grad.shape)}, x has {tuple(x.shape)}")
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    flat_grad = analytic_grad.reshape(-1)
    worst = 0.0
    for _ in range(num_checks):
        i = int(torch.randint(x.numel(), (1,), generator=generator))
        numeric = _centered_difference(f, x, i, h)
        analytic = flat_grad[i].item()
        error = rel_error(numeric, analytic)
        worst = max(worst, error)
        if verbose:
            print(f"numerical: {numeric:f} analytic: {analytic:f}, relative error: {error:e}")
    return worst
