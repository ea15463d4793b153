"""The same grade on a busy machine: while two busy processes per core run torch ops on torch's default
threads (tools/teeth/busy_machine.py; they stop by themselves after BUSY_SECONDS and are stopped by their ids
when the tests end, also on failure), the autograder on torch's default threads gives the reference full
marks on notebooks 01, 03 and 04, question by question what the pinned run on one thread of an idle machine
recorded (tests/fixtures/reports_before_the_registry.json); the
batch grader gives the reference and the solution written differently full marks on assignment 1; and a
vectorized loss that calls the loop still loses its speed question, both in the notebook's cell and in the
grader's race."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.grading import grade
from tests.autograde_cases import Case, run_case
from tools.build.self_contained import module_from_source, run_check_cells
from tools.grade.hidden.child import Child
from tools.grade.hidden.engine import run_hidden_checks
from tools.grade.isolation import resource_limits
from tools.grade.outputs import result_paths
from tools.grade.workspace import reference_source, student_copy
from tools.teeth import linear_classifier as linear
from tools.teeth.busy_machine import busy_machine
from utils.course import by_topic
from utils.results import Status

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

BUSY_SECONDS = 1500  # longer than the module's tests take on two cores; each busy process ends by then
NOTEBOOKS = ["linear_classifier", "cam_loss", "neural_collapse"]  # the ones with speed checks
TOPIC = "linear_classifier"
CALLS_THE_LOOP = linear.MUTANTS["softmax_vectorized_calls_the_loop"]
SPEED_QUESTION = "softmax_vectorized_speedup"


@pytest.fixture(scope="module")
def busy():
    with busy_machine(per_core=2, seconds=BUSY_SECONDS) as processes:
        yield processes
    assert all(process.poll() is not None for process in processes)


PINNED = json.loads((Path(__file__).with_name("fixtures") / "reports_before_the_registry.json").read_text())


@pytest.mark.parametrize("topic", NOTEBOOKS)
def test_the_autograder_grades_the_reference_as_on_one_thread_of_an_idle_machine(busy, topic, tmp_path):
    report, _ = run_case(Case(by_topic(topic), reference=True), tmp_path, one_thread=False)
    assert report["earned"] == report["max"] == by_topic(topic).points, report
    idle = {
        q_id: (status, earned) for q_id, _, earned, status, _ in PINNED[f"{topic}/reference"]["questions"]
    }
    assert {q["id"]: (q["status"], q["earned"]) for q in report["questions"]} == idle


def test_the_batch_grader_gives_correct_solutions_full_marks(busy, tmp_path):
    submissions, out = tmp_path / "submissions", tmp_path / "grades"
    for student, source in {
        "ada_reference": reference_source(TOPIC),
        "ray_written_differently": linear.ALTERNATIVE,
    }.items():
        (submissions / student / "utils").mkdir(parents=True)
        (submissions / student / "utils" / f"{TOPIC}.py").write_text(source)
    grade(submissions, out, "--workers", "2", topic=TOPIC)
    results = {path.stem: json.loads(path.read_text()) for path in result_paths(out)}
    assert set(results) == {"ada_reference", "ray_written_differently"}
    for result in results.values():
        assert result["earned"] == result["max"] == by_topic(TOPIC).points, result


def test_a_vectorized_loss_that_calls_the_loop_fails_the_notebooks_speed_cell(busy):
    module = module_from_source(TOPIC, CALLS_THE_LOOP.source)
    outcome = run_check_cells(by_topic(TOPIC), module, questions={SPEED_QUESTION})[SPEED_QUESTION]
    assert outcome.status is Status.FAILED and CALLS_THE_LOOP.must_fail[SPEED_QUESTION] in outcome.message


def test_a_vectorized_loss_that_calls_the_loop_loses_the_graders_race(busy):
    with student_copy({TOPIC: CALLS_THE_LOOP.source}) as copy:
        verdict = run_hidden_checks(
            TOPIC, {SPEED_QUESTION}, lambda: Child(TOPIC, copy, preexec_fn=resource_limits(4))
        )
    assert any("faster than" in failure.message for failure in verdict[SPEED_QUESTION].failures), verdict
