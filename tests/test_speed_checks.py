"""Speed checks time on one intra-op thread and give the caller's thread count back: a busy machine's
stalled thread pool cannot flip them (utils/grading.py: check_speedup). Each speed cell of the notebooks
gives correct code a pass and a kept loop a fail, whatever the caller's threads, run after run."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import pytest
import torch

from tools.build.self_contained import module_from_source, run_check_cells
from tools.grade.hidden.child import Child
from tools.grade.hidden.engine import cases, race_ratio
from tools.grade.isolation import resource_limits
from tools.grade.workspace import reference_source, student_copy
from tools.teeth.slow_but_right import SPEED_QUESTIONS, submissions
from utils import grading
from utils.course import ASSIGNMENTS, REPO_ROOT, by_topic
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
    kinds = [kind for kind, _ in seen[1:]]  # after the warm-up: one slow run, then one fast, each round
    assert kinds == ["slow", "fast"] * 5


def test_a_failing_speed_check_still_restores_the_callers_threads(two_threads):
    with pytest.raises(AssertionError, match="expected at least 1e\\+06x"):
        grading.check_speedup("demo", lambda: sum(range(1000)), lambda: None, min_speedup=1e6)
    assert torch.get_num_threads() == 2


def test_timing_resolves_a_millisecond_under_the_graders_cpu_time_limit():
    """The grader sets RLIMIT_CPU, under which Linux counts a process's CPU time in scheduler ticks: a
    process clock measured a millisecond call as 0 and the reference as 0x faster than a loop."""
    code = "from utils.grading import seconds_of; print(min(seconds_of(lambda: sum(range(20000))) for _ in range(5)))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
                          preexec_fn=resource_limits(4, cpu_seconds=300))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert 0 < float(proc.stdout) < 0.1


class RecordingChild(Child):
    """A child that records each call's function, arguments and reply, and the thread count the child had
    during the call."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = []

    def call(self, function, args, timeout, driver=None):
        reply = super().call(function, args, timeout, driver)
        self.calls.append((function, args, reply))
        return reply


def test_the_graders_race_times_calls_that_carry_no_data_on_one_thread_of_the_child():
    """The pipe's transfer of a loss's inputs took most of the vectorized side's time, so that a slowed
    transfer on a busy machine squeezed a correct loss's ratio to 2.9x against a 3x threshold. The inputs now
    travel untimed before each timed call, which carries only a name and returns nothing; the student's
    output of each timed call is fetched afterwards, on fresh inputs each round."""
    case = next(c for c in cases("linear_classifier") if c.speed is not None)
    with student_copy({"linear_classifier": reference_source("linear_classifier")}) as copy:
        child = RecordingChild("linear_classifier", copy)
        try:
            race_ratio(child, "linear_classifier", case, timeout=120)
        finally:
            child.close()
    names = [function for function, _, _ in child.calls]
    a_round = ["keep_inputs", "run_kept", "kept_output", "keep_inputs", "run_kept"]
    assert names == ["set_threads", *a_round * case.speed.rounds, "set_threads"]
    assert child.calls[0][1] == (1,) and child.calls[-1][1] == (child.calls[0][2].value,)
    timed = [(args, reply) for function, args, reply in child.calls if function == "run_kept"]
    assert [args for args, _ in timed] == [
        (case.function, False),
        (case.speed.loop.__name__, True),
    ] * case.speed.rounds
    assert all(reply.value is None and reply.error is None for _, reply in timed)
    sent = [args for function, args, _ in child.calls if function == "keep_inputs"]
    assert all(torch.equal(a[1], b[1]) for a, b in zip(sent[::2], sent[1::2]))  # a round's two sides alike
    assert len({float(args[1].sum()) for args in sent[::2]}) == case.speed.rounds  # and new inputs each round


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


def _speed_cells() -> list[tuple[str, str, str]]:
    """(topic, submission, speed question) for each speed cell: the correct solutions, and the mistakes
    that only slow the function that cell times (benchmarks/speed_margins.py)."""
    return [
        (topic, label, question)
        for topic, questions in SPEED_QUESTIONS.items()
        for label, (_, slowed) in submissions(topic).items()
        for question, function in questions.items()
        if slowed in (None, function)
    ]


@pytest.mark.slow
@pytest.mark.parametrize(("topic", "submission", "question"), _speed_cells())
def test_a_speed_cell_gives_the_same_verdict_on_one_and_two_threads_three_times_in_a_row(
    topic, submission, question
):
    source, slowed = submissions(topic)[submission]
    module, saved, statuses = module_from_source(topic, source), torch.get_num_threads(), []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for _ in range(3):
                statuses.append(
                    run_check_cells(by_topic(topic), module, questions={question})[question].status
                )
    finally:
        torch.set_num_threads(saved)
    assert statuses == [Status.PASSED if slowed is None else Status.FAILED] * 6
