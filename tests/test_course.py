"""The course registry (utils/course.py) and the files its conventions name: every assignment has them
all, every question has a check, hidden cases and a mutant that fails it, and imports run one way."""

from __future__ import annotations

import importlib

import pytest

from tools.grade.hidden.engine import cases
from tools.teeth import material
from utils.course import ASSIGNMENTS, REPO_ROOT, Assignment, Part, Question, question_id, register


def by_id(assignment: Assignment) -> dict[str, Question]:
    return {q.id: q for q in assignment.questions}


@pytest.mark.parametrize("a", ASSIGNMENTS, ids=lambda a: a.topic)
def test_every_file_the_conventions_name_exists(a):
    for path in (
        a.notebook,
        a.solution,
        a.student_module,
        a.checks_module,
        a.hidden,
        a.teeth,
        f"tests/test_{a.topic}.py",
    ):
        assert (REPO_ROOT / path).is_file(), f"{a.topic}: {path} is missing"


def test_the_registry_lists_every_reference_module():
    modules = {p.stem for p in (REPO_ROOT / "solutions").glob("*.py") if p.stem != "__init__"}
    assert modules == {a.topic for a in ASSIGNMENTS}


@pytest.mark.parametrize("a", ASSIGNMENTS, ids=lambda a: a.topic)
def test_every_question_has_its_check_in_the_checks_module(a):
    checks = importlib.import_module(f"utils.checks.{a.topic}")
    missing = {q.id: q.check for q in a.questions if not callable(getattr(checks, q.check, None))}
    assert not missing, f"{a.checks_module} lacks {missing}"


@pytest.mark.parametrize("a", ASSIGNMENTS, ids=lambda a: a.topic)
def test_every_question_has_hidden_cases(a):
    hidden = {case.question for case in cases(a.topic)}
    assert hidden <= set(by_id(a)), f"cases for unknown questions: {hidden - set(by_id(a))}"
    assert set(by_id(a)) <= hidden, f"{a.hidden} has no case for {sorted(set(by_id(a)) - hidden)}"


@pytest.mark.parametrize("a", ASSIGNMENTS, ids=lambda a: a.topic)
def test_every_question_has_a_mutant_that_fails_it(a):
    hidden = material(a.topic)
    for m in hidden.MUTANTS.values():
        for key in m.must_fail:
            a.resolve(key)  # a KeyError names an unknown question or part
    failed = {question_id(key) for m in hidden.MUTANTS.values() for key in m.must_fail}
    failed |= {m.question for m in hidden.HIDDEN_ONLY_MUTANTS.values()}
    assert failed <= set(by_id(a)), f"mutants name unknown questions: {failed - set(by_id(a))}"
    assert set(by_id(a)) <= failed, f"no mutant of {a.teeth} fails {sorted(set(by_id(a)) - failed)}"


def test_register_refuses_a_second_assignment_with_the_same_topic_or_repeated_ids():
    first = ASSIGNMENTS[0]
    with pytest.raises(ValueError, match="topic"):
        register(Assignment(99, first.topic, "copy", "assignments/99_copy.ipynb", (), ()))
    twice = (Question("q", 1, "check_q"), Question("q", 2, "check_q"))
    with pytest.raises(ValueError, match="appears twice"):
        register(Assignment(99, "new_topic", "new", "assignments/99_new.ipynb", (), twice))
    assert len(ASSIGNMENTS) == len({a.topic for a in ASSIGNMENTS})


def test_register_refuses_parts_that_do_not_make_up_their_question():
    def attempt(*parts: Part) -> None:
        question = Question("q", 3, "check_q", parts=parts)
        register(Assignment(99, "new_topic", "new", "assignments/99_new.ipynb", (), (question,)))

    with pytest.raises(ValueError, match="add up to 2.5, not the question's 3"):
        attempt(Part("value", 2), Part("gradient", 0.5))
    with pytest.raises(ValueError, match="distinct"):
        attempt(Part("value", 1.5), Part("value", 1.5))
    with pytest.raises(ValueError, match="no '/'"):
        attempt(Part("value/float32", 3))
    assert "new_topic" not in {a.topic for a in ASSIGNMENTS}


def test_a_key_names_a_question_or_one_of_its_parts():
    simclr = next(a for a in ASSIGNMENTS if a.topic == "simclr")
    question, part = simclr.resolve("simclr_loss_vectorized/half_precision")
    assert (question.id, part) == ("simclr_loss_vectorized", Part("half_precision", 1))
    assert simclr.resolve("sim") == (simclr.question("sim"), None)
    with pytest.raises(KeyError, match="no part 'speed'"):
        simclr.resolve("simclr_loss_vectorized/speed")
