"""Per-question statistics of written grades: the scores' histogram, the most-applied rubric items, and
each grader's progress. The class report shows them for the merged grades."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from tools.written.grades import WrittenGrade


@dataclass
class QuestionStats:
    notebook: str
    question: str
    points: float
    scores: dict[str, float] = field(default_factory=dict)  # student -> points, the graded ones
    pending: list[str] = field(default_factory=list)  # students not graded yet
    items: Counter = field(default_factory=Counter)  # item description -> answers it is applied to
    graders: Counter = field(default_factory=Counter)  # grader -> answers graded

    @property
    def total(self) -> int:
        return len(self.scores) + len(self.pending)

    @property
    def mean(self) -> float:
        return sum(self.scores.values()) / len(self.scores) if self.scores else math.nan

    def histogram(self) -> list[tuple[float, int]]:
        """(score, students) for each score given, lowest first."""
        return sorted(Counter(self.scores.values()).items())

    def most_applied(self, most: int = 3) -> list[tuple[str, int]]:
        return self.items.most_common(most)


def question_stats(grades: dict[str, list[WrittenGrade]]) -> list[QuestionStats]:
    """The statistics of each question some student has a grade (or a pending one) for, in first-seen order."""
    found: dict[tuple[str, str], QuestionStats] = {}
    for student, student_grades in sorted(grades.items()):
        for grade in student_grades:
            stats = found.setdefault(
                (grade.notebook, grade.question), QuestionStats(grade.notebook, grade.question, grade.points)
            )
            if grade.pending:
                stats.pending.append(student)
                continue
            stats.scores[student] = grade.earned
            stats.items.update(i.description for i in grade.items)
            stats.graders[grade.grader] += 1
    return list(found.values())


def graders(stats: list[QuestionStats]) -> Counter:
    """Answers graded by each grader, over the questions."""
    total: Counter = Counter()
    for s in stats:
        total.update(s.graders)
    return total
