"""The same grade on a busy machine: while two busy processes per core run torch ops on torch's default
threads (benchmarks/busy_machine.py; they stop by themselves after BUSY_SECONDS and are stopped by their ids
when the tests end, also on failure), the autograder on torch's default threads gives the reference full
marks on notebooks 01, 03 and 04, and the batch grader gives the reference and the solution written
differently full marks on assignment 1, while a vectorized loss that calls the loop still loses its speed
question."""

from __future__ import annotations

import json

import pytest

from benchmarks.busy_machine import busy_machine
from benchmarks.grading import grade
from tests.autograde_cases import Case, run_case
from tests.mutants import failing_questions
from tools.grading.outputs import result_paths
from tools.hidden import linear_classifier as linear
from tools.hidden.mutation import solution_source
from utils.course import by_topic

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

BUSY_SECONDS = 1500  # longer than the module's tests take on two cores; each busy process ends by then
NOTEBOOKS = ["linear_classifier", "cam_loss", "neural_collapse"]  # the ones with speed checks
CALLS_THE_LOOP = linear.MUTANTS["softmax_vectorized_calls_the_loop"]


@pytest.fixture(scope="module")
def busy():
    with busy_machine(per_core=2, seconds=BUSY_SECONDS) as processes:
        yield processes
    assert all(process.poll() is not None for process in processes)


def failing(report: dict) -> dict[str, str]:
    return {q["id"]: q["message"] for q in report["questions"] if q["status"] != "passed"}


@pytest.mark.parametrize("topic", NOTEBOOKS)
def test_the_autograder_gives_the_reference_full_marks_on_a_busy_machine(busy, topic, tmp_path):
    report, _ = run_case(Case(by_topic(topic), reference=True), tmp_path, one_thread=False)
    assert not failing(report)
    assert report["earned"] == report["max"] == by_topic(topic).points


def test_the_batch_grader_grades_as_on_an_idle_machine(busy, tmp_path):
    submissions, out = tmp_path / "submissions", tmp_path / "grades"
    modules = {
        "ada_reference": solution_source("linear_classifier"),
        "ray_written_differently": linear.ALTERNATIVE,
        "lou_calls_the_loop": CALLS_THE_LOOP.source,
    }
    for student, source in modules.items():
        (submissions / student / "utils").mkdir(parents=True)
        (submissions / student / "utils" / "linear_classifier.py").write_text(source)
    grade(submissions, out, "--workers", "2", topic="linear_classifier")
    results = {path.stem: json.loads(path.read_text()) for path in result_paths(out)}
    for student in ("ada_reference", "ray_written_differently"):
        assert results[student]["earned"] == results[student]["max"] == 29, results[student]
    questions = {q["id"]: q for q in results["lou_calls_the_loop"]["notebooks"][0]["questions"]}
    failed = {question for question, q in questions.items() if q["status"] != "passed"}
    assert (
        failing_questions(CALLS_THE_LOOP)
        <= failed
        <= failing_questions(CALLS_THE_LOOP) | CALLS_THE_LOOP.may_fail
    )
    assert "faster than" in questions["softmax_vectorized_speedup"]["message"]
