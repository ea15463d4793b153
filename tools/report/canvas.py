"""Canvas's gradebook import CSV, one column per assignment, from a roster of student folder -> SIS id.

The roster is a CSV with a header: `student` (the submission's folder or .zip name) and `sis_id` (Canvas's
SIS User ID) are required; `name` and `section` are copied when present. Canvas's import reads the columns
Student, ID, SIS User ID, SIS Login ID and Section, then one column per assignment, with a first row of
"Points Possible"; an assignment column it does not know becomes a new assignment.

Once written grades are merged (python -m tools.written GRADES_DIR --merge), an assignment with written
questions has a second column, "<column> (written)": the student's written points, empty while any of
them is pending (Canvas reads an empty cell as not graded, never as 0).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from tools.written.grades import WrittenGrade, totals
from utils.course import Assignment
from utils.results import SubmissionResult

FIXED = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
POINTS_POSSIBLE = "Points Possible"


class RosterError(ValueError):
    """A roster that lacks the columns the export needs."""


def column(assignment: Assignment) -> str:
    return f"{assignment.number:02d} {assignment.title}"


def written_column(assignment: Assignment) -> str:
    return f"{column(assignment)} (written)"


def read_roster(path: Path) -> dict[str, dict[str, str]]:
    """{student: row} of a roster CSV."""
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"student", "sis_id"} - set(reader.fieldnames or ())
        if missing:
            raise RosterError(f"{path}: the roster needs the columns {sorted(missing)} (student, sis_id)")
        return {row["student"].strip(): row for row in reader if row["student"].strip()}


@dataclass
class CanvasExport:
    path: Path
    exported: int
    not_on_roster: list[str]  # graded, but the roster has no SIS id for them: not in the CSV
    not_graded: list[str]  # on the roster, no grades: in the CSV with empty cells


def _points(result: SubmissionResult, assignment: Assignment) -> str:
    report = next((r for r in result.notebooks if r.notebook == assignment.notebook), None)
    return "" if report is None else f"{report.earned:g}"


def _written_points(grades: list[WrittenGrade], assignment: Assignment) -> str:
    """The written points of an assignment, or "" while one of its questions is pending (or none is there)."""
    mine = [g for g in grades if g.notebook == assignment.notebook]
    earned = totals(mine)["earned"] if mine else None
    return "" if earned is None else f"{earned:g}"


def write_canvas(
    path: Path,
    results: dict[str, SubmissionResult],
    roster: dict[str, dict[str, str]],
    assignments,
    written: dict[str, list[WrittenGrade]] | None = None,
) -> CanvasExport:
    """The gradebook CSV at path: a row per roster student, a column per assignment, and one for its written
    points where written grades were merged ({student: grades})."""
    written = written or {}
    merged = {g.notebook for grades in written.values() for g in grades}
    with_written = [a for a in assignments if a.written and a.notebook in merged]
    header = FIXED + [column(a) for a in assignments] + [written_column(a) for a in with_written]
    possible = [f"{a.points:g}" for a in assignments] + [f"{a.written_points:g}" for a in with_written]
    rows = [[POINTS_POSSIBLE, "", "", "", ""] + possible]
    for student, entry in sorted(roster.items()):
        result = results.get(student)
        cells = [_points(result, a) if result else "" for a in assignments]
        cells += [_written_points(written.get(student, []), a) for a in with_written]
        rows.append([entry.get("name") or student, "", entry["sis_id"], "", entry.get("section", "")] + cells)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return CanvasExport(
        path,
        exported=sum(1 for s in roster if s in results),
        not_on_roster=sorted(set(results) - set(roster)),
        not_graded=sorted(set(roster) - set(results)),
    )
