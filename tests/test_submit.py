"""utils.submit on a student's copy of the course (the release's stubs and notebooks): the zip holds exactly
the student's files and reads as tools.grade reads a submission, the PDF has a page per written question in
the registry's order, drawn and not blank; the warnings name TODOs, a module that does not import, empty
and deleted answers and the latest report; bad input (a notebook that is not JSON, a 5 MB answer, HTML and
`<script>`) is reported and shown as text. The end-to-end run through tools.grade is slow."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy
import pypdfium2
import pytest
from pypdf import PdfReader

from tools.build import release
from tools.grade.answers import read_written
from tools.grade.submissions import read_modules
from tools.teeth.written_class import answered_notebook
from utils import course, submit
from utils.course import ASSIGNMENTS, REPO_ROOT, Assignment
from utils.results import NotebookReport, Status
from utils.written import MAX_ANSWER_CHARS

A4 = course.by_topic("neural_collapse")
SCRIPT = "<script>alert('hi')</script> and <b>bold</b> & &amp;"


def student_copy(folder: Path, modules: dict[str, str] | None = None) -> Path:
    """A student's copy of the course as the release lays it out: utils/ with the stubs (or modules) and the
    notebooks cleaned as the release cleans them."""
    root = folder / "losslab"
    shutil.copytree(REPO_ROOT / "utils", root / "utils", ignore=shutil.ignore_patterns("__pycache__"))
    for a in ASSIGNMENTS:
        (root / a.notebook).parent.mkdir(parents=True, exist_ok=True)
        release.clean_notebook(REPO_ROOT / a.notebook, root / a.notebook)
    for topic, source in (modules or {}).items():
        (root / "utils" / f"{topic}.py").write_text(source)
    return root


def answer(root: Path, assignment: Assignment, answers: dict[str, str | None]) -> None:
    """Writes answers into the copy's notebook: None deletes the answer cell."""
    path = root / assignment.notebook
    path.write_text(json.dumps(answered_notebook(json.loads(path.read_text()), answers), indent=1))


def pdf_pages(path: Path) -> list[str]:
    return [page.extract_text() for page in PdfReader(path).pages]


def dark_pixels(path: Path, page: int) -> int:
    """How many pixels of the page, rendered at 72 dpi, are darker than light grey."""
    document = pypdfium2.PdfDocument(str(path))
    image = document[page].render(scale=1).to_pil().convert("L")
    return int((numpy.asarray(image) < 160).sum())


@pytest.fixture(scope="module")
def stubs_handed_in(tmp_path_factory) -> tuple[Path, dict, str, float]:
    """The stubs and the empty notebooks of every assignment through utils.submit, timed."""
    root = student_copy(tmp_path_factory.mktemp("stubs"))
    out = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out):
        handed = submit.hand_in(list(ASSIGNMENTS), root, root / "submission")
    return root, handed, out.getvalue(), time.perf_counter() - start


def test_the_zip_holds_exactly_the_students_files_and_reads_as_a_submission(stubs_handed_in):
    root, handed, _, seconds = stubs_handed_in
    print(f"utils.submit on every notebook: {seconds:.1f} s")
    expected = [name for a in ASSIGNMENTS for name in (a.student_module, a.notebook)]
    with zipfile.ZipFile(handed["zip"]) as archive:
        assert archive.namelist() == expected == handed["files"]
        for name in expected:
            assert archive.read(name) == (root / name).read_bytes()
    assert handed["zip"].name == "losslab_code.zip" and handed["zip"].stat().st_size < 1e6
    modules = read_modules(handed["zip"], course.topics())
    assert modules == {a.topic: (root / a.student_module).read_text() for a in ASSIGNMENTS}
    for written, a in zip(read_written(handed["zip"], list(ASSIGNMENTS)), ASSIGNMENTS):
        assert written.answers == {q.id: "" for q in a.written} and written.problems == []


def test_the_pdf_has_a_page_per_written_question_in_order_and_it_is_drawn(stubs_handed_in):
    _, handed, _, _ = stubs_handed_in
    pages = pdf_pages(handed["pdf"])
    questions = [(a, n, q) for a in ASSIGNMENTS for n, q in enumerate(a.written, start=1)]
    assert len(pages) == len(questions) == handed["pages"] == 15
    for text, (a, number, question) in zip(pages, questions):
        assert f"Inline question {number} (" in text and f"{a.topic}/{question.id}" in text
        assert f"Assignment {a.number}: {a.title}" in text and "(no answer)" in text
    reader = PdfReader(handed["pdf"])
    assert len({(page.mediabox.width, page.mediabox.height) for page in reader.pages}) == 1
    assert dark_pixels(handed["pdf"], 0) > 2000  # headings, the question, the boxes: not a blank page


def test_a_fresh_copy_is_told_what_is_missing_and_still_handed_in(stubs_handed_in):
    _, handed, said, _ = stubs_handed_in
    for a in ASSIGNMENTS:
        assert f"{a.student_module}: " in said and "TODO(s) still raise NotImplementedError" in said
        assert f"no report yet: run `python -m utils.autograde {a.notebook}`" in said
    assert said.count("left empty:") == 4
    assert handed["warnings"] >= 12 and "losslab_written.pdf" in said and "15 pages" in said


