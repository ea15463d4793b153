"""Similarity between the submitted modules of each topic, and between each and the reference solution.

copydetect fingerprints each module (tokens with names and strings masked, every k-gram hashed), with the
released stub as boilerplate, so the given code never counts. A pair's score is copydetect's: the share
of a module's fingerprinted tokens that the other module also has, the larger of the two shares (a
short module copied whole from a longer one still scores 1). copydetect compares a pair in Python at about
2 ms; `score` computes the same number with numpy (tests/test_report.py checks they agree), so that the
N(N - 1)/2 pairs of a large class stay affordable. The highest flagged pairs also get copydetect's side-by-side
page (as in copydetect's own report, a page loads Bootstrap's CSS from a CDN; offline it shows unstyled).
"""

from __future__ import annotations

import csv
import io
import itertools
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from copydetect import CodeFingerprint, CopyDetector
from copydetect import defaults as copydetect_defaults
from tqdm import tqdm

from tools.build.stubs import make_stub
from tools.grade.submissions import find_submissions, read_modules
from tools.grade.workspace import reference_source
from utils import course
from utils.settings import Setting

K = copydetect_defaults.NOISE_THRESHOLD  # k-gram length, in filtered characters
REFERENCE = "(reference solution)"  # the name the reference goes by in a pair
THRESHOLD = Setting(
    "--threshold",
    0.7,
    "similarity score from which a pair is listed (how it was chosen: README, Class report)",
)

PAGES = Setting("--pages", 10, "side-by-side pages written per topic, for its highest-scoring pairs")


@dataclass(frozen=True)
class Fingerprint:
    """One module's copydetect fingerprints as arrays: each fingerprinted position with its hash."""

    positions: np.ndarray  # sorted
    hashes: np.ndarray  # the hash at each position
    unique: np.ndarray  # sorted distinct hashes
    coverage: float  # copydetect's token coverage: the tokens its fingerprints cover

    @classmethod
    def of(cls, name: str, source: str, boilerplate: np.ndarray) -> Fingerprint:
        code = CodeFingerprint(name, K, 1, boilerplate, language="python", fp=io.StringIO(source))
        pairs = sorted((i, h) for h, where in code.hash_idx.items() for i in where)
        positions = np.array([i for i, _ in pairs], dtype=np.int64)
        hashes = np.array([h for _, h in pairs], dtype=np.int64)
        return cls(positions, hashes, np.unique(hashes), float(code.token_coverage))


def boilerplate_hashes(source: str) -> np.ndarray:
    """The fingerprints of the given code (copydetect's boilerplate: every k-gram)."""
    return np.array(
        sorted(CodeFingerprint("stub.py", K, 1, language="python", fp=io.StringIO(source)).hashes)
    )


def _share(a: Fingerprint, b: Fingerprint) -> float:
    """The share of a's fingerprinted tokens that b has: the union of the k-grams at a's positions whose
    hash b holds, over a's coverage (copydetect's get_copied_slices and compare_files, vectorized)."""
    if not len(a.positions) or not len(b.unique):
        return 0.0
    found = np.searchsorted(b.unique, a.hashes).clip(max=len(b.unique) - 1)
    shared = a.positions[b.unique[found] == a.hashes]
    if not len(shared):
        return 0.0
    return float(K + np.minimum(np.diff(shared), K).sum()) / a.coverage


def score(a: Fingerprint, b: Fingerprint) -> float:
    return max(_share(a, b), _share(b, a))


@dataclass(frozen=True)
class Pair:
    topic: str
    first: str
    second: str  # a student, or REFERENCE
    score: float


@dataclass
class TopicSimilarity:
    topic: str
    students: int
    flagged: list[Pair]  # at or above the threshold, highest first
    table: str = ""  # every flagged pair as CSV, from the report folder
    pages: dict[tuple[str, str], str] = field(default_factory=dict)  # copydetect's page of a top pair

    def groups(self) -> list[list[str]]:
        """The flagged pairs' connected groups (students who share code, with the reference when it is one
        of them), the largest first."""
        parent: dict[str, str] = {}

        def root(name: str) -> str:
            while parent.setdefault(name, name) != name:
                name = parent[name]
            return name

        for pair in self.flagged:
            parent[root(pair.first)] = root(pair.second)
        members: dict[str, list[str]] = {}
        for name in sorted(parent):
            members.setdefault(root(name), []).append(name)
        return sorted(members.values(), key=lambda m: (-len(m), m))


