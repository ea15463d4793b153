"""Hidden checks: the student's functions on randomized inputs of other shapes and dtypes than the
notebooks' public checks, compared in the grader with the reference solutions. Instructor-only.

Each topic's material lives in tools/hidden/<topic>.py (the course registry's convention):
    CASES                 the hidden checks, each belonging to one graded question
    MUTANTS               the reference with one common mistake each, and the questions it must fail
                          (the first is the one the release's replayed checks are tested on)
    HIDDEN_ONLY_MUTANTS   mistakes the public checks miss and the hidden checks catch
    ALTERNATIVE           a correct solution written differently, which must get full marks
    QUICK_PARAMETERS      notebook parameters that make a run quick for mutants, and
    QUICK_CASUALTIES      the questions that then fail because they need the full run

A question the notebook passed keeps its points only when all its cases agree with the reference.
Inputs come from generators seeded by the case's name, so a submission graded twice gets the same
grade. The student's code runs in a tools.sandbox.Child (a process in the grading copy, which holds
no solutions); only its outputs come back, and the reference runs here.
"""

from __future__ import annotations

import importlib
import math
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import torch

from tools.hidden.compare import describe_inputs, difference, precision, to_float64
from tools.sandbox import Child, ChildDied, Death

MATERIAL = ("CASES", "MUTANTS", "HIDDEN_ONLY_MUTANTS", "ALTERNATIVE", "QUICK_PARAMETERS", "QUICK_CASUALTIES")


@dataclass(frozen=True)
class Case:
    question: str
    function: str
    inputs: Callable[[torch.Generator], tuple]
    view: Callable[[Any], Any] = lambda output: output  # what of the output is compared (applied to both)
    # For functions with more than one right answer (random sampling): why (args, output) is wrong, or None.
    # Such a case is checked by this property instead of against the reference.
    property: Callable[[tuple, Any], str | None] | None = None


@dataclass
class QuestionVerdict:
    passed: int = 0
    failures: list[str] = field(default_factory=list)


def material(topic: str) -> ModuleType:
    """tools/hidden/<topic>.py, checked to hold every name of MATERIAL."""
    try:
        module = importlib.import_module(f"tools.hidden.{topic}")
    except ModuleNotFoundError as error:
        if error.name != f"tools.hidden.{topic}":
            raise
        raise FileNotFoundError(f"no hidden checks for {topic}: tools/hidden/{topic}.py is missing") from None
    missing = [name for name in MATERIAL if not hasattr(module, name)]
    if missing:
        raise AttributeError(f"tools/hidden/{topic}.py lacks {', '.join(missing)}")
    return module


def case_inputs(topic: str, index: int, case: Case) -> tuple:
    """The inputs of one case, from a generator seeded by its name: the same on every run."""
    gen = torch.Generator().manual_seed(
        zlib.crc32(f"{topic}/{case.question}/{case.function}/{index}".encode())
    )
    return case.inputs(gen)


DEATHS = {
    Death.TIMEOUT: "did not finish within {timeout:g} s",
    Death.ENDED: "the process ended (os._exit, exit, a crash or memory exhausted)",
}


def run_hidden_checks(
    topic: str,
    questions: set[str],
    start_child: Callable[[], Child],
    call_timeout: float = 20,
    deadline: float = math.inf,
) -> dict[str, QuestionVerdict]:
    """Runs the cases of the given questions; {question: verdict}. start_child gives a fresh child, called
    again whenever one dies or hangs; cases left when time.monotonic() passes deadline fail unrun."""
    reference = importlib.import_module(f"solutions.{topic}")
    verdicts: dict[str, QuestionVerdict] = {}
    child: Child | None = None
    try:
        for index, case in enumerate(material(topic).CASES):
            if case.question not in questions:
                continue
            verdict = verdicts.setdefault(case.question, QuestionVerdict())
            args = case_inputs(topic, index, case)
            label = f"hidden check: {case.function}({describe_inputs(args)})"
            if time.monotonic() > deadline:
                verdict.failures.append(f"{label}: not run, the submission's time limit was spent")
                continue
            try:
                if child is None:
                    child = start_child()
                    if child.import_error:
                        raise ChildDied(Death.REFUSED, f"the module did not import: {child.import_error}")
                reply = child.call(
                    case.function, args, min(call_timeout, max(deadline - time.monotonic(), 1.0))
                )
            except ChildDied as died:
                if child is not None:
                    child.close()
                child = None
                why = DEATHS[died.death].format(timeout=call_timeout) if died.death in DEATHS else died.detail
                verdict.failures.append(f"{label}: {why}")
                continue
            if reply.error:
                verdict.failures.append(f"{label} raised {reply.error}")
                continue
            if case.property is not None:
                reason = case.property(args, reply.value)
            else:
                expected = getattr(reference, case.function)(*to_float64(args))
                reason = difference(case.view(reply.value), case.view(expected), precision(args))
            if reason:
                verdict.failures.append(f"{label}: {reason}")
            else:
                verdict.passed += 1
    finally:
        if child is not None:
            child.close()
    return verdicts
