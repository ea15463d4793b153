"""What the class report says, decided once: the report's numbers (a report.ClassReport, which imports this
module, hence no annotation) as a document (document.py) of sections, which page.py and summary.py only write
out. A number or a row added here shows in index.html and in summary.md alike; the plots are drawn here too,
once per report."""

from __future__ import annotations

from tools.report import plots
from tools.report.document import (
    CODE,
    EMPHASIS,
    STRONG,
    WARN,
    BulletList,
    Image,
    Item,
    Paragraph,
    Section,
    Table,
    Text,
)
from tools.report.stats import EXAMPLES, AssignmentStats, QuestionStats
from tools.written import stats as written_stats
from utils import course
from utils.results import Status

SHOWN_PAIRS = 50  # flagged pairs listed per topic; the CSV holds them all
SLOWEST = 5  # submissions named by grading time


def _rate(q: QuestionStats) -> str:
    return f"{100 * q.pass_rate:.0f}%" if q.graded else ""


def _class(report) -> Section:
    """The title, a row per assignment, and the batch: how many, whether isolated, the slowest."""
    rows = []
    for stats in report.assignments:
        missed = stats.questions[0]
        rows.append(
            [
                f"{stats.assignment.number:02d} {stats.assignment.title}",
                f"{stats.mean:.1f} / {stats.assignment.points:g}",
                [Text(missed.question.id, CODE), f" ({100 * missed.pass_rate:.0f}% passed)"],
                str(len(stats.limits)),
            ]
        )
    overview = Table(["assignment", "mean", "most missed", "students who hit a limit"], rows)
    line: list = [f"{len(report.results)} students graded."]
    if report.batch.get("isolated") is False:
        line += [" ", Text("NOT isolated", WARN), ": " + report.batch.get("isolation", "")]
    elif report.batch:
        line.append(" " + report.batch.get("isolation", ""))
    seconds = sorted(((r.seconds, s) for s, r in report.results.items()), reverse=True)
    slowest = ", ".join(f"{s} ({t:.0f} s)" for t, s in seconds[:SLOWEST])
    return Section(
        "Class report",
        1,
        [
            overview,
            Paragraph(line),
            Image("time per submission", plots.submission_times([t for t, _ in seconds])),
            Paragraph(f"Slowest: {slowest}."),
        ],
    )


def _failures(q: QuestionStats) -> list:
    """The statuses of the students who did not pass, then the top failure groups, each with the students
    it names and one full message of the group as detail."""
    groups = q.top_failures()
    if not groups:
        return [""]
    statuses = ", ".join(
        f"{status.mark} {count}" for status, count in q.statuses.most_common() if status is not Status.PASSED
    )
    items = []
    for group in groups:
        more = f" and {group.count - EXAMPLES} more" if group.count > EXAMPLES else ""
        students = f"({', '.join(group.students[:EXAMPLES])}{more})"
        runs = [Text(str(group.count), STRONG), f" × {group.key} ", Text(students, EMPHASIS)]
        items.append(Item(runs, title=group.example))
    return [statuses, BulletList(items)]


def _assignment(stats: AssignmentStats) -> list[Section]:
    """An assignment's scores, its questions the most missed first, and who hit a limit."""
    a = stats.assignment
    scores = ", ".join(f"{low}-{low + 1}: {count}" for low, count in stats.histogram() if count)
    overview = Section(
        f"{a.number:02d} {a.title}",
        2,
        [
            Paragraph(f"{len(stats.scores)} students, mean {stats.mean:.1f} of {a.points:g} points."),
            Image("score distribution", plots.score_histogram(stats)),
            Paragraph(f"Scores: {scores}"),
            Image("pass rate per question", plots.pass_rates(stats)),
        ],
    )
    header = ["question", "pass rate", "passed", "most common failures (by hint)"]
    rows = [
        [Text(q.question.id, CODE), _rate(q), f"{q.passed}/{q.graded}", _failures(q)] for q in stats.questions
    ]
    sections = [overview, Section("Questions, the most missed first", 3, [Table(header, rows)])]
    if stats.limits:
        limits = [
            Item(f"{student}: " + ", ".join(f"{q} ({limit})" for q, limit in hits))
            for student, hits in stats.limits.items()
        ]
        sections.append(Section("Limits hit", 3, [BulletList(limits)]))
    return sections


