"""The graded cells of self-contained questions, run in this process against any student module.

Such a cell builds its own inputs (utils/course.py: Question.self_contained), so it runs outside the
notebook exactly as the notebook writes it. The release records the reference's oracle calls this way,
and the teeth tests grade every mutant this way in a fraction of a notebook run.
"""

from __future__ import annotations

import contextlib
import io
import sys
import types
from collections.abc import Collection, Iterator
from pathlib import Path

import nbformat

from utils.cell_runner import CellOutcome
from utils.course import REPO_ROOT, Assignment
from utils.graded_cells import code_cells, headers
from utils.grading import collecting_parts
from utils.results import status_of_exception


def check_cells(assignment: Assignment, root: Path = REPO_ROOT) -> dict[str, str]:
    """{question id: its graded cell's source} of the self-contained questions, in notebook order."""
    notebook = nbformat.read(root / assignment.notebook, as_version=4)
    cells, wanted = code_cells(notebook), {q.id for q in assignment.questions if q.self_contained}
    return {qid: cells[cell_num].source for qid, (_, cell_num) in headers(notebook).items() if qid in wanted}


def module_from_source(topic: str, source: str) -> types.ModuleType:
    """A student module utils.<topic> made from source (not registered in sys.modules)."""
    module = types.ModuleType(f"utils.{topic}")
    module.__file__ = str(REPO_ROOT / "utils" / f"{topic}.py")
    exec(compile(source, module.__file__, "exec"), module.__dict__)  # noqa: S102
    return module


@contextlib.contextmanager
def as_student_module(topic: str, module: types.ModuleType) -> Iterator[types.ModuleType]:
    """utils.<topic> resolves to module inside the block."""
    name = f"utils.{topic}"
    saved = sys.modules.get(name)
    sys.modules[name] = module
    try:
        yield module
    finally:
        if saved is None:
            del sys.modules[name]
        else:
            sys.modules[name] = saved


def run_check_cells(
    assignment: Assignment,
    module: types.ModuleType,
    root: Path = REPO_ROOT,
    questions: Collection[str] | None = None,
) -> dict[str, CellOutcome]:
    """Each self-contained question's outcome (of those in questions, default all) with module as the
    student's. The cells share one namespace, as in a kernel, so a cell may use a check an earlier cell
    imported."""
    outcomes = {}
    with as_student_module(assignment.topic, module):
        namespace = dict(vars(module))
        for question_id, source in check_cells(assignment, root).items():
            if questions is not None and question_id not in questions:
                continue
            with collecting_parts() as bundles:
                outcomes[question_id] = _run_cell(question_id, source, namespace)
            outcomes[question_id].parts = bundles[-1] if bundles else None
    return outcomes


def _run_cell(question_id: str, source: str, namespace: dict) -> CellOutcome:
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(source, f"<{question_id} graded cell>", "exec"), namespace)  # noqa: S102
    except Exception as error:
        return CellOutcome(*status_of_exception(error))
    return CellOutcome(*status_of_exception(None))
