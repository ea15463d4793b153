"""The class report on a generated class (benchmarks/generated_class.py): its time for 50 and 500 students, how the
similarity pass grows with the class, and the similarity scores the threshold was chosen from.

    python -m benchmarks.report --write

The report is timed whole (with --submissions), and the similarity pass without its side-by-side pages at
several sizes, to see how it grows. The generated students beyond the first few are mutants, near-copies
of the reference, so nearly every pair is flagged: the report writes all its pages, as for a class with
many copies.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from pathlib import Path

import numpy as np

import benchmarks.common as common
from tools.report import report as class_report
from tools.report import similarity
from tools.teeth import generated_class
from utils import course

REPORT_SIZES = (50, 500)
SIMILARITY_SIZES = (50, 100, 200, 500)


def _timed(fn) -> dict:
    """Wall-clock and CPU seconds of fn(): the machine is shared, so CPU time is the steadier figure."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}


def _class(root: Path, size: int) -> tuple[Path, Path]:
    grades, submissions = root / f"grades{size}", root / f"submissions{size}"
    generated_class.write_grades(grades, size)
    generated_class.write_submissions(submissions, size)
    return grades, submissions


def report_seconds(root: Path, size: int) -> dict:
    """The whole report for a class of size: what `python -m tools.report GRADES --submissions DIR` does."""
    grades, submissions = _class(root, size)
    seconds = _timed(lambda: class_report.write(class_report.build(grades, submissions, progress=False)))
    return {"students": size, **seconds}


def similarity_growth(root: Path) -> dict:
    """The similarity pass without its pages (fingerprints and pairs) at each size, and the least-squares
    fit of its CPU seconds = a N + b N^2: a per student (its four modules' fingerprints), and b / 2 per
    pair and topic (four topics of about N^2 / 2 pairs)."""
    seconds = {}
    for size in SIMILARITY_SIZES:
        submissions = root / f"submissions{size}"
        if not submissions.exists():
            generated_class.write_submissions(submissions, size)
        seconds[size] = _timed(
            lambda: similarity.similarity(submissions, root / "pages", pages=0, progress=False)
        )
    sizes = np.array(SIMILARITY_SIZES, dtype=float)
    (per_student, quadratic), *_ = np.linalg.lstsq(
        np.stack([sizes, sizes**2], axis=1),
        np.array([seconds[n]["cpu"] for n in SIMILARITY_SIZES]),
        rcond=None,
    )
    return {"seconds": seconds, "per_student_seconds": per_student, "per_pair_seconds": quadratic / 2}


def page_seconds() -> dict:
    """One side-by-side page (copydetect fingerprints the pair and the stub, and draws two plots)."""
    sources = generated_class.sources(course.ASSIGNMENTS[0].topic)
    pair = (("copy_a", sources["copy_a"]), ("copy_b", sources["copy_b"]))
    return _timed(lambda: similarity.side_by_side(course.ASSIGNMENTS[0].topic, *pair))


def threshold_evidence() -> dict:
    """Per topic: the scores of the copied pairs, and the highest between independent solutions (the
    alternative and its copies against the reference, the copies of the reference and the mutants)."""
    alternative, reference = generated_class.FAMILIES
    evidence = {}
    for a in course.ASSIGNMENTS:
        sources = generated_class.sources(a.topic)
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
        reports = [report_seconds(root, size) for size in REPORT_SIZES]
        growth = similarity_growth(root)
    return {
        "threshold": similarity.THRESHOLD.default,
        "pages_per_topic": similarity.PAGES.default,
        "reports": reports,
        "similarity_growth": growth,
        "page_seconds": page_seconds(),
        "scores": threshold_evidence(),
    }


def as_markdown(results: dict) -> str:
    lines = [
        f"Measured {results['date']} on {results['machine']} (shared: wall-clock times vary; CPU times are steadier).",
        "",
        "| students | report, CPU (s) | report, wall clock (s) |",
        "|---|---|---|",
    ]
    lines += [f"| {r['students']} | {r['cpu']:.1f} | {r['wall']:.1f} |" for r in results["reports"]]
    growth, page = results["similarity_growth"], results["page_seconds"]
    sizes = ", ".join(f"{n}: {s['cpu']:.0f} s" for n, s in growth["seconds"].items())
    lines += [
        "",
        f"The report includes {results['pages_per_topic']} side-by-side pages a topic at {page['cpu']:.2f} s CPU "
        f"each. The similarity pass without them, CPU seconds by class size: {sizes}; least-squares fit "
        f"{growth['per_student_seconds']:.3f} s per student (fingerprinting four modules) + "
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
