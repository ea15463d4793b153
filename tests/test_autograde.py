"""The autograder on every assignment: the reference passes everything, the stubs are not
implemented, each mutant loses exactly the questions it breaks (with an actionable message), and
modules that do not import or do not finish are reported, never crashed on."""

from __future__ import annotations

import re

import pytest
from autograde_cases import ASSIGNMENTS, MUTANTS


def statuses(report: dict) -> dict[str, str]:
    return {q["id"]: q["status"] for q in report["questions"]}


@pytest.mark.parametrize("topic", ASSIGNMENTS)
def test_report_format_and_reference_passes_everything(graded, topic):
    report, scorecard = graded[f"{topic}/reference"]
    assert report["notebook"] == ASSIGNMENTS[topic].notebook
    assert set(statuses(report)) == ASSIGNMENTS[topic].questions
    assert set(report["questions"][0]) == {"id", "points", "earned", "status", "message"}
    failing = {q["id"]: q["message"] for q in report["questions"] if q["status"] != "passed"}
    assert not failing
    assert report["earned"] == report["max"] == sum(q["points"] for q in report["questions"])
    assert re.search(rf"total {report['max']:g}/{report['max']:g}", scorecard)


@pytest.mark.parametrize("topic", ASSIGNMENTS)
def test_a_correct_solution_written_differently_passes_everything(graded, topic):
    report, _ = graded[f"{topic}/written_differently"]
    failing = {q["id"]: q["message"] for q in report["questions"] if q["status"] != "passed"}
    assert set(failing) <= ASSIGNMENTS[topic].quick_casualties, failing


@pytest.mark.parametrize("topic", ASSIGNMENTS)
def test_stubs_fail_every_question_as_not_implemented(graded, topic):
    report, _ = graded[f"{topic}/stubs"]
    assert set(statuses(report).values()) == {"not_implemented"}
    assert report["earned"] == 0
    assert all("not implemented yet" in q["message"] for q in report["questions"])


@pytest.mark.parametrize("topic,name", [(t, n) for t, mutants in MUTANTS.items() for n in mutants])
def test_mutant_loses_exactly_the_questions_it_breaks(graded, topic, name):
    mutant, assignment = MUTANTS[topic][name], ASSIGNMENTS[topic]
    report, _ = graded[f"{topic}/{name}"]
    by_id = {q["id"]: q for q in report["questions"]}
    for question, words in mutant.must_fail.items():
        assert by_id[question]["status"] == "failed", f"{question}: {by_id[question]}"
        assert words in by_id[question]["message"], f"{question}: {by_id[question]['message']!r}"
    passed_anyway = (
        assignment.questions - set(mutant.must_fail) - mutant.may_fail - assignment.quick_casualties
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
    report, _ = graded["linear_classifier/infinite_loop"]
    status = statuses(report)
    assert status["svm_loss_naive"] == status["svm_vectorized_speedup"] == "timeout"
    assert "8 s" in next(q["message"] for q in report["questions"] if q["id"] == "svm_loss_naive")
    others = ASSIGNMENTS["linear_classifier"].questions - {"svm_loss_naive", "svm_vectorized_speedup"}
    assert {q: status[q] for q in others} == dict.fromkeys(others, "passed")
