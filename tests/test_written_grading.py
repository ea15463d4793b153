"""Grading the written answers (tools/written), without a browser: the store keeps every click across a
restart, a rubric edit changes exactly the students who have the item, bad requests change nothing, the
merge writes what was graded (pending is never 0), the feedback pages show every case and no hidden value,
and the class report and the Canvas export carry the written grades.

The page itself, in a real browser, is tests/test_written_browser.py."""

from __future__ import annotations

import csv
import http.client
import json
import re
import sqlite3
import threading
import zipfile
from pathlib import Path

import pytest

from tools.report import canvas
from tools.report import report as class_report
from tools.report.__main__ import main as report_main
from tools.teeth import written_class
from tools.teeth.written_session import grading_server
from tools.written import feedback, merge, questions
from tools.written.__main__ import main as written_main
from tools.written.access import access_for
from tools.written.answers import read_class
from tools.written.app import App, BadRequest
from tools.written.grades import KEY, read_written_grades
from tools.written.store import FILE, NotFound, Store
from utils import course

TOPIC, QUESTION = "linear_classifier", "softmax_initial_loss"  # two items of 0.5 points
KEY_ = f"{TOPIC}/{QUESTION}"
SIZE = 12


def _class(folder: Path, size: int = SIZE) -> Path:
    student, _ = written_class.feedback_student()
    written_class.write_class(folder, size, hostile=(2,), extra=(student,))
    return folder


@pytest.fixture
def grades(tmp_path) -> Path:
    return _class(tmp_path / "grades")


def _app(folder: Path) -> App:
    sheets = questions.sheets()
    return App.start(Store.of(folder), sheets, read_class(folder, sheets))


def _number(app: App, student: str) -> int:
    return app.numbers[student]


def _dump(folder: Path) -> list[str]:
    """Every row of the store, for a before-and-after comparison."""
    with sqlite3.connect(folder / FILE) as con:
        return list(con.iterdump())


# ---------------------------------------------------------------------------------------------
# The store
# ---------------------------------------------------------------------------------------------
def test_every_click_is_in_the_store_when_it_opens_again(grades):
    app = _app(grades)
    first, second = sorted(app.klass.answers[KEY_])[:2]
    items = app.store.items(TOPIC, QUESTION)
    app.click("ana", TOPIC, QUESTION, _number(app, first), {"item": items[0].id, "applied": True})
    app.click("ben", TOPIC, QUESTION, _number(app, first), {"item": items[1].id, "applied": True})
    app.click("ben", TOPIC, QUESTION, _number(app, second), {"graded": True})
    app.click("ana", TOPIC, QUESTION, _number(app, second), {"comment": "See the lecture notes."})
    again = _app(grades)  # a new store on the same file, as after a restart
    assert again.numbers == app.numbers
    _, _, marks, _ = again.store.question(TOPIC, QUESTION)
    assert marks[first].applied == {items[0].id, items[1].id} and marks[first].graded
    assert marks[first].grader == "ben"  # the last to change it
    assert (
        marks[second].graded
        and not marks[second].applied
        and marks[second].comment == "See the lecture notes."
    )
    with sqlite3.connect(grades / FILE) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    actions = [(a["grader"], a["action"]) for a in again.store.audit()]
    assert actions == [("ana", "apply"), ("ben", "apply"), ("ben", "graded"), ("ana", "comment")]


def _hand_in_again(folder: Path, student: str, text: str) -> None:
    written_class.hand_in_again(folder, student, course.by_topic(TOPIC).notebook, QUESTION, text)