def test_todos_are_the_stubs_raises_and_never_the_references():
    for a in ASSIGNMENTS:
        solution = (REPO_ROOT / a.solution).read_text()
        assert submit.todos_left(solution) == []  # an abstract method's NotImplementedError is no TODO
        found = submit.todos_left((REPO_ROOT / a.student_module).read_text())
        assert len(found) == solution.count("### BEGIN SOLUTION") > 0


def test_filled_empty_and_deleted_answers_a_broken_module_and_an_old_report(tmp_path, capsys):
    ids = [q.id for q in A4.written]
    root = student_copy(tmp_path, {A4.topic: "def broken(:\n    pass\n"})
    answer(
        root,
        A4,
        {ids[0]: f"The Gram matrix: $G = I - \\frac{{1}}{{C}} 11^T$. {SCRIPT}", ids[1]: "", ids[2]: None},
    )
    report = NotebookReport.all_failed(A4.notebook, A4.questions, Status.NOT_IMPLEMENTED, "TODO")
    (root / "reports").mkdir()
    (root / "reports" / "04_neural_collapse.json").write_text(json.dumps(report.to_json()))
    os.utime(root / "reports" / "04_neural_collapse.json", (time.time() - 7200, time.time() - 7200))
    assert submit.main([A4.notebook], root=root) == 0  # never refuses
    said = capsys.readouterr().out
    assert f"{A4.student_module} does not import: " in said and "SyntaxError" in said
    assert f"left empty: Inline question 2 ({ids[1]})" in said
    assert f"the answer cell of {ids[2]} (Inline question 3) is missing" in said
    assert "0/22 in reports/04_neural_collapse.json, 2 h ago" in said
    assert f"{A4.student_module} changed since" in said
    pdf, code = (
        root / "submission" / "04_neural_collapse_written.pdf",
        root / "submission" / "04_neural_collapse_code.zip",
    )
    pages = pdf_pages(pdf)
    assert len(pages) == 3
    assert SCRIPT in " ".join(pages[0].split())  # shown as typed, never interpreted
    assert len(PdfReader(pdf).pages[0].images) >= 1  # the formula, set by mathtext
    assert "(no answer)" in pages[1] and "deleted" in pages[2]
    with zipfile.ZipFile(code) as archive:
        assert archive.namelist() == [A4.student_module, A4.notebook]
    [written] = read_written(code, [A4])
    assert (
        written.answers[ids[0]].endswith(SCRIPT)
        and written.answers[ids[1]] == ""
        and ids[2] in written.answers
    )
    assert written.answers[ids[2]] is None and "deleted" in written.problems[0]


def test_a_notebook_that_is_not_json_a_5_mb_answer_and_a_bad_formula(tmp_path, capsys):
    root = student_copy(tmp_path)
    a3, ids = course.by_topic("cam_loss"), [q.id for q in A4.written]
    (root / a3.notebook).write_text('{"cells": [ cut off mid-save')
    answer(root, A4, {ids[0]: "word " * 1_000_000, ids[1]: "Bad: $\\begin{pmatrix} 1 \\end{pmatrix}$ stays."})
    submit.main([a3.notebook, A4.notebook], root=root)
    said = capsys.readouterr().out
    assert f"{a3.notebook} cannot be read: the notebook is not valid JSON" in said
    assert f"cut to {MAX_ANSWER_CHARS:,} characters" in said
    pages = pdf_pages(root / "submission" / "losslab_03_04_written.pdf")
    assert len(pages) == len(a3.written) + len(A4.written)
    assert all("was not found or could not be read" in page for page in pages[:3])
    assert "answer cut:" in pages[3] and "more characters not shown" in pages[3]
    assert "$\\begin{pmatrix} 1 \\end{pmatrix}$" in pages[4]  # mathtext cannot: shown as its source
    with zipfile.ZipFile(root / "submission" / "losslab_03_04_code.zip") as archive:
        assert archive.read(a3.notebook) == (root / a3.notebook).read_bytes()  # as the student saved it
        assert archive.getinfo(A4.notebook).file_size > 5e6


@pytest.mark.slow
def test_tools_grade_keeps_the_autograded_points_and_records_the_answers(tmp_path):
    """A handed-in zip of the reference for assignment 4, with answers filled, empty and deleted, graded by
    tools.grade: full autograded marks, and the answers and problems on the student's result."""
    ids = [q.id for q in A4.written]
    root = student_copy(tmp_path, {A4.topic: (REPO_ROOT / A4.solution).read_text()})
    answer(root, A4, {ids[0]: SCRIPT, ids[1]: "", ids[2]: None})
    handed = submit.hand_in([A4], root, tmp_path / "handed")
    submissions, out = tmp_path / "submissions", tmp_path / "grades"
    submissions.mkdir()
    shutil.copy(handed["zip"], submissions / "ada.zip")
    command = [sys.executable, "-m", "tools.grade", str(submissions), "--out", str(out)]
    command += ["--notebooks", A4.notebook, "--workers", "1", "--timeout", "600"]
    proc = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads((out / "ada.json").read_text())
    assert result["earned"] == result["max"] == A4.points, result
    [written] = result["written"]
    assert written["answers"] == {ids[0]: SCRIPT, ids[1]: "", ids[2]: None}
    assert written["points"] == A4.written_points and "deleted" in written["problems"][0]
    gradescope = json.loads((out / "gradescope" / "ada" / "results.json").read_text())
    assert gradescope["score"] == A4.points  # the written points are graded elsewhere
