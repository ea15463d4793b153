"""The class report on a generated class (tests/report_class.py): its time for 50 and 500 students, how the
similarity pass grows with the class, and the similarity scores the threshold was chosen from.

    python -m benchmarks.report --write

The report's time is measured in two parts: everything but similarity (statistics, plots, page, summary,
regrade diff), and the similarity pass (fingerprints, every pair, the side-by-side pages). The generated
students beyond the first few are mutants, near-copies of the reference, so nearly every pair is flagged:
the pass pays for its pages in full, as a class with many copies would.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from pathlib import Path

import numpy as np

import benchmarks.common as common
from tests import report_class
from tools.report import report as class_report
from tools.report import similarity
from utils import course

REPORT_SIZES = (50, 500)
SIMILARITY_SIZES = (50, 100, 200, 500)


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def report_seconds(size: int, root: Path) -> dict:
    """Seconds of the report without similarity, and of the similarity pass, for a class of size."""
    grades, submissions = root / f"grades{size}", root / f"submissions{size}"
    report_class.write_grades(grades, size)
    report_class.write_submissions(submissions, size)
    rest = _timed(lambda: class_report.write(class_report.build(grades, progress=False)))
    pass_ = _timed(lambda: similarity.similarity(submissions, grades / "report", progress=False))
    return {"students": size, "report_seconds": rest, "similarity_seconds": pass_}


def similarity_growth(root: Path, measured: dict[int, float]) -> dict:
    """The similarity pass's seconds at each size (reusing those measured), and the least-squares fit
    seconds = c + a N + b N^2: c for the side-by-side pages (a fixed number), a per student (its four
    modules' fingerprints), and b / 2 per pair and topic (four topics of about N^2 / 2 pairs)."""
    seconds = {}
    for size in SIMILARITY_SIZES:
        if size not in measured:
            submissions = root / f"growth{size}"
            report_class.write_submissions(submissions, size)
            measured[size] = _timed(
                lambda: similarity.similarity(submissions, root / "pages", progress=False)
            )
        seconds[size] = measured[size]
    sizes = np.array(SIMILARITY_SIZES, dtype=float)
    (fixed, per_student, quadratic), *_ = np.linalg.lstsq(
        np.stack([np.ones_like(sizes), sizes, sizes**2], axis=1),
        np.array([seconds[s] for s in SIMILARITY_SIZES]),
        rcond=None,
    )
    return {
        "seconds": seconds,
        "fixed_seconds": fixed,
        "per_student_seconds": per_student,
        "per_pair_seconds": quadratic / 2,
    }


def threshold_evidence() -> dict:
    """Per topic: the scores of the copied pairs, and the highest between independent solutions (the
    alternative and its copies against the reference, the copies of the reference and the mutants)."""
    alternative, reference = report_class.FAMILIES
    evidence = {}
    for a in course.ASSIGNMENTS:
        sources = report_class.sources(a.topic)
        pairs = similarity.topic_pairs(a.topic, sources, threshold=0.0, progress=False)
        score = {frozenset((p.first, p.second)): p.score for p in pairs}

        def of(first: str, second: str) -> float:
            return score.get(frozenset((first, second)), 0.0)

        other_side = reference | {similarity.REFERENCE} | {k for k in sources if k.startswith("mutant_")}
        independent = [(of(x, y), x, y) for x, y in itertools.product(alternative, other_side)]
        highest = max(independent)
        evidence[a.topic] = {
            "copy_a ~ copy_b": of("copy_a", "copy_b"),
            "alternative ~ copy_a": of("alternative", "copy_a"),
            "uncommented ~ reference solution": of("uncommented", similarity.REFERENCE),
            "highest independent": highest[0],
            "highest independent pair": f"{highest[1]} ~ {highest[2]}",
        }
    return evidence


def measure() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        reports = [report_seconds(size, root) for size in REPORT_SIZES]
        growth = similarity_growth(root, {r["students"]: r["similarity_seconds"] for r in reports})
    return {
        "threshold": similarity.THRESHOLD.default,
        "reports": reports,
        "similarity_growth": growth,
        "scores": threshold_evidence(),
    }


def as_markdown(results: dict) -> str:
    lines = [
        f"Measured {results['date']} on {results['machine']}.",
        "",
        "| students | report without similarity (s) | similarity pass (s) | total (s) |",
        "|---|---|---|---|",
    ]
    for r in results["reports"]:
        total = r["report_seconds"] + r["similarity_seconds"]
        lines.append(
            f"| {r['students']} | {r['report_seconds']:.1f} | {r['similarity_seconds']:.1f} | {total:.1f} |"
        )
    growth = results["similarity_growth"]
    sizes = ", ".join(f"{n}: {s:.0f} s" for n, s in growth["seconds"].items())
    lines += [
        "",
        f"Similarity pass by class size: {sizes}. Least-squares fit: {growth['fixed_seconds']:.0f} s (the "
        f"side-by-side pages) + {growth['per_student_seconds']:.2f} s per student (fingerprinting four modules) + "
        f"{1e6 * growth['per_pair_seconds']:.0f} us per pair and topic (about N^2 / 2 pairs a topic).",
        "",
        f"Scores (threshold {results['threshold']:g}):",
        "",
        "| topic | copy_a ~ copy_b | alternative ~ copy_a | uncommented ~ reference | highest independent |",
        "|---|---|---|---|---|",
    ]
    for topic, s in results["scores"].items():
        lines.append(
            f"| {topic} | {s['copy_a ~ copy_b']:.3f} | {s['alternative ~ copy_a']:.3f} | "
            f"{s['uncommented ~ reference solution']:.3f} | {s['highest independent']:.3f} "
            f"({s['highest independent pair']}) |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    common.run(
        "report",
        "The class report on a generated class: time, growth, similarity scores.",
        measure,
        as_markdown,
    )
