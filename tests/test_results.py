"""Questions with parts: the Parts helper of the checks, the autograder's reading of its bundle, the typed
results and their JSON, the checks against the registry, the scorecard and the Gradescope export."""

from __future__ import annotations

import json

import pytest

from tools.grade.hidden.engine import HiddenFailure, cases
from tools.grade.outputs import gradescope_results, validated
from tools.grade.run import _lose
from utils.autograde import format_scorecard, part_results
from utils.cell_runner import CellOutcome, parts_bundle
from utils.course import ASSIGNMENTS, by_topic
from utils.graded_cells import GradedCell
from utils.grading import PARTS_MIME, Parts, collecting_parts, fail
from utils.results import (
    MalformedReport,
    NotebookReport,
    PartResult,
    QuestionResult,
    Status,
    SubmissionResult,
)

SIMCLR = by_topic("simclr")
VECTORIZED = SIMCLR.question("simclr_loss_vectorized")  # value 1, gradient 1, half_precision 1, bad_input 1


def graded(parts: dict[str, Exception | None]) -> tuple[list[dict], BaseException | None]:
    """(the bundles Parts published, what finish raised) for parts {id: what its block raises}."""
    checks = Parts("simclr_loss_vectorized")
    with collecting_parts() as bundles:
        for part, error in parts.items():
            with checks(part):
                if error is not None:
                    raise error
        try:
            checks.finish()
        except BaseException as raised:  # what finish raised is the point
            return bundles, raised
    return bundles, None


def test_a_failing_part_does_not_stop_the_others_and_the_cell_still_fails_naming_it():
    bundles, raised = graded(
        {
            "value": None,
            "gradient": None,
            "half_precision": AssertionError("inf in float16"),
            "bad_input": None,
        }
    )
    assert bundles == [
        {
            "question": "simclr_loss_vectorized",
            "parts": [
                {"id": "value", "status": "passed", "message": ""},
                {"id": "gradient", "status": "passed", "message": ""},
                {"id": "half_precision", "status": "failed", "message": "inf in float16"},
                {"id": "bad_input", "status": "passed", "message": ""},
            ],
        }
    ]
    assert isinstance(raised, AssertionError)
    assert str(raised) == "half_precision: inf in float16\n(passed: value, gradient, bad_input)"


def test_when_no_part_passes_the_cell_ends_as_its_first_part_did():
    bundles, raised = graded({"value": TypeError("bad"), "gradient": AssertionError("wrong")})
    assert isinstance(raised, TypeError)
    assert [p["status"] for p in bundles[0]["parts"]] == ["error", "failed"]


def test_a_todo_in_any_part_leaves_the_whole_question_not_implemented():
    """A stub's input checks run before its TODO, so its bad-input part would pass: it earns nothing."""
    todo = NotImplementedError("simclr_loss_vectorized: not implemented yet")
    bundles, raised = graded({"value": todo, "gradient": NotImplementedError("again"), "bad_input": None})
    assert raised is todo and bundles == []  # no bundle: every part shares the question's TODO


def test_every_part_passing_raises_nothing_and_an_error_in_a_part_is_its_error(capsys):
    bundles, raised = graded({"value": None, "gradient": None})
    assert raised is None and "PASSED simclr_loss_vectorized" in capsys.readouterr().out
    bundles, _ = graded({"value": None, "gradient": RuntimeError("Half not supported")})
    assert bundles[0]["parts"][1] == {
        "id": "gradient",
        "status": "error",
        "message": "RuntimeError: Half not supported",
    }


def cell(outcome_parts, status=Status.FAILED, message="half_precision: ...") -> list[PartResult]:
    graded_cell = GradedCell(VECTORIZED.id, VECTORIZED.points, 0, None, VECTORIZED.parts)
    outcome = CellOutcome(status, message)
    outcome.parts = outcome_parts
    return part_results(graded_cell, outcome)


def bundle(**statuses: str) -> dict:
    return {
        "question": "simclr_loss_vectorized",
        "parts": [
            {"id": p, "status": s, "message": "" if s == "passed" else f"{p} broke"}
            for p, s in statuses.items()
        ],
    }


