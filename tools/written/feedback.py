"""Feedback for every student: GRADES_DIR/feedback/<student>.html, and GRADES_DIR/feedback.zip holding them
all, named by student, for an LMS upload. Written only when the instructor asks (--feedback).

A page stands alone: inline CSS, no script, no image, no link out, and a Content-Security-Policy that allows
nothing but its own style, so that it opens anywhere and runs nothing. It shows each autograded question's
points, status and message with its hint, the hidden checks' tally ("3/4 passed": the grader's messages name
shapes and errors, never a hidden input or expected value, and nothing else of the hidden checks is shown),
each written question's answer, rubric items applied, points and comment ("pending" until graded), and the
totals. Every text is escaped: an answer or a message is shown as the student or the grader wrote it.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from dataclasses import dataclass
from html import escape
from pathlib import Path

from tools.grade.outputs import write_atomically
from tools.written.answers import Answer, read_class
from tools.written.grades import WrittenGrade, totals
from tools.written.merge import current_grades
from tools.written.questions import Sheet, sheets
from utils import course
from utils.results import NotebookReport, QuestionResult, Status, SubmissionResult

FOLDER, ZIP = "feedback", "feedback.zip"  # in GRADES_DIR
STATUS = {
    Status.PASSED: "passed",
    Status.FAILED: "failed",
    Status.NOT_IMPLEMENTED: "not implemented",
    Status.ERROR: "error",
    Status.TIMEOUT: "timed out",
}
STYLE = """
body { font-family: sans-serif; max-width: 960px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; width: 100%; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #eee; } .num { white-space: nowrap; }
.passed { color: #176317; } .failed, .error, .timeout, .not_implemented { color: #a00; }
.pending { color: #8a5a00; font-style: italic; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0.3em 0; }
.hint { font-weight: bold; } .answer { background: #f6f6f6; border-left: 3px solid #999; padding: 0.5em; }
.question { color: #444; } section { margin-bottom: 1.5em; }
"""
# The page allows its own style and nothing else: no script, no image, no request.
CSP = (
    "default-src 'none'; style-src 'sha256-"
    + base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
    + "'; base-uri 'none'; form-action 'none'"
)


def _points(earned: float | None, points: float) -> str:
    return '<span class="pending">pending</span>' if earned is None else f"{earned:g} / {points:g}"


def _text(text: str, kind: str = "text") -> str:
    return f'<div class="{kind} text">{escape(text)}</div>'


def _message(message: str) -> str:
    """A message, its hint lines apart and in bold."""
    body = [line for line in message.splitlines() if not line.startswith("Hint: ")]
    hints = [line for line in message.splitlines() if line.startswith("Hint: ")]
    html = _text("\n".join(body).strip()) if "".join(body).strip() else ""
    return html + "".join(f'<p class="hint">{escape(h)}</p>' for h in hints)


def _question(q: QuestionResult) -> str:
    status = f'<span class="{q.status.value}">{STATUS[q.status]}</span>'
    detail = _message(q.message)
    if q.hidden is not None:
        detail += f"<p>Hidden checks: {escape(q.hidden)}</p>"
    if q.parts:
        parts = "".join(
            f"<li>{escape(p.id)}: {q.earned_by(p):g} / {p.points:g}, "
            f'<span class="{p.status.value}">{STATUS[p.status]}</span>'
            + (f"{_message(p.message)}" if p.message and p.message != q.message else "")
            + "</li>"
            for p in q.parts
        )
        detail += f"<ul>{parts}</ul>"
    return (
        f'<tr><td><code>{escape(q.id)}</code></td><td class="num">{q.earned:g} / {q.points:g}</td>'
        f"<td>{status}</td><td>{detail}</td></tr>"
    )


def _autograded(report: NotebookReport) -> str:
    html = "<h3>Autograded questions</h3>"
    if report.cause:
        html += f"<p>Nothing could run: </p>{_text(report.cause)}"
    rows = "".join(_question(q) for q in report.questions)
    return (
        html
        + f"<table><tr><th>question</th><th>points</th><th>status</th><th>message</th></tr>{rows}</table>"
    )


def _written(sheet: Sheet, grade: WrittenGrade, answer: Answer | None) -> str:
    heading = f"Inline question {sheet.number} (<code>{escape(sheet.question.id)}</code>): "
    html = f"<section><h4>{heading}{_points(grade.earned, grade.points)}</h4>{_text(sheet.text, 'question')}"
    text = answer.text if answer is not None else None
    if text:
        html += _text(text, "answer")
    else:
        html += "<p><i>No answer.</i></p>" if text == "" else "<p><i>No answer was read.</i></p>"
    for problem in answer.problems if answer is not None else ():
        html += f"<p>Note: {escape(problem)}</p>"
    if grade.pending:
        return html + '<p class="pending">Not graded yet: pending.</p></section>'
    items = "".join(f"<li>{i.points:+g}: {escape(i.description)}</li>" for i in grade.items)
    html += f"<p>Rubric items applied:</p><ul>{items}</ul>" if items else "<p>No rubric item applied.</p>"
    if grade.comment:
        html += f"<p>Comment:</p>{_text(grade.comment)}"
    return html + "</section>"


def _key(sheet: Sheet) -> tuple[str, str]:
    """How a sheet's grade is found: its notebook and question (ids are unique within a notebook only)."""
    return sheet.assignment.notebook, sheet.question.id


def page(
    result: SubmissionResult,
    grades: list[WrittenGrade],
    answers: dict[str, Answer],
    course_sheets: list[Sheet],
) -> str:
    """One student's feedback page. answers: {sheet key: the student's answer}."""
    graded = {(g.notebook, g.question): g for g in grades}
    rows, sections = [], []
    for assignment in course.ASSIGNMENTS:
        report = next((r for r in result.notebooks if r.notebook == assignment.notebook), None)
        mine = [s for s in course_sheets if s.assignment == assignment and _key(s) in graded]
        if report is None and not mine:
            continue
        title = f"{assignment.number:02d} {assignment.title}"
        written = totals([graded[_key(s)] for s in mine])
        auto = f"{report.earned:g} / {report.max:g}" if report is not None else ""
        rows.append(
            f'<tr><td>{escape(title)}</td><td class="num">{auto}</td>'
            f'<td class="num">{_points(written["earned"], written["max"]) if mine else ""}</td></tr>'
        )
        html = f"<h2>{escape(title)}</h2>" + (_autograded(report) if report is not None else "")
        if mine:
            html += "<h3>Written questions</h3>" + "".join(
                _written(s, graded[_key(s)], answers.get(s.key)) for s in mine
            )
        sections.append(html)
    written = totals(grades)
    rows.append(
        f'<tr><th>total</th><th class="num">{result.earned:g} / {result.max:g}</th>'
        f'<th class="num">{_points(written["earned"], written["max"]) if grades else ""}</th></tr>'
    )
    summary = (
        "<table><tr><th>assignment</th><th>autograded</th><th>written</th></tr>" + "".join(rows) + "</table>"
    )
    name = escape(result.student)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>Feedback: {name}</title><style>{STYLE}</style></head>"
        f"<body><h1>Feedback: {name}</h1>{summary}{''.join(sections)}</body></html>\n"
    )


@dataclass
class Written:
    folder: Path
    zip: Path
    pages: int


def write_feedback(folder: Path) -> Written:
    """Every student's page into folder/feedback/, and all of them into folder/feedback.zip."""
    course_sheets = sheets()
    klass = read_class(folder, course_sheets)
    grades = current_grades(folder, course_sheets)
    out = folder / FOLDER
    out.mkdir(exist_ok=True)
    archive_path = folder / ZIP
    temporary = archive_path.with_name(ZIP + ".tmp")
    with zipfile.ZipFile(temporary, "w") as archive:
        for student in klass.students:
            answers = {key: by[student] for key, by in klass.answers.items() if student in by}
            html = page(klass.results[student], grades.get(student, []), answers, course_sheets)
            write_atomically(out / f"{student}.html", html)
            entry = zipfile.ZipInfo(f"{student}.html", (2020, 1, 1, 0, 0, 0))  # the same bytes on a rerun
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, html)
    temporary.replace(archive_path)
    return Written(out, archive_path, len(klass.students))
