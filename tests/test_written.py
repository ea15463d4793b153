"""The written questions: the registry (utils/course.py), the notebooks' question and answer cells and the
rubrics (tools/written/rubrics.py) agree; no rubric text ships; the grader reads a submission's answers from
its notebooks' JSON (tools.grade.answers) and reports what is wrong, without running anything."""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

import nbformat
import pytest

from tools.build import release
from tools.grade.answers import read_written
from tools.grade.fingerprint import submission_hash
from tools.teeth.written_class import answered_notebook
from tools.written.rubrics import RUBRICS, rubric
from utils import course
from utils.autograde import format_scorecard
from utils.course import ASSIGNMENTS, REPO_ROOT, Assignment, Question, WrittenQuestion, register
from utils.results import NotebookReport, Status, SubmissionResult, WrittenAnswers
from utils.written import ANSWER_PROMPT, MAX_ANSWER_CHARS, marked

NOTEBOOKS = {a.notebook: a for a in ASSIGNMENTS}


def notebook_json(assignment: Assignment) -> dict:
    return json.loads((REPO_ROOT / assignment.notebook).read_text())


def test_the_course_asks_fifteen_written_questions_apart_from_the_autograded_points():
    assert [len(a.written) for a in ASSIGNMENTS] == [5, 4, 3, 3]
    for a in ASSIGNMENTS:
        assert a.points == sum(q.points for q in a.questions)  # autograded only
        assert a.written_points == sum(q.points for q in a.written) > 0


@pytest.mark.parametrize("a", ASSIGNMENTS, ids=lambda a: a.topic)
def test_question_and_answer_cells_agree_with_the_registry(a):
    cells = nbformat.read(REPO_ROOT / a.notebook, as_version=4).cells
    questions = [(i, marked(c, "question")) for i, c in enumerate(cells) if marked(c, "question")]
    answers = [(i, marked(c, "answer")) for i, c in enumerate(cells) if marked(c, "answer")]
    ids = [q.id for q in a.written]
    assert [q for _, q in questions] == ids, "question cells and utils/course.py disagree"
    assert [q for _, q in answers] == ids, "answer cells and utils/course.py disagree"
    for number, ((qi, _), (ai, _)) in enumerate(zip(questions, answers), start=1):
        assert ai == qi + 1, f"the answer cell of {ids[number - 1]} must follow its question"
        assert cells[qi].cell_type == cells[ai].cell_type == "markdown"
        assert cells[qi].source.startswith(f"**Inline question {number}.**")
        assert cells[ai].source == ANSWER_PROMPT, "an answer is committed in the notebook"
    unmarked = [c.source[:60] for c in cells if "**Inline question" in c.source and not marked(c, "question")]
    assert not unmarked, f"an inline question without its cell metadata: {unmarked}"


@pytest.mark.parametrize("a", ASSIGNMENTS, ids=lambda a: a.topic)
def test_the_last_cell_hands_the_notebook_in_and_the_autograder_skips_it(a):
    last = nbformat.read(REPO_ROOT / a.notebook, as_version=4).cells[-1]
    assert last.cell_type == "code" and "nbval-skip" in last.metadata.get("tags", [])
    assert f'submit.main(["{a.notebook}"])' in last.source


def test_register_refuses_a_written_id_that_an_autograded_question_has():
    question = Question("q", 1, "check_q")
    with pytest.raises(ValueError, match="appears twice"):
        register(
            Assignment(
                99, "new_topic", "n", "assignments/99_n.ipynb", (), (question,), (WrittenQuestion("q", 1),)
            )
        )
    assert "new_topic" not in course.topics()


def test_every_written_question_has_a_rubric_whose_points_make_up_its_own():
    written = {(a.topic, q.id): q for a in ASSIGNMENTS for q in a.written}
    assert set(RUBRICS) == set(written), "rubrics and utils/course.py disagree"
    for (topic, question_id), question in written.items():
        items = rubric(topic, question_id)
        assert items and all(item.description.strip() and "\n" not in item.description for item in items)
        assert math.isclose(sum(item.points for item in items), question.points), (topic, question_id)


