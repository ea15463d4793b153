"""benchmarks/gate_margins.py measures every mutant that CI leaves out of the notebook because it breaks a
training gate only the notebook's full size decides (Mutant.full_size_gate)."""

from __future__ import annotations

import pytest

from benchmarks.gate_margins import GATES, submissions
from tools.teeth import material
from utils.course import ASSIGNMENTS


@pytest.mark.parametrize("topic", [a.topic for a in ASSIGNMENTS])
def test_each_full_size_gate_mutant_is_measured(topic):
    left_out = {name for name, mutant in material(topic).MUTANTS.items() if mutant.full_size_gate}
    measured = {label.removeprefix("mutant ") for label in submissions(topic)} if topic in GATES else set()
    assert left_out <= measured, left_out - measured
