"""Imports run one way, read from the code's AST: between modules no cycle at all, and between the project's
packages (utils, solutions, each flow of tools/, benchmarks, tests) an order in which each imports only the
ones below it. Student code never imports instructor code, grading never imports test material, and nothing
edits sys.path to reach a module."""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

from utils.course import REPO_ROOT

FOLDERS = ("utils", "solutions", "tools", "benchmarks", "tests")
# Who may import whom, bottom up: a package imports only packages that come before it here.
ORDER = (
    "utils",
    "solutions",
    "tools.grade",
    "tools.build",
    "tools.written",
    "tools.report",
    "tools.teeth",
    "benchmarks",
    "tests",
)
NEVER = {  # beyond the order, what a package must not import even though it comes later
    "tests": {"benchmarks"},  # helpers the tests need live in tools/teeth, not with the measurements
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    """{dotted name: path} of every Python module of the project."""
    return {_module_name(p): p for folder in FOLDERS for p in sorted((REPO_ROOT / folder).rglob("*.py"))}


def _resolve(name: str) -> str | None:
    """The project module that an import of name loads last (a.b.c, else a.b, else a), or None."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in modules():
            return ".".join(parts[:end])
    return None


@cache
def imports(module: str) -> frozenset[str]:
    """The project modules that module imports, wherever in the file (functions included)."""
    path, found = modules()[module], set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {_resolve(alias.name) for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found |= {_resolve(f"{base}.{alias.name}") for alias in node.names}
    return frozenset(found - {None, module})


def package_of(module: str) -> str:
    """The package a module belongs to: tools.<flow> inside tools/, else its top folder."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "tools" and len(parts) > 1 else parts[0]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan's algorithm)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_itself_through_others():
    graph = {module: set(imports(module)) for module in modules()}
    assert _cycles(graph) == []


def test_packages_import_only_the_ones_below_them():
    wrong = []
    for module in modules():
        mine = package_of(module)
        for target in imports(module):
            theirs = package_of(target)
            if theirs == mine:
                continue
            below = ORDER.index(theirs) < ORDER.index(mine)
            if not below or theirs in NEVER.get(mine, ()):
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_the_order_names_every_package():
    assert {package_of(module) for module in modules() if module != "tools"} <= set(ORDER)


def test_the_check_sees_an_import_that_runs_the_wrong_way(monkeypatch):
    """The checks above would pass on a tree with no imports at all: this one feeds them a wrong arrow."""
    monkeypatch.setattr(
        "tests.test_imports.imports",
        lambda module: frozenset({"tools.teeth.mutation"} if module == "tools.grade.run" else ()),
    )
    try:
        test_packages_import_only_the_ones_below_them()
    except AssertionError as error:
        assert "tools.grade.run -> tools.teeth.mutation" in str(error)
    else:
        raise AssertionError("an import from grading into the teeth went unnoticed")
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_nothing_edits_sys_path_to_reach_a_module():
    for module, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            edits = (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("insert", "append")
                and ast.unparse(node.func.value) == "sys.path"
            )
            assert not edits, module


def test_the_autograder_reads_notebooks_without_the_grammar_jsonschema_would_import():
    """utils/__init__.py keeps rfc3987_syntax out (over a second per process); notebooks still validate."""
    probe = (
        "import sys, utils, nbformat\n"
        "nbformat.validate(nbformat.read('assignments/01_linear_classifiers.ipynb', as_version=4))\n"
        "try:\n    nbformat.validate(nbformat.from_dict({'cells': 'none'}))\nexcept nbformat.ValidationError:\n"
        "    print('invalid refused')\n"
        "print(sys.modules['rfc3987_syntax'])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.stdout.split() == ["invalid", "refused", "None"], proc.stdout + proc.stderr