def test_the_autograder_reads_the_last_bundle_of_a_cell_with_the_registrys_points():
    early, late = bundle(value="failed"), bundle(value="passed", gradient="passed", half_precision="failed")
    outputs = [
        {"output_type": "display_data", "data": {PARTS_MIME: early, "text/plain": "..."}},
        {"output_type": "stream", "text": "PASSED"},
        {"output_type": "display_data", "data": {PARTS_MIME: late}},
    ]
    assert parts_bundle(outputs) is late
    assert cell(late) == [
        PartResult("value", 1, Status.PASSED, ""),
        PartResult("gradient", 1, Status.PASSED, ""),
        PartResult("half_precision", 1, Status.FAILED, "half_precision broke"),
        PartResult("bad_input", 1, Status.ERROR, "the check did not grade this part"),
    ]


@pytest.mark.parametrize(
    "bogus",
    [
        None,
        "parts",
        {"question": "sim", "parts": []},
        {"question": "simclr_loss_vectorized", "parts": [{"id": "value", "status": "great"}]},
    ],
)
def test_without_a_bundle_of_its_own_every_part_shares_the_questions_outcome(bogus):
    parts = cell(bogus, Status.TIMEOUT, "did not finish within 8 s")
    assert parts == [
        PartResult(p.id, p.points, Status.TIMEOUT, "did not finish within 8 s") for p in VECTORIZED.parts
    ]
    assert QuestionResult(VECTORIZED.id, 4, Status.TIMEOUT, "", parts=parts).earned == 0


def partial(status=Status.FAILED, message="half_precision: inf") -> QuestionResult:
    parts = [PartResult(p.id, p.points, Status.PASSED) for p in VECTORIZED.parts]
    parts[2] = PartResult("half_precision", 1, Status.FAILED, "inf in float16")
    return QuestionResult(VECTORIZED.id, 4.0, status, message, parts=parts)


def test_a_question_earns_its_passed_parts_and_its_json_round_trips():
    question = partial()
    assert question.earned == 3
    data = question.to_json()
    assert data["earned"] == 3 and [p["id"] for p in data["parts"]] == [p.id for p in VECTORIZED.parts]
    assert QuestionResult.from_json(json.loads(json.dumps(data))) == question


def test_a_question_without_parts_keeps_its_json():
    data = QuestionResult("sim", 1.0, Status.PASSED, "").to_json()
    assert data == {"id": "sim", "points": 1.0, "earned": 1.0, "status": "passed", "message": ""}


def test_a_failure_outside_the_parts_costs_the_whole_question():
    parts = [PartResult(p.id, p.points, Status.PASSED) for p in VECTORIZED.parts]
    assert (
        QuestionResult(VECTORIZED.id, 4.0, Status.FAILED, "2 of 9 hidden checks failed", parts=parts).earned
        == 0
    )


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d.update(earned=4),  # points for a failed part
        lambda d: d["parts"][2].update(
            status="passed"
        ),  # a failed question whose parts all passed earns nothing
        lambda d: d["parts"][0].update(points=2),  # parts that no longer make up the question
        lambda d: d["parts"].append(dict(d["parts"][0])),  # a part twice
        lambda d: d["parts"][0].update(status="fine"),
        lambda d: d["parts"][0].pop("message"),
    ],
)
def test_from_json_refuses_parts_inconsistent_with_the_earned_points(tamper):
    data = partial().to_json()
    tamper(data)
    with pytest.raises(MalformedReport):
        QuestionResult.from_json(data)


def test_from_json_refuses_a_passed_question_with_a_failed_part():
    data = partial(Status.PASSED, "").to_json()
    data["earned"] = 4.0
    with pytest.raises(MalformedReport, match="passed with the failed parts"):
        QuestionResult.from_json(data)


def simclr_report(question: QuestionResult) -> dict:
    report = NotebookReport.all_failed(SIMCLR.notebook, SIMCLR.questions, Status.FAILED, "")
    report.questions = [question if q.id == question.id else q for q in report.questions]
    return report.to_json()


def test_the_grader_checks_parts_against_the_registry():
    assert validated(simclr_report(partial()), SIMCLR) is not None
    invented = partial()
    invented.parts = [*invented.parts[:3], PartResult("style", 1, Status.PASSED)]  # a part of a student's own
    renamed = partial()
    renamed.parts = [PartResult(p.id, p.points, p.status, p.message) for p in renamed.parts]
    renamed.parts[0], renamed.parts[1] = renamed.parts[1], renamed.parts[0]  # another order
    reweighted = partial()
    reweighted.parts[0].points, reweighted.parts[3].points = 2.0, 0.0  # points moved to a passing part
    missing = QuestionResult(VECTORIZED.id, 4.0, Status.FAILED, "")  # graded all or nothing
    for tampered in (invented, renamed, reweighted, missing):
        assert validated(simclr_report(tampered), SIMCLR) is None, tampered


