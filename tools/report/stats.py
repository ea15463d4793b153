"""The numbers of the class report, per assignment: scores, pass rates, failure messages grouped by their
hint, and the students who hit a limit."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

from utils.course import Assignment, Question
from utils.results import NotebookReport, Status, SubmissionResult

EXAMPLES = 3  # students named per failure group
NUMBER = re.compile(r"\d+(\.\d+)?(e[-+]?\d+)?")


def failure_key(message: str) -> str:
    """What groups failures: the message's hint when it has one (the checks end a message with a line
    `Hint: ...` naming the mistake), else its first line with the numbers masked, so that the same failure
    with other values falls in one group."""
    for line in reversed(message.splitlines()):
        if line.startswith("Hint: "):
            return line.removeprefix("Hint: ").strip()
    first = message.strip().splitlines()[0] if message.strip() else "(no message)"
    return NUMBER.sub("#", first)


def limit_hit(status: Status, message: str) -> str | None:
    """Which limit a question's result shows: "timeout", "memory" or "error", or None. The results have no
    status of their own for memory: a MemoryError is the exception type the message names."""
    if status is Status.TIMEOUT:
        return "timeout"
    if status is Status.ERROR:
        return "memory" if "MemoryError" in message else "error"
    return None


@dataclass
class FailureGroup:
    key: str
    students: list[str] = field(default_factory=list)
    example: str = ""  # one full message of the group

    @property
    def count(self) -> int:
        return len(self.students)


@dataclass
class QuestionStats:
    question: Question
    graded: int = 0
    passed: int = 0
    statuses: Counter = field(default_factory=Counter)
    groups: dict[str, FailureGroup] = field(default_factory=dict)

    @property
    def pass_rate(self) -> float:
        return self.passed / self.graded if self.graded else math.nan

    def top_failures(self, most: int = 3) -> list[FailureGroup]:
        return sorted(self.groups.values(), key=lambda g: -g.count)[:most]


@dataclass
class AssignmentStats:
    assignment: Assignment
    scores: dict[str, float]  # student -> points earned
    questions: list[QuestionStats]  # the most missed first
    limits: dict[str, list[tuple[str, str]]]  # student -> [(question id, limit)]

    def histogram(self) -> list[tuple[int, int]]:
        """(low, count) for each one-point bin [low, low + 1) from 0 to the maximum; the last bin holds the
        full score as well."""
        top = max(0, math.ceil(self.assignment.points) - 1)
        counts = Counter(min(int(math.floor(s)), top) for s in self.scores.values())
        return [(low, counts.get(low, 0)) for low in range(top + 1)]

    @property
    def mean(self) -> float:
        return sum(self.scores.values()) / len(self.scores) if self.scores else math.nan


def _report(result: SubmissionResult, assignment: Assignment) -> NotebookReport | None:
    return next((r for r in result.notebooks if r.notebook == assignment.notebook), None)


def assignment_stats(assignment: Assignment, results: dict[str, SubmissionResult]) -> AssignmentStats | None:
    """The numbers of one assignment over the students graded on it, or None when nobody was."""
    reports = {s: r for s, r in ((s, _report(res, assignment)) for s, res in results.items()) if r}
    if not reports:
        return None
    questions = {q.id: QuestionStats(q) for q in assignment.questions}
    limits: dict[str, list[tuple[str, str]]] = {}
    for student, report in sorted(reports.items()):
        for result in report.questions:
            stats = questions.get(result.id)
            if stats is None:
                continue  # a question the registry no longer has
            stats.graded += 1
            stats.statuses[result.status] += 1
            if result.status is Status.PASSED:
                stats.passed += 1
                continue
            key = failure_key(result.message)
            group = stats.groups.setdefault(key, FailureGroup(key, example=result.message))
            group.students.append(student)
            limit = limit_hit(result.status, result.message)
            if limit:
                limits.setdefault(student, []).append((result.id, limit))
    order = {q.id: i for i, q in enumerate(assignment.questions)}
    ranked = sorted(
        questions.values(), key=lambda s: (s.pass_rate if s.graded else 1.0, order[s.question.id])
    )
    return AssignmentStats(assignment, {s: r.earned for s, r in reports.items()}, ranked, limits)
