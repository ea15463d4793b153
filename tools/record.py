"""Public checks without oracle code: record the oracles' results on the reference, and rewrite the
check modules so that their oracles replay them (see utils/checks/recorded.py).

Recording runs the graded cells of every self-contained question (utils/course.py), exactly as the
notebook writes them and in its order, with the reference module in place of the student's, and keeps
every oracle call.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import io
import sys
from pathlib import Path

import nbformat
import torch

from utils import course
from utils.checks import recorded
from utils.course import REPO_ROOT, Assignment
from utils.graded_cells import code_cells, headers


def check_cells(assignment: Assignment, root: Path = REPO_ROOT) -> list[str]:
    """The sources of the graded cells of the assignment's self-contained questions, in notebook order."""
    notebook = nbformat.read(root / assignment.notebook, as_version=4)
    cells, found = code_cells(notebook), headers(notebook)
    wanted = {q.id for q in assignment.questions if q.self_contained}
    return [cells[cell_num].source for question_id, (_, cell_num) in found.items() if question_id in wanted]


@contextlib.contextmanager
def reference_as_student_module(topic: str):
    """utils.<topic> resolves to solutions.<topic> inside the block."""
    name = f"utils.{topic}"
    saved = sys.modules.get(name)
    sys.modules[name] = importlib.import_module(f"solutions.{topic}")
    try:
        yield sys.modules[name]
    finally:
        if saved is None:
            del sys.modules[name]
        else:
            sys.modules[name] = saved


def record(assignment: Assignment, root: Path = REPO_ROOT) -> list[dict]:
    """Every oracle call the notebook's checks make on the reference solution of the assignment. The cells
    share one namespace, as in a kernel, so a cell may use a check an earlier cell imported."""
    name = Path(assignment.notebook).name
    with reference_as_student_module(assignment.topic) as module, recorded.recording() as calls:
        namespace = dict(vars(module))
        for source in check_cells(assignment, root):
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(source, f"<{name} graded cell>", "exec"), namespace)  # noqa: S102
    return calls


def save_recording(calls: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(calls, path)


def _is_oracle(node: ast.AST) -> bool:
    return isinstance(node, ast.FunctionDef) and any(
        isinstance(d, ast.Name) and d.id == "oracle" for d in node.decorator_list
    )


def oracle_functions(tree: ast.Module) -> list[ast.FunctionDef]:
    """The module's @oracle functions; they must sit at module level, where replay finds them by name."""
    top_level = [node for node in tree.body if _is_oracle(node)]
    nested = [node for node in ast.walk(tree) if _is_oracle(node) and node not in top_level]
    if nested:
        raise ValueError(f"line {nested[0].lineno}: an @oracle function must be defined at module level")
    return top_level


def replay_source(source: str, topic: str) -> str:
    """The check module with every @oracle body removed and its decorator turned into @replayed."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    edits = []  # (first line, last line, replacement lines), 1-based and inclusive

    def replace_name(node: ast.AST, old: str, new: str) -> None:
        line = lines[node.lineno - 1]
        start = line.index(old, node.col_offset)
        edits.append((node.lineno, node.lineno, [line[:start] + new + line[start + len(old) :]]))

    docstring = tree.body[0] if tree.body and isinstance(tree.body[0], ast.Expr) else None
    if docstring is not None and isinstance(docstring.value, ast.Constant):
        title = docstring.value.value.strip().splitlines()[0]
        edits.append(
            (
                docstring.lineno,
                docstring.end_lineno,
                [
                    f'"""{title}\n\nExpected values are the reference\'s, recorded in utils/checks/expected/{topic}.pt:\n'
                    'each oracle below replays the recorded result of the call with the same inputs.\n"""\n'
                ],
            )
        )
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == recorded.__name__:
            if [a.name for a in node.names] != ["oracle"]:
                raise ValueError(f"line {node.lineno}: import only `oracle` from {recorded.__name__}")
            replace_name(node, "oracle", "replayed")
    for function in oracle_functions(tree):
        decorator = next(d for d in function.decorator_list if isinstance(d, ast.Name) and d.id == "oracle")
        replace_name(decorator, "oracle", "replayed")
        first = function.body[0]
        if first.lineno == function.lineno:
            raise ValueError(f"line {function.lineno}: write {function.name}'s body on its own lines")
        indent = " " * first.col_offset
        edits.append((first.lineno, function.end_lineno, [f"{indent}...\n"]))
    for start, end, replacement in sorted(edits, reverse=True):
        lines[start - 1 : end] = replacement
    return "".join(lines)


def check_modules(root: Path = REPO_ROOT) -> list[Path]:
    """The checks module of every assignment of the course."""
    return [root / a.checks_module for a in course.ASSIGNMENTS]
