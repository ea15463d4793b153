"""Where a notebook's graded questions are: cells whose first line is `# GRADED: <id> (<points> pts)`."""

from __future__ import annotations

import re
from dataclasses import dataclass

import nbformat

from utils.course import Assignment, Part

GRADED_HEADER = re.compile(r"#\s*GRADED:\s*(?P<id>[A-Za-z_]\w*)\s*\(\s*(?P<points>\d+(?:\.\d+)?)\s*pts?\s*\)")
UTILS_IMPORT = re.compile(r"^\s*(?:from|import)\s+utils\.(\w+)", re.MULTILINE)


@dataclass(frozen=True)
class GradedCell:
    id: str
    points: float
    cell_num: int | None  # index among the notebook's code cells, as nbval counts them; None: no such cell
    timeout: float | None = None  # seconds; None: the default
    parts: tuple[Part, ...] = ()  # the registry's: graded part by part


def code_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def headers(notebook: nbformat.NotebookNode) -> dict[str, tuple[float, int]]:
    """{question id: (points in its header, its code cell's index)}, in the notebook's order."""
    found = {}
    for cell_num, cell in enumerate(code_cells(notebook)):
        match = GRADED_HEADER.match(cell.source.lstrip().split("\n", 1)[0])
        if match:
            if match["id"] in found:
                raise ValueError(f"question id {match['id']!r} appears twice")
            found[match["id"]] = (float(match["points"]), cell_num)
    return found


def graded_cells(notebook: nbformat.NotebookNode, assignment: Assignment | None) -> list[GradedCell]:
    """The questions to grade and their cells. For a course notebook they are the registry's, with its
    points and time limits, found in the notebook by id; any other notebook is graded by its headers."""
    found = headers(notebook)
    if assignment is None:
        return [
            GradedCell(question_id, points, cell_num) for question_id, (points, cell_num) in found.items()
        ]
    return [
        GradedCell(q.id, q.points, found[q.id][1] if q.id in found else None, q.timeout, q.parts)
        for q in assignment.questions
    ]


def imported_utils_modules(notebook: nbformat.NotebookNode) -> list[str]:
    """The utils modules the notebook's code cells import."""
    return sorted({m for cell in code_cells(notebook) for m in UTILS_IMPORT.findall(cell.source)})


def import_cells(notebook: nbformat.NotebookNode) -> list[int]:
    """The indexes of the code cells that import utils modules."""
    return [i for i, cell in enumerate(code_cells(notebook)) if UTILS_IMPORT.search(cell.source)]
