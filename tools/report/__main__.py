"""`python -m tools.report GRADES_DIR [--submissions DIR] [--roster ROSTER.csv]`: the class report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tools.report import report as class_report
from tools.report.canvas import RosterError
from tools.report.similarity import PAGES, THRESHOLD


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.report", description="A class report from what tools.grade wrote."
    )
    parser.add_argument("grades", type=Path, help="the folder tools.grade wrote (--out)")
    parser.add_argument(
        "--submissions", type=Path, help="the submissions folder: compare the modules for similarity"
    )
    parser.add_argument("--roster", type=Path, help="a CSV with columns student, sis_id: write canvas.csv")
    THRESHOLD.add_to(parser)
    PAGES.add_to(parser)
    args = parser.parse_args(argv)
    if not (args.grades / "grades.csv").is_file():
        parser.error(f"{args.grades} holds no grades.csv: grade a class with tools.grade first")
    if args.submissions is not None and not args.submissions.is_dir():
        parser.error(f"no folder of submissions at {args.submissions}")
    if args.roster is not None and not args.roster.is_file():
        parser.error(f"no roster at {args.roster}")
    try:
        report = class_report.build(args.grades, args.submissions, args.roster, args.threshold, args.pages)
    except RosterError as error:
        parser.error(str(error))
    page = class_report.write(report)
    if report.canvas is not None:
        for student in report.canvas.not_on_roster:
            print(f"not on the roster (left out of canvas.csv): {student}", file=sys.stderr)
        for student in report.canvas.not_graded:
            print(f"on the roster, no grades (empty in canvas.csv): {student}", file=sys.stderr)
    print(f"report in {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
