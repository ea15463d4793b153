"""Reading what tools.grade wrote: the students' results and the batch record."""

from __future__ import annotations

import json
from pathlib import Path

from tools.grade.outputs import BATCH, result_paths
from utils.results import SubmissionResult


def read_results(folder: Path) -> dict[str, SubmissionResult]:
    """{student: result} of every <student>.json in a grades folder (or a history snapshot)."""
    results = (SubmissionResult.from_json(json.loads(p.read_text())) for p in result_paths(folder))
    return {r.student: r for r in results}


def read_batch(folder: Path) -> dict:
    """The batch record ({"started", "isolated", "isolation"}), or {} when the grader wrote none."""
    path = folder / BATCH
    return json.loads(path.read_text()) if path.is_file() else {}
