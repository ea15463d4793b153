"""Random draws for hidden-check inputs, all from the case's own seeded generator."""

from __future__ import annotations

import torch


def integer(gen: torch.Generator, low: int, high: int) -> int:
    """Uniform in low..high, both included."""
    return int(torch.randint(low, high + 1, (), generator=gen))


def uniform(gen: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=gen, dtype=torch.float64))


def randn(gen: torch.Generator, *shape: int, dtype=torch.float64, scale: float = 1.0) -> torch.Tensor:
    """scale * N(0, 1) drawn in float64, then cast: the same values whatever the dtype."""
    return (scale * torch.randn(*shape, generator=gen, dtype=torch.float64)).to(dtype)
