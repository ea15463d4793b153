"""Notebooks: valid nbformat, committed without outputs, well-formed graded cells."""

import nbformat
import pytest

from utils.course import ASSIGNMENTS, REPO_ROOT, by_notebook
from utils.graded_cells import GRADED_HEADER, code_cells, headers

NOTEBOOKS = sorted((REPO_ROOT / "assignments").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_valid_and_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"outputs committed in {path.name}"


def test_every_notebook_belongs_to_an_assignment_of_the_course():
    assert {REPO_ROOT / a.notebook for a in ASSIGNMENTS} == set(NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_graded_headers_agree_with_the_registry(path):
    notebook, assignment = nbformat.read(path, as_version=4), by_notebook(path)
    first_lines = [c.source.lstrip().split("\n", 1)[0] for c in code_cells(notebook)]
    mentions = [line for line in first_lines if "GRADED" in line]
    assert all(GRADED_HEADER.fullmatch(line) for line in mentions), (
        "a cell mentions GRADED but does not parse"
    )
    assert mentions == [q.header for q in assignment.questions], "headers and utils/course.py disagree"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_graded_cell_calls_its_registered_check(path):
    notebook, assignment = nbformat.read(path, as_version=4), by_notebook(path)
    cells = code_cells(notebook)
    for question_id, (_, cell_num) in headers(notebook).items():
        check = assignment.question(question_id).check
        assert f"{check}(" in cells[cell_num].source, f"{question_id}'s cell does not call {check}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_parameters_cell_and_no_solution_imports(path):
    notebook = nbformat.read(path, as_version=4)
    assert any("parameters" in c.metadata.get("tags", []) for c in notebook.cells)
    assert not any("solutions" in c.source for c in notebook.cells if c.cell_type == "code")
