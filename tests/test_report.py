"""The class report (tools/report/) on a generated class (benchmarks/generated_class.py): its numbers against
grades.csv, failure groups against the mutants' hints, similarity of copies and of independent solutions,
the Canvas export, the regrade diff, the page itself (parsed, and rendered once by headless Chromium), and the
page and summary.md as two renderings of one document: the same rows and numbers, what students wrote escaped."""

from __future__ import annotations

import base64
import csv
import io
import itertools
import json
import math
import re
import shutil
import subprocess
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from copydetect import CodeFingerprint, compare_files

from tools.grade.outputs import BATCH, HISTORY, start_batch, write_grades_csv
from tools.report import report as class_report
from tools.report import similarity
from tools.report.__main__ import main
from tools.report.canvas import FIXED, POINTS_POSSIBLE, column
from tools.report.content import build_document
from tools.report.document import Table, plain
from tools.report.load import read_results
from tools.report.stats import failure_key
from tools.teeth import generated_class
from utils import course
from utils.results import Status, SubmissionResult

CLASS_SIZE = 60  # every mutant of the course at least once, a hang, a memory bomb, a stub
VOID = {"meta", "img", "br", "hr", "link", "input", "col", "area", "base", "source", "wbr"}


@pytest.fixture(scope="module")
def grades(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("grades")
    generated_class.write_grades(folder, CLASS_SIZE)
    (folder / BATCH).write_text(json.dumps({"isolated": False, "isolation": "NOT isolated (needs root)"}))
    return folder


@pytest.fixture(scope="module")
def report(grades) -> class_report.ClassReport:
    built = class_report.build(grades, progress=False)
    class_report.write(built)
    return built


def _grades_csv(folder: Path) -> list[dict[str, str]]:
    with (folder / "grades.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


class _Page(HTMLParser):
    """Collects the tags of a page and checks that its elements nest."""

    def __init__(self):
        super().__init__()
        self.open: list[str] = []
        self.tags: list[tuple[str, dict]] = []
        self.cells: list[list[str]] = []  # the text of each table row's cells
        self.text: list[str] = []  # the text a reader sees (not the style sheet or the title)
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "tr":
            self.cells.append([])
        if tag == "td" and self.cells:
            self.cells[-1].append("")
        if tag == "li" and "td" in self.open:
            self.cells[-1][-1] += " "  # a list's items in a cell, apart
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.open or self.open[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.open[-1] if self.open else None}>")
        else:
            self.open.pop()

    def handle_data(self, data):
        if "td" in self.open and self.cells and self.cells[-1]:
            self.cells[-1][-1] += data
        if not {"style", "title"} & set(self.open):
            self.text.append(data)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text())
    page.close()
    assert not page.errors and not page.open, (page.errors, page.open)
    return page


# ---------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------
def test_the_page_parses_and_embeds_every_image(report):
    page = _parse(report.folder / "index.html")
    images = [attrs["src"] for tag, attrs in page.tags if tag == "img"]
    # the time plot, and a histogram and a pass-rate plot per assignment
    assert len(images) == 1 + 2 * len(course.ASSIGNMENTS)
    for src in images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")
    assert not [t for t, _ in page.tags if t in ("script", "link", "iframe")]
    links = [attrs["href"] for tag, attrs in page.tags if tag == "a"]
    assert all("://" not in href for href in links)  # only files of the report folder


def test_the_most_missed_question_comes_first(report):
    for stats in report.assignments:
        rates = [q.pass_rate for q in stats.questions]
        assert rates == sorted(rates)


def test_pass_rates_and_histograms_agree_with_grades_csv(report, grades):
    rows = _grades_csv(grades)
    page_rows = {cells[0]: cells for cells in _parse(report.folder / "index.html").cells if cells}
    for stats in report.assignments:
        a, stem = stats.assignment, Path(stats.assignment.notebook).stem
        for q in stats.questions:
            earned = [float(r[f"{stem}/{q.question.id}"]) for r in rows]
            passed = sum(e == q.question.points for e in earned)
            assert (q.passed, q.graded) == (passed, len(rows))
            assert page_rows[q.question.id][1:3] == [
                f"{100 * passed / len(rows):.0f}%",
                f"{passed}/{len(rows)}",
            ]
        totals = [sum(float(r[f"{stem}/{q.id}"]) for q in a.questions) for r in rows]
        expected = [sum(1 for t in totals if low <= t < low + 1 or (t == a.points and low == a.points - 1))
                    for low in range(int(a.points))]  # fmt: skip
        assert [count for _, count in stats.histogram()] == expected
        assert sum(expected) == len(rows)


def test_the_top_failure_of_a_mutants_question_is_its_hint(report, grades):
    """For every question that exactly one mutant of the class must fail: the most common failure group is
    that mutant's hint, and it names the mutant's students."""
    failing: dict[str, list[tuple[str, str]]] = {}
    for topic, name, must_fail in generated_class.mutants():
        for key, hint in must_fail.items():
            failing.setdefault(course.question_id(key), []).append((f"mutant:{topic}/{name}", hint))
    kinds = generated_class.kinds()
    students_of = {
        kind: {f"student{i:04d}" for i in range(CLASS_SIZE) if kinds[i % len(kinds)] == kind}
        for kind in kinds
    }
    checked = 0
    for stats in report.assignments:
        for q in stats.questions:
            if len(failing.get(q.question.id, [])) != 1:
                continue
            kind, hint = failing[q.question.id][0]
            top = q.top_failures(1)[0]
            assert hint in top.key
            assert set(top.students) == students_of[kind]
            checked += 1
    assert checked >= 20


def test_failures_group_by_hint_whatever_the_values():
    first = "svm_loss_naive: loss (N=24, D=12) is 5.98, expected 4.98 (relative error 9.11e-02)\nHint: skip j == y[i]"
    second = (
        "svm_loss_naive: loss (N=3, D=7) is 1.5, expected 0.5 (relative error 1.00e+00)\nHint: skip j == y[i]"
    )
    assert failure_key(first) == failure_key(second) == "skip j == y[i]"
    hidden = "passed the notebook's checks but {} of 6 hidden checks failed; the first: nc1(float32 ({}, 4))"
    assert failure_key(hidden.format(2, 3)) == failure_key(hidden.format(5, 17))


def test_limits_and_the_isolation_are_shown(report):
    text = (report.folder / "summary.md").read_text()
    page = (report.folder / "index.html").read_text()
    kinds = generated_class.kinds()
    hang, memory = (f"student{kinds.index(k):04d}" for k in ("hang", "memory"))
    first = report.assignments[0]
    assert dict(first.limits)[hang] == [(first.assignment.questions[0].id, "timeout")]
    assert dict(first.limits)[memory] == [(first.assignment.questions[1].id, "memory")]
    assert "NOT isolated" in text and "NOT isolated" in page
    assert f"{hang}: {first.assignment.questions[0].id} (timeout)" in text


# ---------------------------------------------------------------------------------------------
# The page and summary.md: one document
# ---------------------------------------------------------------------------------------------
MARKDOWN_CELL = re.compile(r"(?<!\\)\|")  # a pipe that is not escaped
MARKDOWN_LINK = re.compile(r"\]\((<[^>]*>|[^)]*)\)")  # a link's destination: not text the reader sees


def _markdown_text(text: str) -> str:
    """Markdown as a reader sees it, near enough: no link destinations, no backslash escapes."""
    return re.sub(r"\\(.)", r"\1", MARKDOWN_LINK.sub("]", text))


def _markdown_rows(text: str) -> list[list[str]]:
    """The cells of each table row of a Markdown text (not the header rows), escapes kept."""
    lines = text.splitlines()
    rows = []
    for i, line in enumerate(lines):
        separator = i + 1 < len(lines) and lines[i + 1].startswith("| ---")
        if line.startswith("| ") and not line.startswith("| ---") and not separator:
            rows.append([cell.strip() for cell in MARKDOWN_CELL.split(line)[1:-1]])
    return rows


def _words(text: str) -> list[str]:
    """The words and numbers of a text, without markup or punctuation that the two renderings spell apart."""
    return re.findall(r"[\w.%/()'-]+", text)


def test_the_page_and_the_summary_carry_the_same_rows_and_numbers(report):
    """Every table row of the document is a row of the page and of summary.md, word for word; and the page's
    text and the summary hold the same numbers in the same order."""
    html, markdown = (report.folder / "index.html").read_text(), (report.folder / "summary.md").read_text()
    document = build_document(report)
    tables = [b for section in document for b in section.blocks if isinstance(b, Table)]
    expected = [[_words(plain(cell)) for cell in row] for table in tables for row in table.rows]
    assert len(expected) >= sum(1 + len(s.questions) for s in report.assignments)  # overview, questions
    page = _parse(report.folder / "index.html")
    assert [[_words(cell) for cell in row] for row in page.cells if row] == expected
    rows = _markdown_rows(markdown)
    assert [[_words(_markdown_text(cell)) for cell in row] for row in rows] == expected
    number = re.compile(r"\d+(?:\.\d+)?")
    assert number.findall(" ".join(page.text)) == number.findall(_markdown_text(markdown))
    assert "Scores: " in html and "Slowest: " in markdown  # what each rendering used to say alone


EVIL = "<script>alert(1)</script> | x"


def test_what_students_wrote_is_text_in_the_page_and_the_summary(grades, tmp_path):
    """A student named, and a failure message holding, markup and a table's pipe: the page shows them as
    text and runs no script; summary.md escapes them, and its tables keep their columns."""
    folder = tmp_path / "grades"
    shutil.copytree(grades, folder, ignore=shutil.ignore_patterns("report"))
    hang = f"student{generated_class.kinds().index('hang'):04d}"
    path = folder / f"{hang}.json"
    result = json.loads(path.read_text())
    result["student"] = EVIL
    question = result["notebooks"][0]["questions"][0]  # timed out: a failure group and a limit hit
    question["message"] = f"{EVIL} *not emphasis*\nHint: {EVIL} _not emphasis_"
    path.write_text(json.dumps(result))
    class_report.write(class_report.build(folder, progress=False))
    html, markdown = ((folder / "report" / name).read_text() for name in ("index.html", "summary.md"))
    page = _parse(folder / "report" / "index.html")
    assert "<script" not in html and not [t for t, _ in page.tags if t == "script"]
    text = "".join(page.text)
    assert f"{EVIL}: {question['id']} (timeout)" in text  # the limit, by the student's name
    assert f"{EVIL} _not emphasis_ ({EVIL}" in text  # the failure group: its hint and its student
    assert any(attrs.get("title", "").startswith(f"{EVIL} *not") for _, attrs in page.tags)
    assert escape(EVIL) in html
    escaped = r"\<script\>alert(1)\</script\> \| x"
    assert not re.search(r"(?<!\\)<script", markdown)  # every < escaped
    assert f"- {escaped}: {question['id']} (timeout)" in markdown
    assert f"{escaped} \\_not emphasis\\_ *({escaped}" in markdown
    rows = _markdown_rows(markdown)
    assert any(escaped in cell for row in rows for cell in row)
    for table in markdown.split("\n\n"):  # each row as wide as its table's header
        lines = [line for line in table.splitlines() if line.startswith("| ")]
        assert len({len(MARKDOWN_CELL.split(line)) for line in lines}) <= 1, lines


# ---------------------------------------------------------------------------------------------
# Similarity
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def scores() -> dict[str, dict[frozenset, float]]:
    """{topic: {pair: score}} of every pair of the similarity class and each with the reference."""
    found = {}
    for a in course.ASSIGNMENTS:
        sources = {**generated_class.sources(a.topic), "stub_again": generated_class.stub(a.topic)}
        pairs = similarity.topic_pairs(a.topic, sources, threshold=0.0, progress=False)
        found[a.topic] = {frozenset((p.first, p.second)): p.score for p in pairs}
    return found


def _score(scores: dict[frozenset, float], first: str, second: str) -> float:
    return scores.get(frozenset((first, second)), 0.0)


def test_copies_are_flagged(scores):
    threshold = similarity.THRESHOLD.default
    for topic, pairs in scores.items():
        assert _score(pairs, "copy_a", "copy_b") >= threshold, topic
        assert _score(pairs, "uncommented", similarity.REFERENCE) >= threshold, topic
        assert _score(pairs, "reference", similarity.REFERENCE) >= threshold, topic


def test_independent_solutions_are_not_flagged(scores):
    """The alternative and its copies against the reference, its copies and the mutants (all copies of
    the reference): below the threshold."""
    threshold = similarity.THRESHOLD.default
    alternative, reference = generated_class.FAMILIES
    for topic, pairs in scores.items():
        others = {n for pair in pairs for n in pair} - alternative
        reference_side = others & (reference | {similarity.REFERENCE} | {n for n in others if "mutant" in n})
        for first, second in itertools.product(alternative, reference_side):
            assert _score(pairs, first, second) < threshold, (topic, first, second)


def test_the_stubs_text_never_counts(scores):
    for topic, pairs in scores.items():
        assert _score(pairs, "stub", "stub_again") == 0.0, topic
        assert _score(pairs, "hang", "stub") == 0.0, topic  # the stub plus one loop of its own


def test_the_score_is_copydetects():
    topic = "cam_loss"
    sources = generated_class.sources(topic)
    boilerplate = similarity.boilerplate_hashes(generated_class.stub(topic))
    ours = {k: similarity.Fingerprint.of(f"{k}.py", v, boilerplate) for k, v in sources.items()}
    theirs = {
        k: CodeFingerprint(f"{k}.py", similarity.K, 1, boilerplate, language="python", fp=io.StringIO(v))
        for k, v in sources.items()
    }
    for first, second in itertools.combinations(sources, 2):
        _, shares, _ = compare_files(theirs[first], theirs[second])
        assert math.isclose(similarity.score(ours[first], ours[second]), max(shares), abs_tol=1e-12)


def test_groups_join_pairs_that_share_a_member():
    pairs = [
        similarity.Pair("t", "a", "b", 1.0),
        similarity.Pair("t", "b", "c", 0.9),
        similarity.Pair("t", "d", "e", 0.8),
    ]
    assert similarity.TopicSimilarity("t", 5, pairs).groups() == [["a", "b", "c"], ["d", "e"]]


# ---------------------------------------------------------------------------------------------
# Canvas
# ---------------------------------------------------------------------------------------------
def test_canvas_parses_back_to_the_same_points_and_reports_both_mismatches(grades, tmp_path, capsys):
    results = read_results(grades)
    students = sorted(results)
    missing, extra = students[3], "nobody_graded"
    roster = tmp_path / "roster.csv"
    with roster.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "sis_id", "name"])
        writer.writerows([s, f"SIS{i}", f"Name {s}"] for i, s in enumerate(students) if s != missing)
        writer.writerow([extra, "SIS-extra", "Extra"])
    folder = tmp_path / "grades"
    shutil.copytree(grades, folder, ignore=shutil.ignore_patterns("report"))
    assert main([str(folder), "--roster", str(roster)]) == 0
    err = capsys.readouterr().err
    assert f"not on the roster (left out of canvas.csv): {missing}" in err
    assert f"on the roster, no grades (empty in canvas.csv): {extra}" in err
    with (folder / "report" / "canvas.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0])[: len(FIXED)] == FIXED and rows[0]["Student"] == POINTS_POSSIBLE
    sis = {f"SIS{i}": s for i, s in enumerate(students)}
    for row in rows[1:]:
        if row["SIS User ID"] == "SIS-extra":
            assert all(row[column(a)] == "" for a in course.ASSIGNMENTS)
            continue
        result = results[sis[row["SIS User ID"]]]
        for a in course.ASSIGNMENTS:
            report = next(r for r in result.notebooks if r.notebook == a.notebook)
            assert float(row[column(a)]) == report.earned
        assert float(rows[0][column(course.ASSIGNMENTS[0])]) == course.ASSIGNMENTS[0].points
    assert len(rows) - 1 == len(students)  # everyone on the roster; the missing one is listed instead
    text = (folder / "report" / "summary.md").read_text()
    assert missing in text and extra in text


# ---------------------------------------------------------------------------------------------
# Regrade
# ---------------------------------------------------------------------------------------------
def test_a_regrade_shows_exactly_the_questions_whose_points_changed(grades, tmp_path):
    folder = tmp_path / "grades"
    shutil.copytree(grades, folder, ignore=shutil.ignore_patterns("report"))
    snapshot = start_batch(folder, True, "isolated")  # what tools.grade does before it writes
    assert snapshot is not None and snapshot.parent.name == HISTORY
    assert sorted(p.name for p in snapshot.iterdir()) == sorted(
        p.name for p in folder.iterdir() if p.suffix in (".json", ".csv")
    )
    changed = set()
    for i, path in enumerate(sorted(folder.glob("student*.json"))[:6]):
        result = SubmissionResult.from_json(json.loads(path.read_text()))
        question = result.notebooks[i % len(result.notebooks)].questions[i]
        if i == 5:  # a new message at the same points is not a change
            question.message += " (reworded)"
        else:
            passed = question.status is Status.PASSED
            question.status, question.message = (
                (Status.FAILED, "new check") if passed else (Status.PASSED, "")
            )
            changed.add((result.student, question.id))
        path.write_text(json.dumps(result.to_json()))
    write_grades_csv(folder)
    built = class_report.build(folder, progress=False)
    assert {(c.student, c.question) for c in built.regrade.changes} == changed
    with (folder / "report" / "regrade.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["student"], r["question"]) for r in rows} == changed
    for row in rows:
        assert row["old"] != row["new"] and (row["message"] == "new check") == (row["new"] == "0")
    class_report.write(built)
    cells = {tuple(c[:2]) for c in _parse(folder / "report" / "index.html").cells if len(c) == 5}
    assert changed <= cells


def test_regrading_with_the_grader_keeps_the_previous_grades(tmp_path, monkeypatch):
    """tools.grade twice into one folder, on a Dask cluster in this process whose workers' grading is
    replaced by the generated class's: the regrade keeps the first run's grades in history/, and the report
    shows what changed."""
    import random

    from distributed import LocalCluster

    import tools.grade.batch
    import tools.grade.task

    submissions, out = tmp_path / "submissions", tmp_path / "grades"
    for student in ("ann", "ben"):
        (submissions / student).mkdir(parents=True)
    kinds = {"ann": "reference", "ben": "reference"}
    monkeypatch.setattr(
        tools.grade.task, "worker_sandbox", lambda: (None, "NOT isolated (not under test here)")
    )
    monkeypatch.setattr(
        tools.grade.task,
        "grade_submission",
        lambda student, *args: generated_class.submission(student, kinds[student], random.Random(0)),
    )
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        command = [str(submissions), "--out", str(out), "--scheduler", cluster.scheduler_address]
        command += ["--timeout", "300"]  # no reference run
        assert tools.grade.batch.main(command) == 0
        assert not (out / HISTORY).exists()
        kinds["ben"] = "hang"  # the first question of the first assignment times out
        assert tools.grade.batch.main(command) == 0  # the same submissions and repository: nothing to grade
        assert not (out / HISTORY).exists()
        assert tools.grade.batch.main([*command, "--regrade"]) == 0
    (snapshot,) = (out / HISTORY).iterdir()
    assert sorted(p.name for p in snapshot.iterdir()) == sorted(["ann.json", BATCH, "ben.json", "grades.csv"])
    built = class_report.build(out, progress=False)
    first = course.ASSIGNMENTS[0].questions[0]
    assert [(c.student, c.question, c.old, c.new) for c in built.regrade.changes] == [
        ("ben", first.id, first.points, 0.0)
    ]


def test_the_first_batch_keeps_no_history(tmp_path):
    assert start_batch(tmp_path, False, "NOT isolated") is None
    assert json.loads((tmp_path / BATCH).read_text())["isolated"] is False
    write_grades_csv(tmp_path)  # the batch record is not a student's result
    assert _grades_csv(tmp_path) == []


# ---------------------------------------------------------------------------------------------
# The whole command, and the page in a browser
# ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_the_command_with_submissions_links_side_by_side_pages(grades, tmp_path):
    folder, submissions = tmp_path / "grades", tmp_path / "submissions"
    shutil.copytree(grades, folder, ignore=shutil.ignore_patterns("report"))
    generated_class.write_submissions(submissions)
    assert main([str(folder), "--submissions", str(submissions), "--pages", "2"]) == 0
    page = _parse(folder / "report" / "index.html")
    links = [attrs["href"] for tag, attrs in page.tags if tag == "a"]
    side_by_side = [href for href in links if href.endswith(".html")]
    assert len(side_by_side) == 2 * len(course.ASSIGNMENTS)
    for href in side_by_side:
        text = (folder / "report" / href).read_text()
        assert "Matched Code" in text and str(tmp_path) not in text
    for a in course.ASSIGNMENTS:
        with (folder / "report" / "similarity" / f"{a.topic}.csv").open(newline="") as handle:
            pairs = {(r["first"], r["second"]) for r in csv.DictReader(handle)}
        assert ("copy_a", "copy_b") in pairs and ("alternative", similarity.REFERENCE) not in pairs
    assert "<li>alternative, copy_a, copy_b</li>" in (folder / "report" / "index.html").read_text()


def _chromium() -> str | None:
    return next(
        (
            shutil.which(name)
            for name in ("chromium", "chromium-browser", "google-chrome")
            if shutil.which(name)
        ),
        None,
    )


@pytest.mark.slow
@pytest.mark.skipif(
    _chromium() is None, reason="no Chromium binary (.ci/run installs Debian's chromium when apt-get exists)"
)
def test_chromium_renders_the_page(report, tmp_path):
    import matplotlib.image

    shot = tmp_path / "page.png"
    subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run", "--hide-scrollbars", "--window-size=1200,1600", f"--screenshot={shot}",
         (report.folder / "index.html").as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    pixels = matplotlib.image.imread(shot)[..., :3]
    dark = (pixels.mean(axis=2) < 0.5).mean()  # text, axes and bars
    coloured = (pixels.std(axis=2) > 0.1).mean()  # the plots' bars
    assert pixels.std() > 0.05 and dark > 0.01 and coloured > 0.01, (pixels.std(), dark, coloured)
