"""index.html: one self-contained page (the plots embedded as data URIs, no script, no external file)."""

from __future__ import annotations

from html import escape

from tools.report import plots
from tools.report.stats import EXAMPLES, AssignmentStats
from utils.results import Status

SHOWN_PAIRS = 50  # flagged pairs listed per topic; the CSV holds them all
STYLE = """
body { font-family: sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #eee; } .warn { color: #a00; font-weight: bold; } img { display: block; margin: 0.5em 0; }
.low { background: #fbe3e3; } code { font-size: 0.9em; }
"""


def _table(header: list[str], rows: list[list[str]]) -> str:
    """A table of already escaped cells."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _failures(question) -> str:
    """The statuses of the students who did not pass, then the top failure groups (a group's full example
    message shows on hover)."""
    items = []
    for group in question.top_failures():
        students = ", ".join(escape(s) for s in group.students[:EXAMPLES])
        more = f" and {group.count - EXAMPLES} more" if group.count > EXAMPLES else ""
        items.append(
            f'<li title="{escape(group.example)}"><b>{group.count}</b> × {escape(group.key)} '
            f"<i>({students}{more})</i></li>"
        )
    if not items:
        return ""
    statuses = ", ".join(
        f"{status.mark} {count}"
        for status, count in question.statuses.most_common()
        if status is not Status.PASSED
    )
    return f"{statuses}<ul>{''.join(items)}</ul>"


def _assignment(stats: AssignmentStats) -> str:
    a = stats.assignment
    rows = [
        [
            f"<code>{escape(q.question.id)}</code>",
            f"{100 * q.pass_rate:.0f}%" if q.graded else "",
            f"{q.passed}/{q.graded}",
            _failures(q),
        ]
        for q in stats.questions
    ]
    limits = [
        [escape(s), ", ".join(f"{escape(q)} ({limit})" for q, limit in hits)]
        for s, hits in stats.limits.items()
    ]
    return (
        f"<h2>{a.number:02d} {escape(a.title)}</h2>"
        f"<p>{len(stats.scores)} students, mean {stats.mean:.1f} of {a.points:g} points.</p>"
        f'<img alt="score distribution" src="{plots.score_histogram(stats)}">'
        f'<img alt="pass rate per question" src="{plots.pass_rates(stats)}">'
        "<h3>Questions, the most missed first</h3>"
        + _table(["question", "pass rate", "passed", "most common failures (by hint)"], rows)
        + ("<h3>Limits hit</h3>" + _table(["student", "questions"], limits) if limits else "")
    )


def _batch(report) -> str:
    results = report.results
    line = f"<p>{len(results)} students graded."
    if report.batch.get("isolated") is False:
        line += ' <span class="warn">NOT isolated</span>: ' + escape(report.batch.get("isolation", ""))
    elif report.batch:
        line += " " + escape(report.batch.get("isolation", ""))
    seconds = sorted(((r.seconds, s) for s, r in results.items()), reverse=True)
    slowest = ", ".join(f"{escape(s)} ({t:.0f} s)" for t, s in seconds[:5])
    image = plots.submission_times([t for t, _ in seconds])
    return f'{line}</p><img alt="time per submission" src="{image}"><p>Slowest: {slowest}.</p>'


def _similarity(report) -> str:
    if report.similarity is None:
        return "<h2>Similarity</h2><p>Not run: pass <code>--submissions</code>.</p>"
    parts = [f"<h2>Similarity</h2><p>Pairs scoring at least {report.threshold:g} (copydetect; README).</p>"]
    for topic in report.similarity:
        parts.append(
            f"<h3>{escape(topic.topic)}: {len(topic.flagged)} pairs among {topic.students} submissions "
            f'(<a href="{escape(topic.table)}">all pairs</a>)</h3>'
        )
        groups = [", ".join(escape(n) for n in g) for g in topic.groups()]
        parts.append("<p>Groups sharing code:</p><ul>" + "".join(f"<li>{g}</li>" for g in groups) + "</ul>")
        rows = []
        for pair in topic.flagged[:SHOWN_PAIRS]:
            page = topic.pages.get((pair.first, pair.second))
            link = f'<a href="{escape(page)}">side by side</a>' if page else ""
            rows.append([escape(pair.first), escape(pair.second), f"{pair.score:.2f}", link])
        more = len(topic.flagged) - SHOWN_PAIRS
        parts.append(_table(["submission", "similar to", "score", ""], rows) if rows else "<p>None.</p>")
        parts.append(f"<p>{more} more pairs in the CSV.</p>" if more > 0 else "")
    return "".join(parts)


def _canvas(report) -> str:
    export = report.canvas
    if export is None:
        return ""
    lists = [
        ("graded, not on the roster (left out)", export.not_on_roster),
        ("on the roster, not graded (empty cells)", export.not_graded),
    ]
    items = "".join(
        f'<li><span class="warn">{len(names)} {label}</span>: {escape(", ".join(names))}</li>'
        for label, names in lists
        if names
    )
    return (
        f'<h2>Canvas</h2><p><a href="{escape(export.path.name)}">{escape(export.path.name)}</a>: '
        f"{export.exported} students with grades.</p><ul>{items}</ul>"
    )


def _regrade(report) -> str:
    regrade = report.regrade
    if regrade is None:
        return ""
    rows = [
        [escape(c.student), escape(c.question), "" if c.old is None else f"{c.old:g}",
         "" if c.new is None else f"{c.new:g}", escape(c.message)]
        for c in regrade.changes
    ]  # fmt: skip
    new = f"<p>New since then: {escape(', '.join(regrade.new_students))}.</p>" if regrade.new_students else ""
    gone = (
        f"<p>Gone since then: {escape(', '.join(regrade.gone_students))}.</p>"
        if regrade.gone_students
        else ""
    )
    return (
        f"<h2>Regrade</h2><p>Against the grades of {escape(regrade.snapshot.name)} "
        f'(<a href="regrade.csv">regrade.csv</a>): {len(rows)} changes.</p>'
        + _table(["student", "question", "old", "new", "new message"], rows)
        + new
        + gone
    )


def _overview(report) -> str:
    rows = []
    for stats in report.assignments:
        missed = stats.questions[0]
        rows.append(
            [
                f"{stats.assignment.number:02d} {escape(stats.assignment.title)}",
                f"{stats.mean:.1f} / {stats.assignment.points:g}",
                f"<code>{escape(missed.question.id)}</code> ({100 * missed.pass_rate:.0f}% passed)",
                str(len(stats.limits)),
            ]
        )
    return _table(["assignment", "mean", "most missed", "students who hit a limit"], rows)


def html(report) -> str:
    body = (
        "<h1>Class report</h1>"
        + _overview(report)
        + _batch(report)
        + "".join(_assignment(s) for s in report.assignments)
        + _similarity(report)
        + _canvas(report)
        + _regrade(report)
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Class report</title>'
        f"<style>{STYLE}</style></head><body>{body}</body></html>\n"
    )
