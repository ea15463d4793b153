"""summary.md: the page's numbers as text, for a terminal or an email."""

from __future__ import annotations

from tools.report.page import SHOWN_PAIRS
from tools.report.stats import EXAMPLES, AssignmentStats


def _assignment(stats: AssignmentStats) -> list[str]:
    a = stats.assignment
    lines = [
        f"## {a.number:02d} {a.title}",
        "",
        f"{len(stats.scores)} students, mean {stats.mean:.1f} of {a.points:g} points.",
        "",
        "Scores: " + ", ".join(f"{low}-{low + 1}: {count}" for low, count in stats.histogram() if count),
        "",
        "| question | pass rate | passed | most common failure |",
        "|---|---|---|---|",
    ]
    for q in stats.questions:
        top = q.top_failures(1)
        failure = ""
        if top:
            examples = ", ".join(top[0].students[:EXAMPLES])
            failure = f"{top[0].count} x {top[0].key} ({examples})".replace("|", "\\|")
        rate = f"{100 * q.pass_rate:.0f}%" if q.graded else ""
        lines.append(f"| {q.question.id} | {rate} | {q.passed}/{q.graded} | {failure} |")
    if stats.limits:
        lines += ["", "Limits hit:"]
        lines += [
            f"- {s}: " + ", ".join(f"{q} ({limit})" for q, limit in hits) for s, hits in stats.limits.items()
        ]
    return lines + [""]


def markdown(report) -> str:
    lines = ["# Class report", "", f"{len(report.results)} students graded."]
    if report.batch.get("isolated") is False:
        lines.append(f"**NOT isolated**: {report.batch.get('isolation', '')}")
    lines.append("")
    for stats in report.assignments:
        missed = stats.questions[0]
        lines.append(
            f"- {stats.assignment.number:02d} {stats.assignment.title}: mean {stats.mean:.1f} of "
            f"{stats.assignment.points:g}; most missed {missed.question.id} ({100 * missed.pass_rate:.0f}% passed); "
            f"{len(stats.limits)} students hit a limit"
        )
    lines.append("")
    for stats in report.assignments:
        lines += _assignment(stats)
    if report.similarity is not None:
        lines += ["## Similarity", "", f"Pairs scoring at least {report.threshold:g}:", ""]
        for topic in report.similarity:
            lines.append(f"- {topic.topic}: {len(topic.flagged)} pairs among {topic.students} submissions")
            lines += [f"  - group: {', '.join(group)}" for group in topic.groups()]
            lines += [f"  - {p.first} ~ {p.second}: {p.score:.2f}" for p in topic.flagged[:SHOWN_PAIRS]]
        lines.append("")
    if report.canvas is not None:
        export = report.canvas
        lines += ["## Canvas", "", f"{export.path.name}: {export.exported} students with grades."]
        lines.append(f"Graded, not on the roster (left out): {', '.join(export.not_on_roster) or 'none'}.")
        lines.append(f"On the roster, not graded (empty cells): {', '.join(export.not_graded) or 'none'}.")
        lines.append("")
    if report.regrade is not None:
        lines += [
            "## Regrade",
            "",
            f"Against {report.regrade.snapshot.name}: {len(report.regrade.changes)} changes.",
            "",
        ]
        for c in report.regrade.changes:
            old, new = ("-" if v is None else f"{v:g}" for v in (c.old, c.new))
            lines.append(
                f"- {c.student} {c.question}: {old} -> {new} {c.message.splitlines()[0] if c.message else ''}"
            )
        lines.append("")
    return "\n".join(lines)
