"""Pins what the autograder reports on every case of tests/autograde_cases.py (the references, the stubs, the
correct variants, the mutants graded through the notebook, the broken modules), for
tests/test_autograde.py::test_every_report_is_what_it_was_pinned to compare with:

    python -m tests.pin_autograder_reports      # grades every case (minutes), writes PINNED

Run it only when a report is meant to change (a reworded message, a new question), and read the diff.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path

from tests.autograde_cases import grade_all
from tools.teeth import material

PINNED = Path(__file__).with_name("fixtures") / "autograder_reports.json"


def pinned_form(report: dict) -> dict:
    """A report as pinned: line numbers of student modules masked (formatting the solutions moves them)."""

    def masked(text):
        return re.sub(r"line \d+", "line N", text) if text else None

    return {
        "notebook": report["notebook"],
        "max": report["max"],
        "earned": report["earned"],
        "cause": masked(report.get("cause")),
        "questions": [
            [q["id"], q["points"], q["earned"], q["status"], masked(q["message"]) or ""]
            for q in report["questions"]
        ],
    }


def measured_masked(pinned: dict, topic: str) -> dict:
    """The pinned form with the measured numbers masked in the messages of the questions a quick run fails
    by design (QUICK_CASUALTIES): a shortened training's accuracy can move by one test sample between runs
    on one thread; their status and points still count."""
    casualties = material(topic).QUICK_CASUALTIES
    return {
        **pinned,
        "questions": [
            [*q[:4], re.sub(r"\d+\.\d+", "X", q[4]) if q[0] in casualties else q[4]]
            for q in pinned["questions"]
        ],
    }


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        graded = grade_all(lambda key: Path(tmp) / key.replace("/", "-"))
    reports = {key: pinned_form(report) for key, (report, _) in graded.items()}
    PINNED.write_text(json.dumps(reports, indent=1) + "\n")
    print(f"pinned {len(reports)} reports in {PINNED}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