def _similarity(report) -> list[Section]:
    """Per topic: the flagged pairs' groups, the highest pairs with their side-by-side pages, and the CSV."""
    if report.similarity is None:
        return [Section("Similarity", 2, [Paragraph(["Not run: pass ", Text("--submissions", CODE), "."])])]
    intro = f"Pairs scoring at least {report.threshold:g} (copydetect; README)."
    sections = [Section("Similarity", 2, [Paragraph(intro)])]
    for topic in report.similarity:
        heading = [
            f"{topic.topic}: {len(topic.flagged)} pairs among {topic.students} submissions (",
            Text("all pairs", link=topic.table),
            ")",
        ]
        blocks: list = []
        groups = topic.groups()
        if groups:
            blocks += [Paragraph("Groups sharing code:"), BulletList([Item(", ".join(g)) for g in groups])]
        rows = []
        for pair in topic.flagged[:SHOWN_PAIRS]:
            page = topic.pages.get((pair.first, pair.second))
            link = Text("side by side", link=page) if page else ""
            rows.append([pair.first, pair.second, f"{pair.score:.2f}", link])
        blocks.append(Table(["submission", "similar to", "score", ""], rows) if rows else Paragraph("None."))
        more = len(topic.flagged) - SHOWN_PAIRS
        if more > 0:
            blocks.append(Paragraph(f"{more} more pairs in the CSV."))
        sections.append(Section(heading, 3, blocks))
    return sections


def _canvas(report) -> list[Section]:
    """The gradebook export, and the students it could not match with the roster."""
    export = report.canvas
    if export is None:
        return []
    name = export.path.name
    blocks: list = [Paragraph([Text(name, link=name), f": {export.exported} students with grades."])]
    lists = [
        ("graded, not on the roster (left out)", export.not_on_roster),
        ("on the roster, not graded (empty cells)", export.not_graded),
    ]
    items = [
        Item([Text(f"{len(names)} {label}", WARN), ": " + ", ".join(names)])
        for label, names in lists
        if names
    ]
    if items:
        blocks.append(BulletList(items))
    return [Section("Canvas", 2, blocks)]


def _regrade(report) -> list[Section]:
    """Every student and question whose points changed since the previous grades, with the new message."""
    regrade = report.regrade
    if regrade is None:
        return []
    rows = [
        [
            c.student,
            c.question,
            "" if c.old is None else f"{c.old:g}",
            "" if c.new is None else f"{c.new:g}",
            c.message,
        ]
        for c in regrade.changes
    ]
    csv = Text("regrade.csv", link="regrade.csv")
    blocks: list = [
        Paragraph(["Against the grades of " + regrade.snapshot.name + " (", csv, f"): {len(rows)} changes."]),
        Table(["student", "question", "old", "new", "new message"], rows),
    ]
    if regrade.new_students:
        blocks.append(Paragraph(f"New since then: {', '.join(regrade.new_students)}."))
    if regrade.gone_students:
        blocks.append(Paragraph(f"Gone since then: {', '.join(regrade.gone_students)}."))
    return [Section("Regrade", 2, blocks)]


def _written_label(stats: written_stats.QuestionStats) -> str:
    assignment = course.by_notebook(stats.notebook)
    return f"{assignment.number:02d} {stats.question}" if assignment else f"{stats.notebook} {stats.question}"


def _written(report) -> list[Section]:
    """Each written question's progress, scores and most-applied rubric items, and the graders' progress,
    from the grades merged into the <student>.json files; pending answers are counted apart, never as 0."""
    if report.written is None:
        if not any(r.written for r in report.results.values()):
            return []
        merge = Text("python -m tools.written GRADES_DIR --merge", CODE)
        return [Section("Written questions", 2, [Paragraph(["Not merged yet: run ", merge, "."])])]
    questions = written_stats.question_stats(report.written)
    rows = []
    for q in questions:
        scores = ", ".join(f"{points:g}: {count}" for points, count in q.histogram())
        items = BulletList([Item([Text(str(n), STRONG), f" × {text}"]) for text, n in q.most_applied()])
        rows.append(
            [
                Text(_written_label(q), CODE),
                f"{len(q.scores)}/{q.total}",
                f"{q.mean:.2f} / {q.points:g}" if q.scores else "",
                scores or "none graded",
                [items] if items.items else "",
                ", ".join(f"{g} {n}" for g, n in q.graders.most_common()),
            ]
        )
    header = ["question", "graded", "mean", "scores (points: students)", "most applied items", "graded by"]
    graded = sum(len(q.scores) for q in questions)
    pending = sum(len(q.pending) for q in questions)
    line = [f"{graded} answers graded, "]
    line += [
        Text(f"{pending} pending", WARN) if pending else "none pending",
        " (a pending answer counts as no score, not 0).",
    ]
    graders = written_stats.graders(questions)
    progress = Table(["grader", "answers graded"], [[g, str(n)] for g, n in graders.most_common()])
    return [
        Section("Written questions", 2, [Paragraph(line), Table(header, rows)]),
        Section("Graders", 3, [progress if graders else Paragraph("Nobody has graded yet.")]),
    ]


def build_document(report) -> list[Section]:
    """The whole class report, in the order both files show it."""
    sections = [_class(report)]
    for stats in report.assignments:
        sections += _assignment(stats)
    return sections + _written(report) + _similarity(report) + _canvas(report) + _regrade(report)
