"""The written questions of the course as staff grade them: each with its text (the notebook's question cell,
which the grader reads too; the question's id when the cell is missing) and its initial rubric."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tools.written.rubrics import RUBRICS, RubricItem
from utils import course
from utils.written import UnreadableNotebook, parse_notebook, written_cells


@dataclass(frozen=True)
class Sheet:
    """One written question, with what a grader reads beside each answer."""

    assignment: course.Assignment
    question: course.WrittenQuestion
    number: int  # "Inline question <number>"
    text: str  # the question cell's markdown, shown as text
    rubric: tuple[RubricItem, ...]  # the items the store starts from; the page may edit them after

    @property
    def key(self) -> str:
        """ "<topic>/<question id>": how the page, its URLs and the store name it."""
        return f"{self.assignment.topic}/{self.question.id}"

    @property
    def points(self) -> float:
        return self.question.points


def _texts(assignment: course.Assignment, root: Path) -> dict[str, str]:
    """{question id: its cell's text} of the assignment's notebook in the repository ({} when unreadable)."""
    try:
        notebook = parse_notebook((root / assignment.notebook).read_bytes())
    except (OSError, UnreadableNotebook):
        return {}
    return {c.question.id: c.prompt for c in written_cells(notebook, assignment) if c.prompt}


def sheets(root: Path = course.REPO_ROOT) -> list[Sheet]:
    """Every written question of the course, in the registry's order."""
    found = []
    for assignment in course.ASSIGNMENTS:
        texts = _texts(assignment, root) if assignment.written else {}
        for number, question in enumerate(assignment.written, start=1):
            rubric = RUBRICS.get((assignment.topic, question.id), ())
            found.append(Sheet(assignment, question, number, texts.get(question.id, question.id), rubric))
    return found
