"""The autograder on every assignment of the course: the reference passes everything, the stubs are not
implemented, each mutant loses exactly the questions it breaks (with an actionable message), down to the
parts it names, and modules that do not import or do not finish are reported, never crashed on. Every
report is what it was pinned (tests/fixtures/autograder_reports.json, written by
`python -m tests.pin_autograder_reports`)."""

from __future__ import annotations

import json
import re

import pytest

from tests.autograde_cases import BROKEN
from tests.mutants import assert_parts_fail_as_named, failing_questions
from tests.pin_autograder_reports import PINNED, measured_masked, pinned_form
from tools.teeth import material
from utils.course import ASSIGNMENTS, by_topic, question_id

# Slow: it runs notebooks. The first test pays for grading every case (conftest.py: graded), which takes
# longer than the suite's per-test timeout.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3000)]

TOPICS = [a.topic for a in ASSIGNMENTS]


def statuses(report: dict) -> dict[str, str]:
    return {q["id"]: q["status"] for q in report["questions"]}


def question_ids(topic: str) -> set[str]:
    return {q.id for q in by_topic(topic).questions}


@pytest.mark.parametrize("topic", TOPICS)
def test_report_format_and_reference_passes_everything(graded, topic):
    report, scorecard = graded[f"{topic}/reference"]
    assert report["notebook"] == by_topic(topic).notebook
    assert list(statuses(report)) == [q.id for q in by_topic(topic).questions]
    for question, data in zip(by_topic(topic).questions, report["questions"]):
        keys = {"id", "points", "earned", "status", "message"} | ({"parts"} if question.parts else set())
        assert set(data) == keys, data
    failing = {q["id"]: q["message"] for q in report["questions"] if q["status"] != "passed"}
    assert not failing
    assert report["earned"] == report["max"] == by_topic(topic).points
    assert re.search(rf"total {report['max']:g}/{report['max']:g}", scorecard)


@pytest.mark.parametrize("topic", TOPICS)
def test_a_correct_solution_written_differently_passes_everything(graded, topic):
    report, _ = graded[f"{topic}/written_differently"]
    failing = {q["id"]: q["message"] for q in report["questions"] if q["status"] != "passed"}
    assert set(failing) <= material(topic).QUICK_CASUALTIES, failing


@pytest.mark.parametrize("topic", TOPICS)
def test_stubs_fail_every_question_as_not_implemented(graded, topic):
    report, _ = graded[f"{topic}/stubs"]
    assert set(statuses(report).values()) == {"not_implemented"}
    assert report["earned"] == 0
    assert all("not implemented yet" in q["message"] for q in report["questions"])


@pytest.mark.parametrize(
    "topic,name", [(t, n) for t in TOPICS for n, m in material(t).MUTANTS.items() if m.notebook]
)
def test_mutant_loses_exactly_the_questions_it_breaks(graded, topic, name):
    mutant, hidden = material(topic).MUTANTS[name], material(topic)
    report, _ = graded[f"{topic}/{name}"]
    by_id = {q["id"]: q for q in report["questions"]}
    for key, words in mutant.must_fail.items():
        question = by_id[question_id(key)]
        assert question["status"] == "failed", f"{key}: {question}"
        assert words in question["message"], f"{key}: {question['message']!r}"
        parts = {p["id"]: (p["status"], p["message"]) for p in question.get("parts", [])}
        assert_parts_fail_as_named(topic, mutant, question["id"], parts)
        kept = sum(p["points"] for p in question.get("parts", []) if p["status"] == "passed")
        assert question["earned"] == kept  # the parts that still pass keep their points
    passed_anyway = (
        question_ids(topic) - failing_questions(mutant) - set(mutant.may_fail) - hidden.QUICK_CASUALTIES
    )
    assert {q: by_id[q]["status"] for q in passed_anyway} == dict.fromkeys(passed_anyway, "passed")


@pytest.mark.parametrize(
    "name,error", [("syntax_error", "SyntaxError"), ("import_error", "ModuleNotFoundError")]
)
def test_module_that_does_not_import_is_reported_once_as_the_cause(graded, name, error):
    report, scorecard = graded[f"linear_classifier/{name}"]
    assert set(statuses(report).values()) == {"error"}
    assert error in report["cause"] and "utils/linear_classifier.py" in report["cause"]
    assert scorecard.count(error) == 1


def test_a_question_that_runs_too_long_is_a_timeout_and_the_rest_still_grade(graded):
    assert "infinite_loop" in BROKEN
    report, _ = graded["linear_classifier/infinite_loop"]
    status = statuses(report)
    assert status["svm_loss_naive"] == status["svm_vectorized_speedup"] == "timeout"
    assert "8 s" in next(q["message"] for q in report["questions"] if q["id"] == "svm_loss_naive")
    others = question_ids("linear_classifier") - {"svm_loss_naive", "svm_vectorized_speedup"}
    assert {q: status[q] for q in others} == dict.fromkeys(others, "passed")


def test_every_report_is_what_it_was_pinned(graded):
    pinned = json.loads(PINNED.read_text())
    assert set(pinned) == set(graded), set(pinned) ^ set(graded)  # a case dropped, or one never pinned
    changed = {
        key: (now, then)
        for key, before in pinned.items()
        if (now := measured_masked(pinned_form(graded[key][0]), key.split("/")[0]))
        != (then := measured_masked(before, key.split("/")[0]))
    }
    assert not changed, json.dumps(changed, indent=1)[:5000]
