"""Finds what a student release must not hold: solution code, oracle code, imports of instructor code.

    python -m tools.build.leaks RELEASE_DIR    # exit 1 and name the file and line of every leak

Solution code: every substantive line between `### BEGIN SOLUTION` and `### END SOLUTION` in
solutions/*.py. Oracle code: every substantive line of an @oracle body in utils/checks/*.py. A line
is substantive unless it is short, a bare block header (`for i in range(C):`), or also occurs
outside those regions (then the student sees it anyway).
Every file is searched, notebooks cell by cell (sources and outputs), binary files as text.
"""

from __future__ import annotations

import ast
import io
import json
import re
import sys
import tokenize
from pathlib import Path

from tools.build.record import check_modules, oracle_functions
from tools.build.stubs import BEGIN, END, solution_files
from utils.course import REPO_ROOT

MIN_LENGTH = 16  # shorter lines (`return loss`, `C = W.shape[1]`) are too common to tell anything
INSTRUCTOR_IMPORT = re.compile(r"^\s*(?:from|import)\s+(solutions|tools)\b")


def _normalize(line: str) -> str:
    return " ".join(line.split())


def _code_lines(source: str) -> list[str]:
    """source's lines with comments removed."""
    lines = source.splitlines()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            row, col = token.start
            lines[row - 1] = lines[row - 1][:col]
    return lines


def _secrets(sources: dict[str, set[int]]) -> set[str]:
    """The substantive lines at the given 0-based line numbers of each source, comments removed; a line
    is not secret when the text around those lines (in any of the sources) holds it too."""
    hidden, shown = set(), []
    for source, inside in sources.items():
        lines = _code_lines(source)
        hidden |= {_normalize(lines[i]) for i in inside}
        shown += [_normalize(line) for i, line in enumerate(source.splitlines()) if i not in inside]
    shown_text = "\n".join(shown)
    return {
        line
        for line in hidden
        if len(line) >= MIN_LENGTH and not line.endswith(":") and line not in shown_text
    }


def solution_lines(root: Path = REPO_ROOT) -> set[str]:
    """The substantive lines of every solution region."""
    regions = {}
    for path in solution_files(root):
        source, inside, depth = path.read_text(), set(), False
        for i, line in enumerate(source.splitlines()):
            depth = (depth or line.strip() == BEGIN) and line.strip() != END
            if depth and line.strip() != BEGIN:
                inside.add(i)
        regions[source] = inside
    return _secrets(regions)


def oracle_lines(root: Path = REPO_ROOT) -> set[str]:
    """The substantive lines of every @oracle body in the instructor's check modules (docstrings left out)."""
    bodies = {}
    for path in check_modules(root):
        source, inside = path.read_text(), set()
        for function in oracle_functions(ast.parse(source)):
            body = function.body[1:] if ast.get_docstring(function) else function.body
            for statement in body:
                inside |= set(range(statement.lineno - 1, statement.end_lineno))
        bodies[source] = inside
    return _secrets(bodies)


def _texts(path: Path) -> list[tuple[str, list[str]]]:
    """(where, lines) for each searchable text of a released file."""
    if path.suffix == ".ipynb":
        texts = []
        for number, cell in enumerate(json.loads(path.read_text()).get("cells", []), start=1):
            texts.append((f"cell {number}", "".join(cell.get("source", "")).splitlines()))
            outputs = json.dumps(cell.get("outputs", []), indent=1).replace("\\n", "\n")
            texts.append((f"cell {number} outputs", outputs.splitlines()))
        return texts
    return [("", path.read_bytes().decode("utf-8", errors="replace").splitlines())]


def find_leaks(release: Path, root: Path = REPO_ROOT) -> list[str]:
    """One message per leak in the release folder: `path[, cell n]:line: what`."""
    secrets = [(line, "solution code") for line in solution_lines(root)]
    secrets += [(line, "oracle code") for line in oracle_lines(root)]
    leaks = []
    for path in sorted(p for p in release.rglob("*") if p.is_file()):
        name = path.relative_to(release).as_posix()
        for where, lines in _texts(path):
            prefix = f"{name}, {where}" if where else name
            for number, line in enumerate(lines, start=1):
                text = _normalize(line)
                leaks += [
                    f"{prefix}:{number}: {what} {secret!r}" for secret, what in secrets if secret in text
                ]
                match = INSTRUCTOR_IMPORT.match(line)
                if match:
                    leaks.append(f"{prefix}:{number}: imports {match.group(1)}")
    return leaks


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m tools.build.leaks RELEASE_DIR", file=sys.stderr)
        return 2
    leaks = find_leaks(Path(args[0]))
    print("\n".join(leaks) or "no leaks found", file=sys.stderr if leaks else sys.stdout)
    return 1 if leaks else 0


if __name__ == "__main__":
    sys.exit(main())
