"""The report's figures, as PNG data URIs that embed in the page."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt  # noqa: E402

from tools.report.stats import AssignmentStats  # noqa: E402


def data_uri(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def score_histogram(stats: AssignmentStats) -> str:
    bins = stats.histogram()
    figure, axes = plt.subplots(figsize=(6, 2.6))
    axes.bar([low for low, _ in bins], [count for _, count in bins], width=0.9, align="edge", color="#4878a8")
    axes.set_xlabel(f"points (of {stats.assignment.points:g})")
    axes.set_ylabel("students")
    axes.set_title("Score distribution")
    return data_uri(figure)


def pass_rates(stats: AssignmentStats) -> str:
    """Horizontal bars, the most missed question on top."""
    questions = stats.questions
    figure, axes = plt.subplots(figsize=(6, 0.28 * len(questions) + 0.9))
    rates = [100 * q.pass_rate if q.graded else 0 for q in questions]
    axes.barh(range(len(questions)), rates, color=["#c0504d" if r < 50 else "#4878a8" for r in rates])
    axes.set_yticks(range(len(questions)), [q.question.id for q in questions], fontsize=8)
    axes.invert_yaxis()
    axes.set_xlim(0, 100)
    axes.set_xlabel("students who passed (%)")
    axes.set_title("Pass rate per question")
    return data_uri(figure)


def submission_times(seconds: list[float]) -> str:
    figure, axes = plt.subplots(figsize=(6, 2.4))
    axes.hist(seconds, bins=min(30, max(5, len(seconds) // 5)), color="#4878a8")
    axes.set_xlabel("seconds to grade a submission")
    axes.set_ylabel("students")
    axes.set_title("Time per submission")
    return data_uri(figure)