def test_an_answer_handed_in_again_after_grading_is_pending_again_until_a_grader_confirms_it(grades):
    app = _app(grades)
    changed, kept = sorted(app.klass.answers[KEY_])[:2]
    item = app.store.items(TOPIC, QUESTION)[0]
    app.click("ana", TOPIC, QUESTION, app.numbers[changed], {"item": item.id, "applied": True})
    app.click("ana", TOPIC, QUESTION, app.numbers[kept], {"graded": True})
    _hand_in_again(grades, changed, "A second try: log(10) = 2.303.")
    _hand_in_again(grades, kept, app.klass.answers[KEY_][kept].text)  # handed in again, the same text

    again = _app(grades)  # the page started on the regraded folder
    answers = {a["number"]: a for a in again.question(TOPIC, QUESTION, "ben")["answers"]}
    mine, same = answers[again.numbers[changed]], answers[again.numbers[kept]]
    assert (mine["graded"], mine["changed"], mine["score"]) == (False, True, None)
    assert mine["applied"] == [item.id] and mine["answer"] == "A second try: log(10) = 2.303."
    assert (same["graded"], same["changed"]) == (True, False)
    progress = next(q for q in again.overview("ben")["questions"] if q["key"] == KEY_)
    assert progress["graded"] == 1
    pending = {
        student
        for student, grades_ in merge.current_grades(grades).items()
        for g in grades_
        if g.question == QUESTION and g.pending
    }
    assert changed in pending and kept not in pending

    reply = again.click("ben", TOPIC, QUESTION, again.numbers[changed], {"graded": True})  # confirmed
    assert (reply["mark"]["graded"], reply["mark"]["changed"], reply["mark"]["score"]) == (True, False, 0.5)
    assert again.store.audit()[-1]["grader"] == "ben" and again.store.audit()[-1]["action"] == "graded"


def test_a_store_from_before_the_answers_digests_opens_and_keeps_its_grades(grades):
    app = _app(grades)
    student = sorted(app.klass.answers[KEY_])[0]
    app.click("ana", TOPIC, QUESTION, app.numbers[student], {"graded": True})
    with sqlite3.connect(grades / FILE) as con:  # the answers table as it was before the digest column
        con.execute("ALTER TABLE answers DROP COLUMN answered")
    _hand_in_again(grades, student, "Changed, but the old store cannot know it.")
    again = _app(grades)
    mine = next(
        a for a in again.question(TOPIC, QUESTION, "ana")["answers"] if a["number"] == app.numbers[student]
    )
    assert (mine["graded"], mine["changed"]) == (True, False)


def test_students_are_numbers_until_names_are_revealed_and_the_reveal_is_audited(grades):
    app = _app(grades)
    assert sorted(app.numbers.values()) == list(range(1, len(app.numbers) + 1))
    state = app.question(TOPIC, QUESTION, "ana")
    assert {a["name"] for a in state["answers"]} == {None}
    assert not any(student in json.dumps(state) for student in app.numbers)
    app.reveal("ana", {"revealed": True})
    names = {a["number"]: a["name"] for a in app.question(TOPIC, QUESTION, "ana")["answers"]}
    assert names == {n: s for s, n in app.numbers.items() if s in app.klass.answers[KEY_]}
    assert app.store.audit()[-1]["action"] == "reveal names"


def test_a_sheet_shows_the_notebooks_question_text_and_the_registrys_rubric():
    sheet = next(s for s in questions.sheets() if s.key == KEY_)
    assert sheet.text.startswith("**Inline question 3.**") and "softmax loss" in sheet.text
    assert sum(item.points for item in sheet.rubric) == sheet.points
    assert len(questions.sheets()) == sum(len(a.written) for a in course.ASSIGNMENTS)


# ---------------------------------------------------------------------------------------------
# Rubric edits
# ---------------------------------------------------------------------------------------------
def test_an_items_new_points_change_exactly_the_students_who_have_it(grades):
    app = _app(grades)
    first, second = app.store.items(TOPIC, QUESTION)
    students = sorted(app.klass.answers[KEY_])
    plan = {s: [[first.id], [second.id], [first.id, second.id], []][i % 4] for i, s in enumerate(students)}
    for student, applied in plan.items():
        for item in applied:
            app.click("ana", TOPIC, QUESTION, _number(app, student), {"item": item, "applied": True})
        app.click("ana", TOPIC, QUESTION, _number(app, student), {"graded": True})

    def scores() -> dict[str, float]:
        grades_now = merge.current_grades(grades)
        return {s: next(g.earned for g in grades_now[s] if g.question == QUESTION) for s in students}

    before = scores()
    app.edit_item("ben", TOPIC, QUESTION, second.id, {"points": 0.25})
    after = scores()
    changed = {s for s in students if before[s] != after[s]}
    assert changed == {s for s, applied in plan.items() if second.id in applied}
    assert all(after[s] == before[s] - 0.25 for s in changed)
    edit = app.store.audit()[-1]
    assert (edit["grader"], edit["action"], edit["item"]) == ("ben", "edit item", second.id)
    assert json.loads(edit["before"])["points"] == 0.5 and json.loads(edit["after"])["points"] == 0.25
    app.edit_item("ben", TOPIC, QUESTION, second.id, {"description": "Says log C."})
    assert scores() == after  # a new text changes no score
    assert app.store.items(TOPIC, QUESTION)[1].description == "Says log C."


