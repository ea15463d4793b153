"""Grades the reference solutions: the autograder in a temporary copy of the repository whose student
modules are the solutions, exactly as a student's finished work would sit.

    python -m tools.grade.reference                                   # every notebook of the course
    python -m tools.grade.reference assignments/01_linear_classifiers.ipynb
"""

from __future__ import annotations

import sys

from tools.grade.workspace import workspace
from utils import autograde


def main(argv: list[str] | None = None) -> int:
    parser = autograde.build_parser(__doc__.splitlines()[0])
    args = parser.parse_args(argv)
    with workspace() as root:
        return autograde.run(parser, args, root)


if __name__ == "__main__":
    sys.exit(main())
