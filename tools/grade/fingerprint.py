"""What makes two grades comparable: the repository that graded them and the submission graded.

A task carries the grader's repository fingerprint; a worker whose own repository differs refuses it, and
a result is reused on a rerun only when both its fingerprint and its submission's hash still match."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from utils.course import REPO_ROOT
from utils.results import WrittenAnswers

# Everything a grade depends on, and nothing else: the reference, the stubs and public checks, the notebooks,
# the grader with its hidden cases, and the packages' ranges. The report, the build, the teeth, the benchmarks
# and the tests decide no grade, so editing them regrades no one.
GRADED_FILES = (
    "solutions/*.py",
    "utils/**/*.py",
    "assignments/*.ipynb",
    "tools/grade/**/*.py",
    "requirements.txt",
)


@functools.cache
def repository_fingerprint(root: Path = REPO_ROOT) -> str:
    """A short hash of the contents of every file of GRADED_FILES under root, with their paths."""
    digest = hashlib.sha256()
    paths = sorted({p for pattern in GRADED_FILES for p in root.glob(pattern) if p.is_file()})
    for path in paths:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def submission_hash(
    modules: Mapping[str, str], note: str = "", written: Sequence[WrittenAnswers] = ()
) -> str:
    """A short hash of a submission's module sources (and why it could not be read, if it could not) and of
    the written answers read from its notebooks, when there are any: a rerun reads edited answers again."""
    data = {"modules": dict(sorted(modules.items())), "note": note}
    if written:
        data["written"] = [w.to_json() for w in written]
    text = json.dumps(data, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
