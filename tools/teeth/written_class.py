"""A class with written answers, for tools/written's tests and benchmark: the generated class's grades
(generated_class.submission) with each student's answers to the course's written questions, as tools.grade
writes them into <student>.json, without running the grader.

Answers are sentences drawn from the rubric's words, so that they read like answers; every fifth one is
empty, and hostile students answer with markup that would run as script if a page wrote it as HTML
(HOSTILE). feedback_student() is the one student whose feedback page shows every case at once: a failed
part, a timeout, and a failure of the hidden checks made as the grader makes it, with the hidden inputs
and expected values it must not show.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import torch

from tools.grade.hidden.engine import HiddenFailure, _expected, _judge, case_inputs, cases, describe_inputs
from tools.grade.outputs import write_grades_csv
from tools.grade.run import _lose
from tools.teeth import generated_class
from tools.written.rubrics import RUBRICS
from utils import course
from utils.results import PartResult, QuestionResult, Status, SubmissionResult, WrittenAnswers
from utils.written import ANSWER_PROMPT, marked

# What the grading page and the feedback must show as text, never run. Each would set window.pwned or the
# page's title if it ran.
HOSTILE = (
    "<script>window.pwned = 1; document.title = 'pwned'</script>",
    "<img src=x onerror=\"window.pwned = 2; document.title = 'pwned'\">",
    '<a href="javascript:window.pwned = 3">click me</a>',
)
HOSTILE_ANSWER = "Hostile: " + " ".join(HOSTILE)


def answer_text(topic: str, question: str, rng: random.Random) -> str:
    """An answer made of some of the rubric's descriptions, or "" (left empty) one time in five."""
    if rng.random() < 0.2:
        return ""
    items = RUBRICS.get((topic, question), ())
    chosen = [i.description for i in items if rng.random() < 0.6]
    return " ".join(chosen) or "I am not sure."


def with_answers(result: SubmissionResult, rng: random.Random, hostile: bool = False) -> SubmissionResult:
    """The result with answers to every written question of its notebooks (HOSTILE_ANSWER to each, if hostile)."""
    for report in result.notebooks:
        assignment = course.by_notebook(report.notebook)
        if assignment is None or not assignment.written:
            continue
        answers = {
            q.id: HOSTILE_ANSWER if hostile else answer_text(assignment.topic, q.id, rng)
            for q in assignment.written
        }
        result.written.append(WrittenAnswers(assignment.notebook, assignment.written_points, answers))
    return result


def write_class(
    folder: Path,
    size: int,
    seed: int = 0,
    hostile: tuple[int, ...] = (),
    extra: tuple[SubmissionResult, ...] = (),
) -> list[SubmissionResult]:
    """size generated students (student0000, ...) with written answers, the students numbered in hostile
    answering HOSTILE_ANSWER, plus the extra results as they are; their <student>.json and grades.csv."""
    rng, kinds = random.Random(seed), generated_class.kinds()
    results = [
        with_answers(
            generated_class.submission(f"student{i:04d}", kinds[i % len(kinds)], rng), rng, i in hostile
        )
        for i in range(size)
    ]
    results += list(extra)
    folder.mkdir(parents=True, exist_ok=True)
    for result in results:
        (folder / f"{result.student}.json").write_text(json.dumps(result.to_json()))
    write_grades_csv(folder)
    return results


def hand_in_again(folder: Path, student: str, notebook: str, question: str, text: str) -> None:
    """The student's <student>.json as tools.grade writes it after the student hands in a new answer."""
    path = folder / f"{student}.json"
    data = json.loads(path.read_text())
    next(w for w in data["written"] if w["notebook"] == notebook)["answers"][question] = text
    path.write_text(json.dumps(data))