def test_the_scorecard_shows_each_part_under_its_question_with_the_failing_parts_message():
    report = NotebookReport.from_json(simclr_report(partial()))
    lines = format_scorecard(report).splitlines()
    row = lines.index(next(line for line in lines if "simclr_loss_vectorized" in line))
    assert lines[row].split() == ["[", "FAIL]", "simclr_loss_vectorized", "3/4"]
    assert [line.split()[:4] for line in lines[row + 1 : row + 5]] == [
        ["[", "ok]", "value", "1/1"],
        ["[", "ok]", "gradient", "1/1"],
        ["[", "FAIL]", "half_precision", "0/1"],
        ["[", "ok]", "bad_input", "1/1"],
    ]
    assert lines[row + 3].endswith("inf in float16")


def test_gradescope_gets_a_test_per_part():
    report = NotebookReport.from_json(simclr_report(partial()))
    tests = gradescope_results(SubmissionResult("ada", [report]))["tests"]
    ours = [t for t in tests if t["name"].startswith("02_simclr: simclr_loss_vectorized")]
    assert [(t["name"].split("/")[-1], t["score"], t["max_score"], t["status"]) for t in ours] == [
        ("value", 1, 1, "passed"),
        ("gradient", 1, 1, "passed"),
        ("half_precision", 0, 1, "failed"),
        ("bad_input", 1, 1, "passed"),
    ]
    assert ours[2]["output"] == "inf in float16"
    assert sum(t["max_score"] for t in tests) == SIMCLR.points
    assert sum(t["score"] for t in tests) == report.earned == 3


def test_gradescope_fails_every_part_of_a_question_failed_outside_its_parts():
    question = partial()
    question.parts[2].status = Status.PASSED
    question.message = "passed the notebook's checks but 1 of 3 hidden checks failed"
    report = NotebookReport.from_json(simclr_report(question))
    tests = gradescope_results(SubmissionResult("ada", [report]))["tests"]
    ours = [t for t in tests if t["name"].startswith("02_simclr: simclr_loss_vectorized")]
    assert {(t["score"], t["status"], t["output"]) for t in ours} == {(0, "failed", question.message)}


def test_a_check_can_fail_with_the_usual_helpers_inside_a_part():
    checks = Parts("q")
    with collecting_parts() as bundles, checks("value"):
        fail("value is 2, expected 1", "divide by N")
    assert bundles == [] and checks.errors["value"].args == ("value is 2, expected 1\nHint: divide by N",)


def _passed_vectorized_loss() -> QuestionResult:
    parts = [PartResult(p.id, p.points, Status.PASSED) for p in VECTORIZED.parts]
    return QuestionResult(VECTORIZED.id, VECTORIZED.points, Status.PASSED, parts=parts)


def test_a_hidden_check_of_one_part_costs_that_part_and_one_of_none_the_whole_question():
    question = _passed_vectorized_loss()
    _lose(question, [HiddenFailure("hidden check: float16 overflows", "half_precision")], total=3)
    assert question.earned == VECTORIZED.points - 1 and [p.id for p in question.failed_parts] == [
        "half_precision"
    ]
    assert question.failed_parts[0].message == "hidden check: float16 overflows"
    assert "passed the notebook's checks but 1 of 3 hidden checks failed" in question.message
    _lose(question, [HiddenFailure("hidden check: the process ended")], total=3)  # no part: all of them
    assert question.earned == 0 and len(question.failed_parts) == len(VECTORIZED.parts)
    assert QuestionResult.from_json(question.to_json()) == question


def test_every_part_has_hidden_cases_and_they_cost_only_parts_their_question_has():
    for a in ASSIGNMENTS:
        covered = {(case.question, part) for case in cases(a.topic) for part in case.parts()}
        declared = {(q.id, p.id) for q in a.questions for p in q.parts}
        assert covered <= declared, f"{a.hidden}: cases cost unknown parts {covered - declared}"
        assert declared <= covered, f"{a.hidden}: no hidden case tests {sorted(declared - covered)}"
