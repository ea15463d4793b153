"""Generates the student stubs utils/<topic>.py from the reference modules solutions/<topic>.py.

Each region between `### BEGIN SOLUTION` and `### END SOLUTION` becomes a TODO comment and a
`raise NotImplementedError("<function>: ...")` at the region's indentation (nbgrader's convention).

    python -m tools.build.stubs           # write every stub
    python -m tools.build.stubs --check   # exit 1 when a stub differs from what its solution generates
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

from utils import course
from utils.course import REPO_ROOT

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
HEADER = (
    "# Student version, generated from the reference solution: fill in each TODO block.\n"
    "# Replace the `raise NotImplementedError(...)` line with your code; leave the rest as it is.\n"
    "# ruff: noqa: F821, F841  (the names a TODO block defines are missing until it is filled)\n"
)


class MarkerError(ValueError):
    """A solution file whose markers are unbalanced or outside any function."""


def _enclosing_functions(source: str) -> list[tuple[int, int, str]]:
    """(first line, last line, qualified name) of every function, innermost last when nested."""
    spans = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    spans.append((child.lineno, child.end_lineno, name))
                visit(child, name + ".")

    visit(ast.parse(source), "")
    return spans


def _function_at(spans: list[tuple[int, int, str]], lineno: int) -> str:
    inside = [span for span in spans if span[0] <= lineno <= span[1]]
    if not inside:
        raise MarkerError(f"line {lineno}: a solution region must lie inside a function")
    return max(inside, key=lambda span: span[0])[2]


def make_stub(source: str, module_path: str) -> str:
    """The student version of a solution module's source; module_path names the stub in messages."""
    spans = _enclosing_functions(source)
    out, region_start = [HEADER], None
    for lineno, line in enumerate(source.splitlines(keepends=True), start=1):
        marker = line.strip()
        if marker == BEGIN:
            if region_start is not None:
                raise MarkerError(f"line {lineno}: {BEGIN} inside another solution region")
            region_start = lineno
            indent = line[: len(line) - len(line.lstrip())]
            function = _function_at(spans, lineno)
            out.append(f"{indent}# TODO: {function} (see the docstring above).\n")
            # Spread over lines with a trailing comma, which ruff format keeps at any length.
            message = f"{function}: not implemented yet; fill the TODO in {module_path}"
            out.append(f'{indent}raise NotImplementedError(\n{indent}    "{message}",\n{indent})\n')
        elif marker == END:
            if region_start is None:
                raise MarkerError(f"line {lineno}: {END} without {BEGIN}")
            region_start = None
        elif region_start is None:
            out.append(line)
    if region_start is not None:
        raise MarkerError(f"line {region_start}: {BEGIN} is never closed")
    return "".join(out)


def solution_files(root: Path = REPO_ROOT) -> list[Path]:
    """The reference module of every assignment of the course."""
    return [root / a.solution for a in course.ASSIGNMENTS]


def stub_path(solution: Path, root: Path = REPO_ROOT) -> Path:
    return root / "utils" / solution.name


def write_stub(solution: Path, root: Path = REPO_ROOT) -> Path:
    """Generates the stub of one solution module; returns its path."""
    target = stub_path(solution, root)
    target.write_text(make_stub(solution.read_text(), f"utils/{solution.name}"))
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="only compare; exit 1 when a stub is out of date"
    )
    args = parser.parse_args(argv)
    stale = []
    for solution in solution_files():
        target = stub_path(solution)
        expected = make_stub(solution.read_text(), f"utils/{solution.name}")
        current = target.read_text() if target.exists() else None
        if current == expected:
            continue
        if args.check:
            stale.append(target)
        else:
            print(f"wrote {write_stub(solution).relative_to(REPO_ROOT)}")
    for target in stale:
        print(
            f"{target.relative_to(REPO_ROOT)} is out of date: run `python -m tools.build.stubs`",
            file=sys.stderr,
        )
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
