"""Notebooks: valid nbformat, committed without outputs, well-formed graded cells."""

from pathlib import Path

import nbformat
import pytest

from utils.autograde import GRADED_HEADER, graded_questions

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "assignments").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_valid_and_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"outputs committed in {path.name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_graded_cells_are_well_formed(path):
    notebook = nbformat.read(path, as_version=4)
    questions = graded_questions(notebook)
    assert questions and all(q.points > 0 for q in questions)
    headers = [
        c.source for c in notebook.cells if c.cell_type == "code" and "GRADED" in c.source.split("\n", 1)[0]
    ]
    assert len(headers) == len(questions), "a cell mentions GRADED on its first line but does not parse"
    assert all(GRADED_HEADER.match(h) for h in headers)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_parameters_cell_and_no_solution_imports(path):
    notebook = nbformat.read(path, as_version=4)
    assert any("parameters" in c.metadata.get("tags", []) for c in notebook.cells)
    assert not any("solutions" in c.source for c in notebook.cells if c.cell_type == "code")