def _shipped_sources() -> list[Path]:
    """Every file the release copies from (tools/build/release.py): utils/, the notebooks, its template and
    the files and tests it copies."""
    paths = [*(REPO_ROOT / "utils").rglob("*.py"), *(REPO_ROOT / a.notebook for a in ASSIGNMENTS)]
    paths += [p for p in release.TEMPLATE.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    paths += [REPO_ROOT / name for name in release.COPIED]
    paths += [REPO_ROOT / "tests" / name for name in release.PUBLIC_TESTS]
    return paths


def rubric_texts() -> list[str]:
    return [item.description for items in RUBRICS.values() for item in items]


def test_no_rubric_text_is_in_what_the_release_copies():
    texts = rubric_texts()
    for path in _shipped_sources():
        content = path.read_text(errors="replace")
        assert not [t for t in texts if t in content], f"rubric text in {path}"
        assert "rubrics" not in content or path.name == "course.py", path  # course.py only points to them


def _answered(assignment: Assignment, answers: dict[str, str | None], duplicate: str | None = None) -> dict:
    """The assignment's notebook with answers filled in: None deletes the answer cell; duplicate copies one."""
    return answered_notebook(notebook_json(assignment), answers, duplicate)


A4 = course.by_topic("neural_collapse")


def test_the_grader_reads_answers_by_id_from_a_folder_and_a_zip_and_reports_the_problems(tmp_path):
    ids = [q.id for q in A4.written]
    notebook = _answered(
        A4, {ids[0]: "Because $\\sum_c v_c = 0$. <script>alert(1)</script>", ids[1]: "", ids[2]: None}
    )
    folder = tmp_path / "ada" / "assignments"
    folder.mkdir(parents=True)
    (folder / Path(A4.notebook).name).write_text(json.dumps(notebook))
    with zipfile.ZipFile(tmp_path / "bo.zip", "w") as archive:
        archive.writestr("hw/" + A4.notebook, json.dumps(notebook))
        archive.writestr("hw/.ipynb_checkpoints/" + Path(A4.notebook).name, "{}")
    for submission in (tmp_path / "ada", tmp_path / "bo.zip"):
        [written] = read_written(submission, [A4])
        assert written.notebook == A4.notebook and written.points == A4.written_points
        assert written.answers == {
            ids[0]: "Because $\\sum_c v_c = 0$. <script>alert(1)</script>",
            ids[1]: "",
            ids[2]: None,
        }
        assert len(written.problems) == 1 and f"answer cell of {ids[2]}" in written.problems[0]
        assert "deleted" in written.problems[0]


def test_bad_notebooks_and_huge_or_copied_answers_are_reported(tmp_path):
    ids = [q.id for q in A4.written]
    name = Path(A4.notebook).name
    cases = {
        "not_json": "{ this is not json",
        "not_a_notebook": json.dumps({"cells": "none"}),
        "huge": json.dumps(_answered(A4, {ids[0]: "x" * 5_000_000})),
        "copied": json.dumps(_answered(A4, {ids[1]: "first"}, duplicate=ids[1])),
    }
    for student, text in cases.items():
        (tmp_path / student).mkdir()
        (tmp_path / student / name).write_text(text)
    (tmp_path / "none").mkdir()
    found = {student: read_written(tmp_path / student, [A4])[0] for student in [*cases, "none"]}
    assert "not valid JSON" in found["not_json"].problems[0]
    assert set(found["not_json"].answers.values()) == {None}
    assert "not a notebook" in found["not_a_notebook"].problems[0]
    huge = found["huge"]
    assert len(huge.answers[ids[0]]) == MAX_ANSWER_CHARS
    assert [f"only the first {MAX_ANSWER_CHARS:,} are kept" in p for p in huge.problems] == [True]
    assert found["copied"].answers[ids[1]] == "first\n\nmore, in a copied cell"
    assert "appears 2 times" in found["copied"].problems[0]
    assert found["none"].problems == [f"no {name} in the submission: no written answer"]


def test_answers_go_through_the_students_result_and_its_hash_without_touching_the_points():
    written = WrittenAnswers(
        A4.notebook, 6, {"etf_dimension": "<b>x</b>", "optimize_for_etf": None}, ["deleted"]
    )
    base = SubmissionResult("ada", [])
    with_answers = SubmissionResult("ada", [], written=[written])
    data = with_answers.to_json()
    assert (data["earned"], data["max"]) == (base.earned, base.max)
    assert SubmissionResult.from_json(json.loads(json.dumps(data))).written == [written]
    assert SubmissionResult.from_json({k: v for k, v in data.items() if k != "written"}).written == []
    assert submission_hash({"a": "x"}) != submission_hash({"a": "x"}, "", [written])


def test_the_scorecard_shows_the_written_questions_apart_from_the_autograded_total():
    for a in ASSIGNMENTS:
        report = NotebookReport.all_failed(a.notebook, a.questions, Status.NOT_IMPLEMENTED, "TODO")
        lines = format_scorecard(report).splitlines()
        assert lines[-2] == f"  total 0/{a.points:g}"
        assert lines[-1].startswith(
            f"  written: {len(a.written)} questions, {a.written_points:g} pts, graded by staff"
        )
        assert (report.to_json()["earned"], report.to_json()["max"]) == (0, a.points)
