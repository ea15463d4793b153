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
            0.0 if outside or p.status is not Status.PASSED else p.points,
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


def write_grades_csv(out: Path) -> None:
    """grades.csv from every <student>.json in out: a row per student, a column per question, the total."""
    results = [SubmissionResult.from_json(json.loads(p.read_text())) for p in result_paths(out)]
    columns: dict[str, None] = {}  # ordered, without repeats
    for result in results:
        columns.update(
            (f"{Path(r.notebook).stem}/{q.id}", None) for r in result.notebooks for q in r.questions
        )
    rows = []
    for result in results:
        earned = {f"{Path(r.notebook).stem}/{q.id}": q.earned for r in result.notebooks for q in r.questions}
        rows.append(
            {
                "student": result.student,
                **{c: f"{earned[c]:g}" if c in earned else "" for c in columns},
                "total": f"{result.earned:g}",
                "max": f"{result.max:g}",
            }
        )
    with tempfile.NamedTemporaryFile("w", newline="", dir=out, delete=False, suffix=".tmp") as handle:
        writer = csv.DictWriter(handle, fieldnames=["student", *columns, "total", "max"])
        writer.writeheader()
        writer.writerows(rows)
    Path(handle.name).replace(out / "grades.csv")


HISTORY = "history"  # <out>/history/<timestamp>/: the grades a regrade replaced, for the class report's diff
# How the latest batch ran: when, and whether student code was isolated. Hidden, so that no student's
# <student>.json can have its name (tools.grading.submissions skips hidden entries).
BATCH = ".batch.json"


def result_paths(folder: Path) -> list[Path]:
    """Every <student>.json in a grades folder, by name."""
    return [p for p in sorted(folder.glob("*.json")) if p.name != BATCH]


def start_batch(out: Path, isolated: bool, isolation: str, cell_limits: dict | None = None) -> Path | None:
    """Before a batch writes into out: copies the grades already there (every <student>.json, grades.csv and
    the batch record) to out/history/<timestamp>/ and records this batch (how it isolates, its cells' time
    limits) in out/.batch.json. The snapshot's folder, or None when out held no grades."""
    previous = [p for p in (*result_paths(out), out / "grades.csv", out / BATCH) if p.is_file()]
    snapshot = None
    if previous:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H-%M-%S.%fZ")
        snapshot = out / HISTORY / stamp
        snapshot.mkdir(parents=True)
        for path in previous:
            shutil.copy2(path, snapshot / path.name)
    record = {"started": datetime.now(timezone.utc).isoformat(), "isolated": isolated, "isolation": isolation}
    if cell_limits:
        record["cell_limits"] = cell_limits  # {notebook: {code cell: seconds}}, from the reference's times
    write_atomically(out / BATCH, json.dumps(record, indent=2) + "\n")
    return snapshot
