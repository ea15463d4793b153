"""The merge: the written grades of the store added to what tools.grade wrote. Each <student>.json gets them
under "written_grades" (everything else in it left as it was), and grades.csv a column per written question
and the written totals, after the autograded columns and totals, which it keeps as they were. A question not
graded yet reads "pending", never 0; a question the student has no answer for (not graded on its notebook)
is empty. tools.report then shows them, and writes them into canvas.csv.

tools.grade rewrites grades.csv and a regraded student's <student>.json without them: merge again after a
batch. The merge reads the store as one state, and may run while the grading page is serving.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from tools.grade.outputs import GradesTable, result_paths, write_atomically
from tools.written import grades as written_grades
from tools.written.answers import read_class
from tools.written.grades import WrittenGrade, grades_of
from tools.written.questions import Sheet, sheets
from tools.written.store import FILE, Store

WRITTEN_TOTAL, WRITTEN_MAX = "written_total", "written_max"  # grades.csv's written totals
PENDING = "pending"


def column(grade: WrittenGrade) -> str:
    """A written question's column in grades.csv, named as the autograded ones are: <notebook stem>/<id>."""
    return f"{Path(grade.notebook).stem}/{grade.question}"


def current_grades(folder: Path, course_sheets: list[Sheet] | None = None) -> dict[str, list[WrittenGrade]]:
    """{student: written grades} as the store has them now (every question pending when there is no store)."""
    course_sheets = sheets() if course_sheets is None else course_sheets
    answers = read_class(folder, course_sheets).answers
    items, marks = Store.of(folder).everything() if (folder / FILE).is_file() else ({}, {})
    return grades_of(course_sheets, answers, items, marks)


@dataclass
class Merged:
    students: int
    graded: int  # answers
    pending: int


def write_grades_csv(folder: Path, grades: dict[str, list[WrittenGrade]]) -> None:
    """grades.csv with the autograded columns and totals as tools.grade writes them, then the written ones."""
    table = GradesTable.of_folder(folder)
    written = list(dict.fromkeys(column(g) for student in sorted(grades) for g in grades[student]))
    fields = ["student", *table.columns, "total", "max", *written, WRITTEN_TOTAL, WRITTEN_MAX]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, restval="")
    writer.writeheader()
    for student in sorted(table.rows):
        row = dict(table.rows[student])
        mine = grades.get(student, [])
        row.update({column(g): PENDING if g.pending else f"{g.earned:g}" for g in mine})
        if mine:
            totals = written_grades.totals(mine)
            row[WRITTEN_TOTAL] = PENDING if totals["earned"] is None else f"{totals['earned']:g}"
            row[WRITTEN_MAX] = f"{totals['max']:g}"
        writer.writerow(row)
    write_atomically(folder / "grades.csv", buffer.getvalue())


def merge(folder: Path) -> Merged:
    """Writes the store's written grades into each <student>.json and grades.csv of folder."""
    grades = current_grades(folder)
    for path in result_paths(folder):
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or "student" not in data:
            continue  # not a result; tools.grade's reader says so
        data[written_grades.KEY] = written_grades.to_json(grades.get(str(data["student"]), []))
        write_atomically(path, json.dumps(data, indent=2) + "\n")
    write_grades_csv(folder, grades)
    every = [g for student in grades.values() for g in student]
    pending = sum(g.pending for g in every)
    return Merged(len(grades), len(every) - pending, pending)
