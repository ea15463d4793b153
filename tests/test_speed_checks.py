"""Speed checks time on one intra-op thread and give the caller's thread count back: a busy machine's
stalled thread pool cannot flip them (utils/grading.py: check_speedup)."""

from __future__ import annotations

import importlib
import inspect

import pytest
import torch

from tools.check_cells import run_check_cells
from utils import grading
from utils.course import ASSIGNMENTS
from utils.results import Status


@pytest.fixture
def two_threads():
    saved = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(saved)


def test_check_speedup_times_both_sides_on_one_thread_and_restores_the_callers(two_threads):
    seen = []

    def fast():
        seen.append(("fast", torch.get_num_threads()))

    def slow():
        seen.append(("slow", torch.get_num_threads()))
        sum(range(20000))

    assert grading.check_speedup("demo", fast, slow, min_speedup=1.0) > 1
    assert {threads for _, threads in seen} == {1} and torch.get_num_threads() == 2
    kinds = [kind for kind, _ in seen[1:]]  # after the warm-up: one slow run, then the fast runs, each round
    assert kinds == ["slow", *["fast"] * 7] * 3


def test_a_failing_speed_check_still_restores_the_callers_threads(two_threads):
    with pytest.raises(AssertionError, match="expected at least 1e\\+06x"):
        grading.check_speedup("demo", lambda: sum(range(1000)), lambda: None, min_speedup=1e6)
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize("a", ASSIGNMENTS, ids=lambda a: a.topic)
def test_every_speed_check_of_the_course_times_on_one_thread(a, two_threads, monkeypatch):
    """Runs the assignment's self-contained checks on the reference, recording the thread count inside
    every timed call."""
    timed, seconds = [], grading.seconds_of

    def recording(fn):
        timed.append(torch.get_num_threads())
        return seconds(fn)

    monkeypatch.setattr(grading, "seconds_of", recording)
    outcomes = run_check_cells(a, importlib.import_module(f"solutions.{a.topic}"))
    assert {q: o.status for q, o in outcomes.items()} == dict.fromkeys(outcomes, Status.PASSED)
    has_speed_checks = "check_speedup(" in inspect.getsource(
        importlib.import_module(f"utils.checks.{a.topic}")
    )
    assert bool(timed) == has_speed_checks
    assert set(timed) <= {1} and torch.get_num_threads() == 2
