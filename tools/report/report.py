"""The class report as data (ClassReport), built from a grades folder, and written to GRADES_DIR/report/."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tools.report import canvas, page, regrade, similarity, summary
from tools.report.content import build_document
from tools.report.load import read_batch, read_results
from tools.report.stats import AssignmentStats, assignment_stats
from tools.written.grades import WrittenGrade, read_written_grades
from utils import course
from utils.results import SubmissionResult

REPORT = "report"  # GRADES_DIR/report/


@dataclass
class ClassReport:
    grades: Path
    results: dict[str, SubmissionResult]
    batch: dict
    assignments: list[AssignmentStats]
    threshold: float
    similarity: list[similarity.TopicSimilarity] | None = None  # None: no --submissions
    canvas: canvas.CanvasExport | None = None
    regrade: regrade.Regrade | None = None
    written: dict[str, list[WrittenGrade]] | None = None  # merged written grades; None: none merged

    @property
    def folder(self) -> Path:
        return self.grades / REPORT


def build(
    grades: Path,
    submissions: Path | None = None,
    roster: Path | None = None,
    threshold: float = similarity.THRESHOLD.default,
    pages: int = similarity.PAGES.default,
    progress: bool = True,
) -> ClassReport:
    """Reads the grades, runs the similarity pass (with submissions) and the Canvas export (with a roster)."""
    results = read_results(grades)
    stats = [s for s in (assignment_stats(a, results) for a in course.ASSIGNMENTS) if s]
    report = ClassReport(grades, results, read_batch(grades), stats, threshold)
    report.written = read_written_grades(grades) or None
    report.folder.mkdir(parents=True, exist_ok=True)
    if submissions is not None:
        report.similarity = similarity.similarity(submissions, report.folder, threshold, pages, progress)
    if roster is not None:
        graded = [s.assignment for s in stats]
        report.canvas = canvas.write_canvas(
            report.folder / "canvas.csv", results, canvas.read_roster(roster), graded, report.written
        )
    report.regrade = regrade.diff(grades, results)
    if report.regrade is not None:
        regrade.write_csv(report.folder / "regrade.csv", report.regrade)
    return report


def write(report: ClassReport) -> Path:
    """index.html and summary.md in the report folder, both written from one document; the page's path."""
    document = build_document(report)
    (report.folder / "summary.md").write_text(summary.markdown(document))
    path = report.folder / "index.html"
    path.write_text(page.html(document))
    return path
