"""What grading writes: the reports checked against the registry, and per-student JSON, grades.csv and
Gradescope's results.json, each replaced atomically so that a crash mid-batch keeps what was graded."""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from utils.course import Assignment
from utils.results import MalformedReport, NotebookReport, QuestionResult, Status, SubmissionResult


def validated(data, assignment: Assignment) -> NotebookReport | None:
    """The report in data when it holds exactly the registry's questions, parts and points, and points only
    for passed questions and parts (student code shares the copy with it, so it is checked, not trusted);
    else None."""
    try:
        report = NotebookReport.from_json(data)
    except MalformedReport:
        return None
    expected = [_layout(q.id, q.points, q.parts) for q in assignment.questions]
    if (
        report.notebook != assignment.notebook
        or [_layout(q.id, q.points, q.parts) for q in report.questions] != expected
    ):
        return None
    return report


def _layout(question_id: str, points: float, parts) -> tuple:
    return question_id, points, [(p.id, p.points) for p in parts]


def gradescope_results(result: SubmissionResult) -> dict:
    """Gradescope's results.json for one graded submission: a test per question, or per part of a question
    with parts."""
    tests = [test for r in result.notebooks for q in r.questions for test in _gradescope_tests(r, q)]
    return {"score": result.earned, "output": f"{result.earned:g}/{result.max:g}", "tests": tests}


def _gradescope_tests(report: NotebookReport, q: QuestionResult) -> list[dict]:
    name = f"{Path(report.notebook).stem}: {q.id}"
    if not q.parts:
        return [_gradescope_test(name, q.earned, q.points, q.status, q.message)]
    # A failure outside the parts (the hidden checks) fails every part; its message goes with each.
    outside = q.status is not Status.PASSED and not q.failed_parts
    return [
        _gradescope_test(
            f"{name}/{p.id}",
            q.earned_by(p),
            p.points,
            q.status if outside else p.status,
            q.message if outside else p.message,
        )
        for p in q.parts
    ]


def _gradescope_test(name: str, score: float, max_score: float, status: Status, output: str) -> dict:
    passed = "passed" if status is Status.PASSED else "failed"
    return {"name": name, "score": score, "max_score": max_score, "status": passed, "output": output}


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    temporary.replace(path)


def write_result(out: Path, result: SubmissionResult) -> None:
    """<out>/<student>.json and <out>/gradescope/<student>/results.json."""
    write_atomically(out / f"{result.student}.json", json.dumps(result.to_json(), indent=2) + "\n")
    gradescope = json.dumps(gradescope_results(result), indent=2) + "\n"
    write_atomically(out / "gradescope" / result.student / "results.json", gradescope)


class GradesTable:
    """grades.csv of a grades folder, kept in memory: a row per student, a column per question, the total.
    A finished student's row is appended (a batch of N costs N rows, not N rereads of every result), and
    write() replaces the whole file, sorted by student."""

    def __init__(self, out: Path, results: list[SubmissionResult] = ()):
        self.path, self.rows, self.columns = out / "grades.csv", {}, {}
        for result in results:
            self._add(result)

    @classmethod
    def of_folder(cls, out: Path) -> GradesTable:
        """The table of every <student>.json in out."""
        return cls(out, [SubmissionResult.from_json(json.loads(p.read_text())) for p in result_paths(out)])

    def _add(self, result: SubmissionResult) -> bool:
        """Adds or replaces the student's row; True when the row needs a new column or replaced one."""
        earned = {f"{Path(r.notebook).stem}/{q.id}": q.earned for r in result.notebooks for q in r.questions}
        new_columns = not earned.keys() <= self.columns.keys()
        self.columns.update(dict.fromkeys(earned))
        replaced = result.student in self.rows
        self.rows[result.student] = {
            "student": result.student,
            **{c: f"{e:g}" for c, e in earned.items()},
            "total": f"{result.earned:g}",
            "max": f"{result.max:g}",
        }
        return new_columns or replaced

    def _fields(self) -> list[str]:
        return ["student", *self.columns, "total", "max"]

    def add(self, result: SubmissionResult) -> None:
        """The student's row, appended to the file (the whole file rewritten when it cannot be)."""
        if self._add(result) or not self.path.is_file():
            self.write()
            return
        with self.path.open("a", newline="") as handle:
            csv.DictWriter(handle, fieldnames=self._fields(), restval="").writerow(self.rows[result.student])

    def write(self) -> None:
        with tempfile.NamedTemporaryFile(
            "w", newline="", dir=self.path.parent, delete=False, suffix=".tmp"
        ) as handle:
            writer = csv.DictWriter(handle, fieldnames=self._fields(), restval="")
            writer.writeheader()
            writer.writerows(self.rows[student] for student in sorted(self.rows))
        Path(handle.name).replace(self.path)


def write_grades_csv(out: Path) -> None:
    """grades.csv from every <student>.json in out."""
    GradesTable.of_folder(out).write()


HISTORY = "history"  # <out>/history/<timestamp>/: the grades a regrade replaced, for the class report's diff
# How the latest batch ran: when, and whether student code was isolated. Hidden, so that no student's
# <student>.json can have its name (tools.grade.submissions skips hidden entries).
BATCH = ".batch.json"


def result_paths(folder: Path) -> list[Path]:
    """Every <student>.json in a grades folder, by name."""
    return [p for p in sorted(folder.glob("*.json")) if p.name != BATCH]


def start_batch(
    out: Path, isolated: bool, isolation: str, replacing: list[str] | None = None, **details
) -> Path | None:
    """Before a batch writes into out: copies the grades it replaces (the <student>.json of the students in
    replacing, default all of them; grades.csv and the batch record) to out/history/<timestamp>/, and
    records this batch in out/.batch.json: when, how it isolates, and the details given (the repository's
    fingerprint, its cells' time limits). The snapshot's folder, or None when it replaces no grades."""
    results = result_paths(out)
    if replacing is not None:
        results = [p for p in results if p.stem in set(replacing)]
    snapshot = None
    if results:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H-%M-%S.%fZ")
        snapshot = out / HISTORY / stamp
        snapshot.mkdir(parents=True)
        for path in (*results, out / "grades.csv", out / BATCH):
            if path.is_file():
                shutil.copy2(path, snapshot / path.name)
    record = {"started": datetime.now(timezone.utc).isoformat(), "isolated": isolated, "isolation": isolation}
    write_atomically(out / BATCH, json.dumps(record | details, indent=2) + "\n")
    return snapshot


def batch_record(out: Path) -> dict:
    """The latest batch's record in out, or {} when there is none."""
    try:
        return json.loads((out / BATCH).read_text())
    except (OSError, ValueError):
        return {}
