"""Mutants and rewrites of a reference solution: the material the teeth tests are made of."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mutant:
    """The reference with one common mistake."""

    source: str
    must_fail: dict[str, str]  # question -> words its message must hold (the hint that fixes the mistake)
    may_fail: frozenset[str] = field(default_factory=frozenset)  # questions downstream of the mistake
    # Also graded through the notebook on its quick parameters (tests/test_autograde.py), not only by running
    # the graded cells of self-contained questions in-process (tests/test_teeth.py): needed when it breaks a
    # question that needs the notebook's run (a search), and kept for one mutant a topic (the first) so that
    # the notebook's path from a failed check to the report is pinned for every assignment.
    notebook: bool = False
    # It breaks a training gate, which decides only at the notebook's full size: its notebook runs are a
    # measurement over seeds (benchmarks/gate_margins.py), too long for CI; the grader's checks of its step
    # are tested in-process.
    full_size_gate: bool = False


@dataclass(frozen=True)
class HiddenOnlyMutant:
    """A mistake the notebook's public checks miss and the hidden checks of question catch."""

    source: str
    question: str


def mutate(source: str, function: str, old: str, new: str) -> str:
    """source with old replaced by new inside one top-level function or class (old must occur there once)."""
    start = re.search(rf"\n(def|class) {function}\b", source).start()
    following = re.search(r"\n(def|class) ", source[start + 1 :])
    end = len(source) if following is None else start + 1 + following.start()
    body = source[start:end]
    if body.count(old) != 1:
        raise ValueError(f"mutation target not found exactly once in {function}: {old!r}")
    return source[:start] + body.replace(old, new) + source[end:]


def rewrite(source: str, function: str, body: str) -> str:
    """source with the solution region of function (top level or a method) replaced by body; the code after
    the region sees the same variable names."""
    start = re.search(rf"\n(\s*)def {function}\(", source)
    if not start:
        raise ValueError(f"no function {function}")
    region = re.compile(r"( *)### BEGIN SOLUTION\n.*?\1### END SOLUTION\n", re.DOTALL).search(
        source, start.end()
    )
    indent = region.group(1)
    replacement = (
        f"{indent}### BEGIN SOLUTION\n{textwrap.indent(textwrap.dedent(body).strip(), indent)}\n"
        f"{indent}### END SOLUTION\n"
    )
    return source[: region.start()] + replacement + source[region.end() :]


def rewrite_all(source: str, bodies: dict[str, str]) -> str:
    """source with the solution regions of several functions replaced (see rewrite)."""
    for function, body in bodies.items():
        source = rewrite(source, function, body)
    return source


def at_solution_start(source: str, function: str, code: str) -> str:
    """source with code run first in the solution region of a top-level function (a hang, a raise)."""
    marker = re.search(rf"\ndef {function}\(.*?\n( *)### BEGIN SOLUTION\n", source, re.DOTALL)
    if marker is None:
        raise ValueError(f"no solution region in {function}")
    return source[: marker.end()] + textwrap.indent(code, marker.group(1)) + source[marker.end() :]


def solution_functions(source: str) -> list[str]:
    """The top-level functions of source that hold a solution region: what a student writes."""
    found = []
    for match in re.finditer(r"\n(def|class) (\w+)", source):
        following = re.search(r"\n(def|class) ", source[match.start() + 1 :])
        end = len(source) if following is None else match.start() + 1 + following.start()
        if match.group(1) == "def" and "### BEGIN SOLUTION" in source[match.start() : end]:
            found.append(match.group(2))
    return found
