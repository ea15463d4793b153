"""What a regrade changed: the grades now against the latest snapshot tools.grade kept in history/."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from tools.grade.outputs import HISTORY
from tools.report.load import read_results
from utils.results import SubmissionResult

COLUMNS = ["student", "notebook", "question", "old", "new", "status", "message"]


@dataclass(frozen=True)
class Change:
    student: str
    notebook: str
    question: str
    old: float | None  # None: not graded before
    new: float | None  # None: not graded now
    status: str
    message: str  # the new one


@dataclass
class Regrade:
    snapshot: Path  # the previous grades
    changes: list[Change] = field(default_factory=list)
    new_students: list[str] = field(default_factory=list)
    gone_students: list[str] = field(default_factory=list)


def latest_snapshot(grades: Path) -> Path | None:
    snapshots = sorted(p for p in (grades / HISTORY).glob("*") if p.is_dir())
    return snapshots[-1] if snapshots else None


def _points(result: SubmissionResult) -> dict[tuple[str, str], tuple[float, str, str]]:
    return {
        (r.notebook, q.id): (q.earned, q.status.value, q.message)
        for r in result.notebooks
        for q in r.questions
    }


def diff(grades: Path, current: dict[str, SubmissionResult]) -> Regrade | None:
    """Per student and question whose points changed since the latest snapshot: old and new points and the
    new message; None when there is no snapshot."""
    snapshot = latest_snapshot(grades)
    if snapshot is None:
        return None
    previous = read_results(snapshot)
    regrade = Regrade(snapshot, new_students=sorted(set(current) - set(previous)))
    regrade.gone_students = sorted(set(previous) - set(current))
    for student in sorted(set(current) & set(previous)):
        old, new = _points(previous[student]), _points(current[student])
        for key in sorted(old.keys() | new.keys()):
            before, after = old.get(key), new.get(key)
            if before is not None and after is not None and before[0] == after[0]:
                continue
            old_points = None if before is None else before[0]
            new_points, status, message = after if after is not None else (None, "", "")
            regrade.changes.append(Change(student, *key, old_points, new_points, status, message))
    return regrade


def write_csv(path: Path, regrade: Regrade) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for c in regrade.changes:
            old = "" if c.old is None else f"{c.old:g}"
            new = "" if c.new is None else f"{c.new:g}"
            writer.writerow([c.student, c.notebook, c.question, old, new, c.status, c.message])