# ---------------------------------------------------------------------------------------------
# A student whose feedback shows every case
# ---------------------------------------------------------------------------------------------
TOPIC = "linear_classifier"
FAILED_PART = "softmax_loss_naive"  # its stability part fails a public check
TIMED_OUT = "sample_batch"
HIDDEN = "svm_loss_vectorized"  # passes the notebook, fails a hidden check
PENDING = "svm_weight_templates"  # the written question nobody grades
PART_HINT = "subtract each row's maximum before exp()"


def _values(value) -> list[str]:
    """How the values of a hidden input or output could be written on a page: a few digits of each float."""
    if isinstance(value, (tuple, list)):
        return [text for v in value for text in _values(v)]
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        numbers = value.detach().flatten()[:50].tolist()
        return [f"{v:.4f}" for v in numbers if abs(v) >= 1e-3] + [
            f"{v:.5g}" for v in numbers if abs(v) >= 1e-3
        ]
    return []


def hidden_failure(question: course.Question) -> tuple[QuestionResult, list[str]]:
    """The question failed by its first hidden case as tools.grade fails it (a wrong output judged against the
    reference's), with the notebook passed; and the texts of that case's inputs and expected values."""
    index = next(i for i, case in enumerate(cases(TOPIC)) if case.question == question.id)
    case = cases(TOPIC)[index]
    args = case_inputs(TOPIC, index, case)
    expected, _ = _expected(TOPIC, index)
    wrong = tuple(e + 0.5 for e in expected) if isinstance(expected, tuple) else expected + 0.5
    label = f"hidden check: {case.function}({describe_inputs(args)})"
    failures = [
        HiddenFailure(f"{label}{f', its {part}' if part and case.split else ''}: {reason}", part)
        for part, reason in _judge(case, args, wrong, expected)
    ]
    result = QuestionResult(
        question.id,
        question.points,
        Status.PASSED,
        parts=[PartResult(p.id, p.points, Status.PASSED) for p in question.parts],
    )
    passed = 3  # the question's other hidden cases, as if they ran and passed
    total = passed + len(failures)
    result.hidden = f"{passed}/{total} passed"
    _lose(result, failures, total)
    return result, _values(args) + _values(expected)


def feedback_student(name: str = "feedback_student") -> tuple[SubmissionResult, list[str]]:
    """A student with a failed part, a timeout and a hidden-check failure in the first assignment, full marks
    elsewhere, and answers to every written question; and the hidden texts its feedback must not show."""
    result = generated_class.submission(name, "reference", random.Random(0))
    assignment = course.by_topic(TOPIC)
    report = next(r for r in result.notebooks if r.notebook == assignment.notebook)
    secrets: list[str] = []
    for i, q in enumerate(report.questions):
        question = assignment.question(q.id)
        if q.id == FAILED_PART:
            message = f"{q.id}: the stability part's loss is inf on large scores\nHint: {PART_HINT}"
            q.parts = [
                PartResult(
                    p.id,
                    p.points,
                    Status.FAILED if p.id == "stability" else Status.PASSED,
                    message if p.id == "stability" else "",
                )
                for p in question.parts
            ]
            q.status, q.message = Status.FAILED, message
        elif q.id == TIMED_OUT:
            q.status, q.message = Status.TIMEOUT, "the cell ran past its limit of 300 s"
        elif q.id == HIDDEN:
            report.questions[i], secrets = hidden_failure(question)
    with_answers(result, random.Random(1))
    return result, secrets


def answered_notebook(notebook: dict, answers: dict[str, str | None], duplicate: str | None = None) -> dict:
    """A notebook's JSON with answers written into their cells, as a student would: None deletes the answer
    cell, and duplicate names an answer cell that is copied once more."""
    cells = []
    for cell in notebook["cells"]:
        question = marked(cell, "answer")
        if question in answers:
            if answers[question] is None:
                continue
            cell = {**cell, "source": f"{ANSWER_PROMPT}\n\n{answers[question]}"}
        cells.append(cell)
        if question is not None and question == duplicate:
            cells.append({**cell, "source": "more, in a copied cell"})
    return {**notebook, "cells": cells}
