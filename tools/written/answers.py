"""The students' written answers, as tools.grade wrote them into GRADES_DIR/<student>.json: for each written
question, every student graded on its notebook, with the answer (None when none could be read) and what went
wrong reading it. Read once, when a command starts: no request of the grading page reads a file."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from tools.grade.outputs import result_paths
from tools.written.questions import Sheet
from utils.results import MalformedReport, SubmissionResult


@dataclass(frozen=True)
class Answer:
    student: str
    text: (
        str | None
    )  # "" left empty, None no answer read (no cell, no notebook, graded before answers were read)
    problems: tuple[str, ...] = ()

    @cached_property  # read at every poll of the page and every click: hashed once
    def digest(self) -> str:
        """What the store keeps of the text a grade was given on (tools.written.store.Mark.against)."""
        return hashlib.sha256(json.dumps(self.text).encode()).hexdigest()[:16]


@dataclass
class Class:
    """What a grades folder holds for written grading."""

    results: dict[str, SubmissionResult]
    answers: dict[str, dict[str, Answer]]  # {sheet key: {student: answer}}, students by name
    unreadable: list[str] = field(default_factory=list)  # <student>.json files that are not results

    @property
    def students(self) -> list[str]:
        return sorted(self.results)


def read_results(folder: Path) -> tuple[dict[str, SubmissionResult], list[str]]:
    """{student: result} of every readable <student>.json in folder, and the names of those that are not."""
    results, unreadable = {}, []
    for path in result_paths(folder):
        try:
            result = SubmissionResult.from_json(json.loads(path.read_text()))
        except (OSError, ValueError, MalformedReport):
            unreadable.append(path.name)
            continue
        results[result.student] = result
    return results, unreadable


def _answer(result: SubmissionResult, sheet: Sheet) -> Answer | None:
    """The student's answer to the sheet's question, or None when the student was not graded on its notebook."""
    notebook = sheet.assignment.notebook
    written = next((w for w in result.written if w.notebook == notebook), None)
    if written is not None:
        return Answer(result.student, written.answers.get(sheet.question.id), tuple(written.problems))
    if any(r.notebook == notebook for r in result.notebooks):
        return Answer(result.student, None, ("no written answers were read for this notebook",))
    return None


def read_class(folder: Path, sheets: list[Sheet]) -> Class:
    """The results and answers of a grades folder."""
    results, unreadable = read_results(folder)
    answers: dict[str, dict[str, Answer]] = {}
    for sheet in sheets:
        found = ((s, _answer(r, sheet)) for s, r in sorted(results.items()))
        answers[sheet.key] = {s: a for s, a in found if a is not None}
    return Class(results, answers, unreadable)
