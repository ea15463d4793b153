"""Drivers: small functions of the grader's that run in the child as driver(module, *args), module being
the student's utils.<topic>. Only a driver's source travels (tools.sandbox), so each imports what it needs
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
