"""Public checks without oracle code: record the oracles' results on the reference, and rewrite the
check modules so that their oracles replay them (see utils/checks/recorded.py).

Recording runs the graded cells of every self-contained question (tools/build/self_contained.py) with the
reference module in place of the student's, and keeps every oracle call.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import torch

from tools.build.self_contained import run_check_cells
from utils import course
from utils.checks import recorded
from utils.course import REPO_ROOT, Assignment
from utils.results import Status


def record(assignment: Assignment, root: Path = REPO_ROOT) -> list[dict]:
    """Every oracle call the self-contained questions' checks make on the reference solution."""
    reference = importlib.import_module(f"solutions.{assignment.topic}")
    with recorded.recording() as calls:
        outcomes = run_check_cells(assignment, reference, root)
    failing = {q: o.message for q, o in outcomes.items() if o.status is not Status.PASSED}
    if failing:
        raise RuntimeError(f"the reference fails its own checks, nothing recorded: {failing}")
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
                    f'"""{title}\n\nExpected values are the reference\'s, '
                    f"recorded in utils/checks/expected/{topic}.pt:\n"
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
