"""The same verdicts on a busy machine: while two busy processes per core run torch ops on torch's default
threads (tools/teeth/busy_machine.py; they stop by themselves after BUSY_SECONDS and are stopped by their ids
when the tests end, also on failure), every speed cell of the course passes for the reference and the
solution written differently, on torch's default threads, and the grader's race passes the reference; a
vectorized loss that calls the loop still loses its speed question, in the notebook's cell and in the race.

Speed is what a busy machine can flip: the other checks compare values. The whole notebooks and the batch
grader under load are a soak, run on demand by benchmarks/false_fails.py, whose latest results are in
benchmarks/README.md ("False fails under load")."""

from __future__ import annotations

import pytest

from tools.build.self_contained import module_from_source, run_check_cells
from tools.grade.hidden.child import Child
from tools.grade.hidden.engine import run_hidden_checks
from tools.grade.isolation import resource_limits
from tools.grade.workspace import reference_source, student_copy
from tools.teeth import linear_classifier as linear
from tools.teeth import material
from tools.teeth.busy_machine import busy_machine
from tools.teeth.slow_but_right import SPEED_QUESTIONS
from utils.course import by_topic
from utils.results import Status

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

BUSY_SECONDS = 600  # longer than the module's tests take on two cores; each busy process ends by then
TOPIC = "linear_classifier"
CALLS_THE_LOOP = linear.MUTANTS["softmax_vectorized_calls_the_loop"]
SPEED_QUESTION = "softmax_vectorized_speedup"


@pytest.fixture(scope="module")
def busy():
    with busy_machine(per_core=2, seconds=BUSY_SECONDS) as processes:
        yield processes
    assert all(process.poll() is not None for process in processes)


@pytest.mark.parametrize("topic", list(SPEED_QUESTIONS))
@pytest.mark.parametrize("solution", ["reference", "written differently"])
def test_every_speed_cell_passes_correct_code_on_torchs_default_threads(busy, topic, solution):
    source = reference_source(topic) if solution == "reference" else material(topic).ALTERNATIVE
    questions = set(SPEED_QUESTIONS[topic])
    outcomes = run_check_cells(by_topic(topic), module_from_source(topic, source), questions=questions)
    assert {q: o.status for q, o in outcomes.items()} == dict.fromkeys(questions, Status.PASSED), {
        q: o.message for q, o in outcomes.items()
    }


def test_a_vectorized_loss_that_calls_the_loop_fails_the_notebooks_speed_cell(busy):
    module = module_from_source(TOPIC, CALLS_THE_LOOP.source)
    outcome = run_check_cells(by_topic(TOPIC), module, questions={SPEED_QUESTION})[SPEED_QUESTION]
    assert outcome.status is Status.FAILED and CALLS_THE_LOOP.must_fail[SPEED_QUESTION] in outcome.message


@pytest.mark.parametrize("solution", ["reference", "calls the loop"])
def test_the_graders_race_passes_the_reference_and_fails_a_loss_that_calls_the_loop(busy, solution):
    source = reference_source(TOPIC) if solution == "reference" else CALLS_THE_LOOP.source
    with student_copy({TOPIC: source}) as copy:
        verdict = run_hidden_checks(
            TOPIC, {SPEED_QUESTION}, lambda: Child(TOPIC, copy, preexec_fn=resource_limits(4))
        )
    failures = [failure.message for failure in verdict[SPEED_QUESTION].failures]
    if solution == "reference":
        assert failures == []
    else:
        assert any("faster than" in message for message in failures), failures
