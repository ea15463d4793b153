"""What a mutant's must_fail promises (tools/teeth/mutation.py: Mutant), for the tests that replay mutants.

A key names a question ("<question>": it fails, in whichever parts) or one of its parts
("<question>/<part>": that part fails and the question's other parts keep their points).
"""

from __future__ import annotations

from utils.course import by_topic, question_id


def failing_questions(mutant) -> set[str]:
    return {question_id(key) for key in mutant.must_fail}


def failing_parts(topic: str, mutant) -> dict[str, dict[str, str]]:
    """{question: {part: words its message must hold}} for the keys that name parts."""
    named: dict[str, dict[str, str]] = {}
    for key, words in mutant.must_fail.items():
        question, part = by_topic(topic).resolve(key)
        if part is not None:
            named.setdefault(question.id, {})[part.id] = words
    return named


def assert_parts_fail_as_named(topic: str, mutant, question: str, parts: dict[str, tuple[str, str]]) -> None:
    """parts ({part: (status, message)}) of question: when the mutant names parts of it, exactly those
    failed, each with its words."""
    named = failing_parts(topic, mutant).get(question)
    if named is None:
        return
    failed = {part: message for part, (status, message) in parts.items() if status != "passed"}
    assert set(failed) == set(named), (
        f"{question}: the parts {sorted(failed)} failed, expected {sorted(named)}"
    )
    for part, words in named.items():
        assert words in failed[part], f"{question}/{part}: {failed[part]!r}"