def test_a_score_stays_between_zero_and_the_questions_points(grades):
    app = _app(grades)
    student = sorted(app.klass.answers[KEY_])[0]
    added = app.add_item("ana", TOPIC, QUESTION, {"points": 5, "description": "Bonus"})["item"]
    reply = app.click("ana", TOPIC, QUESTION, _number(app, student), {"item": added["id"], "applied": True})
    assert reply["mark"]["score"] == 1.0  # the question's points
    penalty = app.add_item("ana", TOPIC, QUESTION, {"points": -9, "description": "Copied"})["item"]
    reply = app.click("ana", TOPIC, QUESTION, _number(app, student), {"item": penalty["id"], "applied": True})
    assert reply["mark"]["score"] == 0.0


# ---------------------------------------------------------------------------------------------
# Bad requests
# ---------------------------------------------------------------------------------------------
def _request(server, method: str, path: str, body=None, headers=None) -> tuple[int, dict | str]:
    port = int(server.url.rstrip("/").rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    sent = {
        "Host": f"127.0.0.1:{port}",
        **({"Content-Type": "application/json"} if data else {}),
        **(headers or {}),
    }
    try:
        connection.request(method, path, body=data, headers=sent)
        response = connection.getresponse()
        text = response.read().decode()
        kind = response.getheader("Content-Type", "")
        assert "default-src 'none'" in response.getheader("Content-Security-Policy", "")
        return response.status, json.loads(text) if kind.startswith("application/json") else text
    finally:
        connection.close()


def test_bad_requests_get_a_clear_4xx_and_change_nothing(grades):
    with grading_server(grades, graders=("ana", "ben")) as server:
        ana = {"Authorization": f"Bearer {server.token('ana')}"}
        app = _app(grades)  # the same store, read beside the server
        number = app.numbers[sorted(app.klass.answers[KEY_])[0]]
        item = app.store.items(TOPIC, QUESTION)[0].id
        click = f"/api/q/{TOPIC}/{QUESTION}/a/{number}"
        good = {"item": item, "applied": True}
        before = _dump(grades)
        bad = [
            ("POST", click, good, {}, 401),  # no token
            ("POST", click, good, {"Authorization": "Bearer not-a-token"}, 403),
            ("POST", click, good, {"Cookie": "losslab_grader=not-a-token"}, 403),
            ("GET", "/login?token=not-a-token", None, {}, 403),
            ("GET", "/static/../../../etc/passwd", None, ana, 404),
            ("GET", "/static/%2e%2e/%2e%2e/etc/passwd", None, ana, 404),
            ("GET", f"/api/q/{TOPIC}/../../written.sqlite", None, ana, 404),
            ("GET", "/../" + FILE, None, ana, 404),
            ("GET", "/grades.csv", None, ana, 404),
            ("POST", f"/api/q/{TOPIC}/{QUESTION}/a/99999", good, ana, 404),  # an unknown student
            ("POST", f"/api/q/{TOPIC}/no_such_question/a/{number}", good, ana, 404),
            ("POST", f"/api/q/no_such_topic/{QUESTION}/a/{number}", good, ana, 404),
            ("POST", click, {"item": 99999, "applied": True}, ana, 404),  # another question's or no item
            ("POST", f"/api/q/{TOPIC}/{QUESTION}/items/99999", {"points": 1}, ana, 404),
            ("POST", click, {"item": item, "applied": "yes"}, ana, 400),
            ("POST", click, {"item": item}, ana, 400),
            ("POST", click, {"comment": "x" * 6000}, ana, 400),
            ("POST", click, b"{not json", ana, 400),
            ("POST", click, [1, 2], ana, 400),
            (
                "POST",
                f"/api/q/{TOPIC}/{QUESTION}/items",
                {"points": float("nan"), "description": "x"},
                ana,
                400,
            ),
            ("POST", f"/api/q/{TOPIC}/{QUESTION}/items", {"points": 1, "description": "  "}, ana, 400),
            ("POST", click, good, {**ana, "Content-Type": "text/plain"}, 415),
            ("POST", click, b"x" * (70 * 1024), ana, 413),
            ("POST", click, good, {**ana, "Origin": "http://evil.example"}, 403),
            ("POST", click, good, {**ana, "Host": "evil.example"}, 400),  # a rebound name
            ("DELETE", click, None, ana, 405),
        ]
        for method, path, body, headers, status in bad:
            got, reply = _request(server, method, path, body, headers)
            assert got == status, (method, path, got, reply)
            message = reply["error"] if isinstance(reply, dict) else reply
            assert message.strip(), (method, path)
        assert _dump(grades) == before
        assert _request(server, "POST", click, good, ana)[0] == 200  # the good one does change it
        assert _dump(grades) != before


def test_a_login_link_sets_the_graders_cookie_and_a_grader_not_named_has_no_access(grades):
    with grading_server(grades, graders=("ana", "ben")) as server:
        ben_token = server.token("ben")
        port = int(server.url.rstrip("/").rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", f"/login?token={server.token('ana')}")
        response = connection.getresponse()
        response.read()
        cookie = response.getheader("Set-Cookie")
        assert response.status == 303 and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        status, overview = _request(server, "GET", "/api/overview", headers={"Cookie": cookie.split(";")[0]})
        assert status == 200 and overview["me"] == "ana"
    with grading_server(grades, graders=("ana",)) as server:  # ben is not named this time
        assert (
            _request(server, "GET", "/api/overview", headers={"Authorization": f"Bearer {ben_token}"})[0]
            == 403
        )


def test_loopback_serves_one_local_grader_without_a_token_and_a_shared_host_needs_graders():
    assert access_for("127.0.0.1", [], None).open
    with pytest.raises(ValueError, match="--grader"):
        access_for("0.0.0.0", [], None)
    with pytest.raises(ValueError, match="grader's name"):
        access_for("127.0.0.1", ["<script>"], None)
    shared = access_for("0.0.0.0", ["ana"], lambda names: {"ana": "t0ken"})
    assert not shared.open and shared.grader(None, "Bearer t0ken") == ("ana", True)
    assert shared.grader("losslab_grader=wrong", None) == (None, True)


def test_clicks_from_many_graders_at_once_on_one_answer_all_land(grades):
    """Threads stand for graders: each applies its own item to the same answer at the same moment."""
    app = _app(grades)
    student = sorted(app.klass.answers[KEY_])[0]
    items = [
        app.add_item("ana", TOPIC, QUESTION, {"points": 0, "description": f"note {i}"})["item"]
        for i in range(8)
    ]
    with grading_server(grades, graders=tuple(f"g{i}" for i in range(8))) as server:
        start = threading.Barrier(len(items))
        statuses = []

        def grader(i: int) -> None:
            start.wait()
            body = {"item": items[i]["id"], "applied": True}
            headers = {"Authorization": f"Bearer {server.token(f'g{i}')}"}
            statuses.append(
                _request(
                    server, "POST", f"/api/q/{TOPIC}/{QUESTION}/a/{app.numbers[student]}", body, headers
                )[0]
            )

        threads = [threading.Thread(target=grader, args=(i,)) for i in range(len(items))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert statuses == [200] * len(items)
    _, _, marks, _ = app.store.question(TOPIC, QUESTION)
    assert marks[student].applied == {i["id"] for i in items}


def test_app_refuses_a_click_it_cannot_read(grades):
    app = _app(grades)
    number = app.numbers[sorted(app.klass.answers[KEY_])[0]]
    with pytest.raises(BadRequest):
        app.click("ana", TOPIC, QUESTION, number, {"graded": True, "comment": "both"})
    with pytest.raises(NotFound):
        app.click("ana", TOPIC, QUESTION, 10_000, {"graded": True})


def test_the_script_builds_no_html_from_strings():
    script = (Path(questions.__file__).parent / "static" / "grade.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script, sink


# ---------------------------------------------------------------------------------------------
# The merge
# ---------------------------------------------------------------------------------------------
def test_the_merge_adds_each_written_question_apart_and_pending_is_never_zero(grades):
    before_rows = {r["student"]: r for r in csv.DictReader((grades / "grades.csv").open())}
    before_json = {p.stem: json.loads(p.read_text()) for p in grades.glob("*.json")}
    app = _app(grades)
    students = sorted(app.klass.answers[KEY_])
    graded, zero = students[0], students[1]
    first = app.store.items(TOPIC, QUESTION)[0]
    app.click("ana", TOPIC, QUESTION, app.numbers[graded], {"item": first.id, "applied": True})
    app.click("ana", TOPIC, QUESTION, app.numbers[zero], {"graded": True})
    app.click("ana", TOPIC, QUESTION, app.numbers[zero], {"comment": "Nothing on log C."})
    assert written_main([str(grades), "--merge"]) == 0
    rows = {r["student"]: r for r in csv.DictReader((grades / "grades.csv").open())}
    column = "01_linear_classifiers/softmax_initial_loss"
    assert rows[graded][column] == "0.5" and rows[zero][column] == "0"
    assert {rows[s][column] for s in students[2:]} == {"pending"}
    assert {rows[s][merge.WRITTEN_TOTAL] for s in students} == {"pending"}  # other questions still pending
    assert rows[graded][merge.WRITTEN_MAX] == f"{sum(a.written_points for a in course.ASSIGNMENTS):g}"
    for student, row in before_rows.items():  # the autograded columns and totals, as tools.grade wrote them
        assert {k: rows[student][k] for k in row} == row
    fields = list(rows[graded])
    assert fields.index("max") < fields.index(column) < fields.index(merge.WRITTEN_TOTAL)
    data = json.loads((grades / f"{zero}.json").read_text())
    mine = next(q for q in data[KEY]["questions"] if q["question"] == QUESTION)
    assert (mine["earned"], mine["status"], mine["comment"], mine["grader"]) == (
        0,
        "graded",
        "Nothing on log C.",
        "ana",
    )
    assert data[KEY]["earned"] is None and QUESTION not in data[KEY]["pending"]
    assert {k: v for k, v in data.items() if k != KEY} == before_json[
        zero
    ]  # the rest as tools.grade wrote it
    written = read_written_grades(grades)
    assert set(written) == set(before_rows)
    assert written_main([str(grades), "--merge"]) == 0  # again: the same files
    assert {r["student"]: r for r in csv.DictReader((grades / "grades.csv").open())} == rows


def test_a_fully_graded_student_has_a_written_total(grades):
    app = _app(grades)
    student = sorted(app.klass.results)[0]
    for sheet in app.sheets.values():
        if student in app.klass.answers[sheet.key]:
            app.click(
                "ana", sheet.assignment.topic, sheet.question.id, app.numbers[student], {"graded": True}
            )
    first = app.store.items(TOPIC, QUESTION)[0]
    app.click("ana", TOPIC, QUESTION, app.numbers[student], {"item": first.id, "applied": True})
    merge.merge(grades)
    row = next(r for r in csv.DictReader((grades / "grades.csv").open()) if r["student"] == student)
    assert row[merge.WRITTEN_TOTAL] == "0.5"


# ---------------------------------------------------------------------------------------------
# Feedback
# ---------------------------------------------------------------------------------------------
def _text(html: str) -> str:
    """The page's text as a reader sees it: tags out, entities read."""
    import html as html_module

    return html_module.unescape(re.sub(r"<[^>]+>", " ", html))


def test_feedback_shows_a_failed_part_a_timeout_a_hidden_failure_and_a_pending_answer(grades):
    student, secrets = written_class.feedback_student()
    app = _app(grades)
    number = app.numbers[student.student]
    graded = "softmax_initial_loss"
    item = app.store.items(TOPIC, graded)[0]
    app.click("ana", TOPIC, graded, number, {"item": item.id, "applied": True})
    app.click("ana", TOPIC, graded, number, {"comment": "Say why the mean is log C."})
    assert written_main([str(grades), "--feedback"]) == 0
    html = (grades / feedback.FOLDER / f"{student.student}.html").read_text()
    text = " ".join(_text(html).split())
    # the failed part, with its hint
    assert "softmax_loss_naive 2 / 3 failed" in text and f"Hint: {written_class.PART_HINT}" in text
    assert "stability: 0 / 1, failed" in text
    # the timeout
    assert "sample_batch 0 / 2 timed out the cell ran past its limit of 300 s" in text
    # the hidden checks: their tally and the grader's message, no input or expected value
    hidden = next(q for q in student.notebooks[0].questions if q.id == written_class.HIDDEN)
    assert f"Hidden checks: {hidden.hidden}" in text and "hidden checks failed" in text
    assert len(secrets) > 20
    leaked = [s for s in secrets if s in html]
    assert leaked == []
    # the written questions: one graded with its item and comment, the others pending
    assert f"Inline question 3 ( {graded} ): 0.5 / 1" in text
    assert item.description in text and "Say why the mean is log C." in text
    assert f"Inline question 2 ( {written_class.PENDING} ): pending" in text
    assert "Not graded yet: pending." in text
    assert re.search(r"total 79 / 85 pending", text)  # autograded and written apart
    # a page that stands alone: its own style only, nothing to fetch, nothing to run
    assert "<script" not in html and "src=" not in html and "http" not in html.replace("http-equiv", "")
    assert "Content-Security-Policy" in html and "default-src 'none'" in html


def test_feedback_shows_a_hostile_answer_as_text_and_zips_a_page_per_student(grades):
    written = feedback.write_feedback(grades)
    hostile = (grades / feedback.FOLDER / "student0002.html").read_text()
    for markup in written_class.HOSTILE:
        assert markup not in hostile and markup in _text(hostile)
    with zipfile.ZipFile(written.zip) as archive:
        names = sorted(archive.namelist())
        assert names == sorted(f"{s}.html" for s in read_class(grades, []).students)
        assert archive.read("student0002.html").decode() == hostile
    assert written.pages == SIZE + 1


# ---------------------------------------------------------------------------------------------
# The class report and Canvas
# ---------------------------------------------------------------------------------------------
def test_the_report_and_canvas_show_the_merged_written_grades(grades, tmp_path):
    app = _app(grades)
    students = sorted(app.klass.answers[KEY_])
    first, second = app.store.items(TOPIC, QUESTION)
    for i, student in enumerate(students[:6]):
        app.click(
            "ana" if i % 2 else "ben",
            TOPIC,
            QUESTION,
            app.numbers[student],
            {"item": first.id, "applied": True},
        )
    app.click("ana", TOPIC, QUESTION, app.numbers[students[0]], {"item": second.id, "applied": True})
    report = class_report.build(grades, progress=False)
    assert report.written is None  # nothing merged yet
    merge.merge(grades)
    roster = tmp_path / "roster.csv"
    roster.write_text("student,sis_id\n" + "".join(f"{s},SIS{i}\n" for i, s in enumerate(students)))
    assert report_main([str(grades), "--roster", str(roster)]) == 0
    summary = (grades / "report" / "summary.md").read_text()
    section = summary.split("## Written questions")[1].split("\n## ")[0]
    row = next(line for line in section.splitlines() if f"`01 {QUESTION}`" in line)
    assert f"| 6/{len(students)} |" in row and "0.5: 5, 1: 1" in row
    assert (
        f"**6** × {first.description}" in row and "ana 4" in row and "ben 2" in row
    )  # the last to change it
    assert "| ana | 4 |" in section and "| ben | 2 |" in section
    assert "pending" in section
    page = (grades / "report" / "index.html").read_text()
    assert "Written questions" in page and "0.5: 5, 1: 1" in page
    with (grades / "report" / "canvas.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assignment = course.by_topic(TOPIC)
    written_column = canvas.written_column(assignment)
    assert rows[0][written_column] == f"{assignment.written_points:g}"
    assert {r[written_column] for r in rows[1:]} == {""}  # every student has a question pending
