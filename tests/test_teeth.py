"""Teeth: every mutant (tools/teeth/<topic>.py) fails exactly the self-contained questions it breaks,
with the hint that fixes it, when the notebook's graded cells run against it in this process
(tools/build/self_contained.py); the reference, the correct variant and the correct idioms pass them all.
Mutants that break a question needing the notebook's run (training, searches) are also graded through the
notebook (tests/test_autograde.py)."""

from __future__ import annotations

import functools

import pytest

from tests.mutants import assert_parts_fail_as_named, failing_questions
from tools.build.self_contained import module_from_source, run_check_cells
from tools.grade.workspace import reference_source
from tools.teeth import material
from utils.autograde import reported_parts
from utils.course import ASSIGNMENTS, by_topic, question_id
from utils.results import Status

MUTANTS = [(a.topic, name) for a in ASSIGNMENTS for name in material(a.topic).MUTANTS]
IDIOMS = [(a.topic, name) for a in ASSIGNMENTS for name in getattr(material(a.topic), "CORRECT_IDIOMS", {})]


@functools.cache
def outcomes(topic: str, source: str) -> dict:
    return run_check_cells(by_topic(topic), module_from_source(topic, source))


def self_contained(topic: str) -> set[str]:
    return {q.id for q in by_topic(topic).questions if q.self_contained}


@pytest.mark.parametrize("topic", [a.topic for a in ASSIGNMENTS])
def test_the_reference_and_the_correct_variant_pass_every_self_contained_question(topic):
    for source in (reference_source(topic), material(topic).ALTERNATIVE):
        failing = {q: o.message for q, o in outcomes(topic, source).items() if o.status is not Status.PASSED}
        assert not failing
    assert set(outcomes(topic, reference_source(topic))) == self_contained(topic)


@pytest.mark.parametrize("topic,name", IDIOMS)
def test_a_correct_idiom_passes_every_self_contained_question(topic, name):
    """A check demands no more than the docstring promises: a float32 mean of a correct accuracy, a count over
    len, torch.where instead of a mask, bmm instead of einsum, numpy's pinv are correct."""
    got = outcomes(topic, material(topic).CORRECT_IDIOMS[name])
    assert {q: o.message for q, o in got.items() if o.status is not Status.PASSED} == {}
    assert set(got) == self_contained(topic)


@pytest.mark.parametrize("topic", [a.topic for a in ASSIGNMENTS])
def test_each_check_grades_exactly_its_questions_registered_parts(topic):
    got = outcomes(topic, reference_source(topic))
    for q in by_topic(topic).questions:
        if q.self_contained:
            expected = {p.id: (Status.PASSED, "") for p in q.parts} if q.parts else None
            assert reported_parts(got[q.id].parts, q.id) == expected, q.id


@pytest.mark.parametrize("topic,name", MUTANTS)
def test_a_mutant_fails_exactly_the_self_contained_questions_it_breaks(topic, name):
    mutant = material(topic).MUTANTS[name]
    got = outcomes(topic, mutant.source)
    for key, words in mutant.must_fail.items():
        question = question_id(key)
        if question in self_contained(topic):
            assert got[question].status is Status.FAILED, f"{question}: {got[question]}"
            assert words in got[question].message, f"{question}: {got[question].message!r}"
            parts = reported_parts(got[question].parts, question) or {}
            assert_parts_fail_as_named(
                topic, mutant, question, {p: (s.value, m) for p, (s, m) in parts.items()}
            )
    untouched = self_contained(topic) - failing_questions(mutant) - set(mutant.may_fail)
    assert {q: got[q].status for q in untouched} == dict.fromkeys(untouched, Status.PASSED), {
        q: got[q].message for q in untouched if got[q].status is not Status.PASSED
    }


@pytest.mark.parametrize("topic,name", MUTANTS)
def test_a_mutant_graded_only_in_process_breaks_only_self_contained_questions(topic, name):
    mutant = material(topic).MUTANTS[name]
    if not mutant.notebook and not mutant.full_size_gate:
        assert failing_questions(mutant) <= self_contained(topic), (
            "grade it through the notebook (notebook=True)"
        )


@pytest.mark.parametrize("topic", [a.topic for a in ASSIGNMENTS])
def test_the_first_mutant_of_each_topic_is_graded_through_the_notebook(topic):
    """The notebook's path from a failed check to the report is pinned for every assignment."""
    assert next(iter(material(topic).MUTANTS.values())).notebook