def submitted_modules(submissions: Path) -> dict[str, dict[str, str]]:
    """{topic: {student: source}} of every submission's modules."""
    modules: dict[str, dict[str, str]] = {t: {} for t in course.topics()}
    for student, path in find_submissions(submissions).items():
        for topic, source in read_modules(path, course.topics()).items():
            modules[topic][student] = source
    return modules


def _stub(topic: str) -> str:
    return make_stub(reference_source(topic), course.by_topic(topic).student_module)


def topic_pairs(topic: str, sources: dict[str, str], threshold: float, progress: bool = True) -> list[Pair]:
    """Every pair of submissions, and each submission with the reference, scoring at least threshold."""
    boilerplate = boilerplate_hashes(_stub(topic))
    names = sorted(sources)
    bar = tqdm(total=len(names) * (len(names) + 3) // 2, desc=f"similarity {topic}", disable=not progress)
    prints = {}
    for name in names:
        prints[name] = Fingerprint.of(f"{name}.py", sources[name], boilerplate)
        bar.update()
    prints[REFERENCE] = Fingerprint.of("reference.py", reference_source(topic), boilerplate)
    flagged = []
    for first, second in itertools.chain(itertools.combinations(names, 2), ((n, REFERENCE) for n in names)):
        value = score(prints[first], prints[second])
        if value >= threshold:
            flagged.append(Pair(topic, first, second, value))
        bar.update()
    bar.close()
    return sorted(flagged, key=lambda p: (-p.score, p.first, p.second))


def side_by_side(topic: str, first: tuple[str, str], second: tuple[str, str]) -> str:
    """copydetect's HTML page of two modules, (name, source) each, matched code highlighted side by side."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "stub").mkdir()
        (root / "stub" / f"{topic}.py").write_text(_stub(topic))
        detector = CopyDetector(
            extensions=["py"],
            boilerplate_dirs=[str(root / "stub")],
            noise_t=K,
            guarantee_t=K,
            display_t=0.0,  # the pair was flagged already: always show it
            autoopen=False,
            silent=True,
            force_language="python",
        )
        for name, source in (first, second):
            path = root / "modules" / name / f"{topic}.py"
            path.parent.mkdir(parents=True)
            path.write_text(source)
            detector.add_file(str(path))
        detector.run()
        return detector.generate_html_report(output_mode="return").replace(f"{root}/modules/", "")


def _write_table(path: Path, pairs: list[Pair]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["first", "second", "score"])
        writer.writerows([p.first, p.second, f"{p.score:.4f}"] for p in pairs)


def similarity(
    submissions: Path,
    report_dir: Path,
    threshold: float = THRESHOLD.default,
    pages: int = PAGES.default,
    progress: bool = True,
) -> list[TopicSimilarity]:
    """Each topic's flagged pairs, written to report_dir/similarity/<topic>.csv, and copydetect's pages of
    the top pages pairs in report_dir/similarity/<topic>/."""
    found = []
    for topic, sources in submitted_modules(submissions).items():
        if not sources:
            continue
        pairs = topic_pairs(topic, sources, threshold, progress)
        result = TopicSimilarity(topic, len(sources), pairs)
        table = report_dir / "similarity" / f"{topic}.csv"
        _write_table(table, pairs)
        result.table = table.relative_to(report_dir).as_posix()
        named = {**sources, REFERENCE: reference_source(topic)}
        for i, pair in enumerate(pairs[:pages], start=1):
            page = report_dir / "similarity" / topic / f"pair-{i:03d}.html"
            page.parent.mkdir(parents=True, exist_ok=True)
            html = side_by_side(topic, (pair.first, named[pair.first]), (pair.second, named[pair.second]))
            page.write_text(html)
            result.pages[(pair.first, pair.second)] = page.relative_to(report_dir).as_posix()
        found.append(result)
    return found
