"""Recorded oracles (utils/checks/recorded.py) and the rewrite that ships them without code (tools/build/record.py)."""

from __future__ import annotations

import pytest
import torch

from tools.build.record import replay_source, save_recording
from utils.checks import recorded


def doubled(x: torch.Tensor, scale: float = 1.0):
    return 2 * scale * x, [x.sum()]


def doubled_as_released(x: torch.Tensor, scale: float = 1.0): ...


doubled_as_released.__qualname__ = "doubled"  # what the release's rewrite keeps: the name, not the body


def test_a_replayed_oracle_returns_the_recorded_result_for_close_inputs_and_fails_otherwise(
    tmp_path, monkeypatch
):
    live = recorded.oracle(doubled)
    x = torch.linspace(0, 1, 5, dtype=torch.float64)
    with recorded.recording() as calls:
        live(x)
        live(x, scale=3.0)
        live(x.clone())  # the same inputs again: recorded once
    assert len(calls) == 2
    save_recording(calls, tmp_path / f"{__name__.rsplit('.', 1)[-1]}.pt")
    monkeypatch.setattr(recorded, "EXPECTED_DIR", tmp_path)
    recorded.recorded_calls.cache_clear()
    try:
        replay = recorded.replayed(doubled_as_released)
        value, [total] = replay(x * (1 + 1e-12), scale=3.0)
        assert torch.equal(value, 6 * x) and total == x.sum()
        with pytest.raises(AssertionError, match="no recorded reference value for doubled"):
            replay(x + 1e-6)
        with pytest.raises(AssertionError, match="no recorded reference value"):
            replay(x.float())
    finally:
        recorded.recorded_calls.cache_clear()


SOURCE = '''"""Checks for a topic.

The oracle is F.secret.
"""
from utils.checks.recorded import oracle


@oracle
def expected_value(x):
    """Secret method."""
    y = x.secret_method()
    return y


def check(fn):
    return fn(1) == expected_value(1)
'''


def test_replay_source_removes_oracle_bodies_and_revealing_module_docs():
    out = replay_source(SOURCE, "topic")
    assert "secret" not in out
    assert "@replayed\ndef expected_value(x):\n    ...\n" in out
    assert "from utils.checks.recorded import replayed\n" in out and "def check(fn):" in out
    compile(out, "released", "exec")


def test_an_oracle_must_be_defined_at_module_level():
    nested = (
        "from utils.checks.recorded import oracle\n\n"
        "def check():\n    @oracle\n    def inner(x):\n        return x\n"
    )
    with pytest.raises(ValueError, match="module level"):
        replay_source(nested, "topic")
