"""A student's written grades: per question the points (None while pending, never 0), the rubric items
applied, the comment and who graded it. Computed from the store (grades_of), and written into each
<student>.json under the key "written_grades" by the merge, where the class report reads them back.

A question's points are the sum of its applied items' points, kept between 0 and the question's points;
an item edited on the page changes the points of every answer it is applied to, since nothing else is
stored. The written points stay apart from the autograded ones: a SubmissionResult's earned and max never
include them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from tools.grade.outputs import result_paths
from tools.written.answers import Answer
from tools.written.questions import Sheet
from tools.written.store import Item, Mark

KEY = "written_grades"  # in <student>.json


def score(items: list[Item], points: float) -> float:
    """The points of an answer with the items applied."""
    return min(max(sum(i.points for i in items), 0.0), points)


@dataclass(frozen=True)
class AppliedItem:
    points: float
    description: str


@dataclass
class WrittenGrade:
    notebook: str
    question: str
    points: float
    earned: float | None  # None: pending, not graded yet
    items: list[AppliedItem] = field(default_factory=list)
    comment: str = ""
    grader: str = ""

    @property
    def pending(self) -> bool:
        return self.earned is None

    def to_json(self) -> dict:
        return {
            "notebook": self.notebook,
            "question": self.question,
            "points": self.points,
            "earned": self.earned,
            "status": "pending" if self.pending else "graded",
            "items": [{"points": i.points, "description": i.description} for i in self.items],
            "comment": self.comment,
            "grader": self.grader,
        }

    @classmethod
    def from_json(cls, data: dict) -> WrittenGrade:
        earned = data["earned"]
        return cls(
            str(data["notebook"]),
            str(data["question"]),
            float(data["points"]),
            None if earned is None else float(earned),
            [AppliedItem(float(i["points"]), str(i["description"])) for i in data["items"]],
            str(data["comment"]),
            str(data["grader"]),
        )


def grade_of(sheet: Sheet, items: list[Item], mark: Mark | None) -> WrittenGrade:
    """One answer's grade from its question's items and the answer's mark (None: never touched)."""
    grade = WrittenGrade(sheet.assignment.notebook, sheet.question.id, sheet.points, None)
    if mark is None or not mark.graded:
        return grade  # a comment typed on a pending answer is a draft: not shown
    applied = [i for i in items if i.id in mark.applied]
    grade.earned = score(applied, sheet.points)
    grade.items = [AppliedItem(i.points, i.description) for i in applied]
    grade.comment, grade.grader = mark.comment, mark.grader
    return grade


def grades_of(
    sheets: list[Sheet],
    answers: dict[str, dict[str, Answer]],
    items: dict[tuple[str, str], list[Item]],
    marks: dict[tuple[str, str, str], Mark],
) -> dict[str, list[WrittenGrade]]:
    """{student: their grades in the sheets' order} for every student who has an answer to a question
    (answers: {sheet key: {student: answer}}), from the store's items and marks (Store.everything()); an
    answer handed in again since it was graded is pending (Mark.against)."""
    grades: dict[str, list[WrittenGrade]] = {}
    for sheet in sheets:
        where = (sheet.assignment.topic, sheet.question.id)
        for student, answer in answers.get(sheet.key, {}).items():
            mark = marks.get((*where, student))
            grade = grade_of(sheet, items.get(where, []), mark and mark.against(answer.digest))
            grades.setdefault(student, []).append(grade)
    return grades


def totals(grades: list[WrittenGrade]) -> dict:
    """The written points of some grades: earned (None while any is pending), max, and the pending ones."""
    pending = [g.question for g in grades if g.pending]
    earned = None if pending else sum(g.earned for g in grades)
    return {"earned": earned, "max": sum(g.points for g in grades), "pending": pending}


def to_json(grades: list[WrittenGrade]) -> dict:
    """What the merge writes under KEY: the questions' grades and their totals."""
    return {"questions": [g.to_json() for g in grades], **totals(grades)}


def from_json(data: dict) -> list[WrittenGrade]:
    return [WrittenGrade.from_json(q) for q in data["questions"]]


def read_written_grades(folder: Path) -> dict[str, list[WrittenGrade]]:
    """{student: grades} of every <student>.json in folder that the merge wrote written grades into."""
    found = {}
    for path in result_paths(folder):
        try:
            data = json.loads(path.read_text())
            if isinstance(data, dict) and KEY in data:
                found[str(data["student"])] = from_json(data[KEY])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path.name}: its written grades do not read ({error!r})") from None
    return found
