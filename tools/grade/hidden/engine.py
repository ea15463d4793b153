"""Hidden checks: the student's functions on randomized inputs of other shapes and dtypes than the
notebooks' public checks, compared in the grader with the reference solutions. Instructor-only.

Each topic's cases are the CASES of tools/grade/hidden/<topic>.py (the course registry's convention),
each belonging to one graded question. (The mutants that test them are test material: tools/teeth/.)

A case calls one of the student's functions, or runs a driver (tools/grade/hidden/drivers.py) in the child that
calls them: a training run, a step from a given state, a module built and probed. Its output is compared
with the reference's (the same call, or the same driver run here on solutions.<topic>), or judged by the
case's property (accuracy on rows the child never saw, rates of random draws); a speed case also races
the student's function against a loop of the grader's, both timed from the grader's side of the pipe.

A question the notebook passed keeps its points only when all its cases agree with the reference.
Inputs come from generators seeded by the case's name, so a submission graded twice gets the same
grade. The student's code runs in a tools.grade.hidden.child.Child (a process in the grading copy, which holds
no solutions); only its outputs come back, and the reference runs here.
"""

from __future__ import annotations

import functools
import importlib
import math
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from tools.grade.hidden.child import Child, ChildDied, Death, Reply
from tools.grade.hidden.compare import describe_inputs, difference, precision, to_float64
from tools.grade.hidden.drivers import keep_inputs, kept_output, run_kept, set_threads, source_of
from tools.grade.limits import LIMIT_FACTOR, derived_limit
from utils.grading import apart, one_thread
from utils.watch import FunctionHung

HUNG = FunctionHung.__name__


@dataclass(frozen=True)
class Speed:
    """The student's function must run at least min_ratio times faster than loop, a driver of the grader's
    computing the same thing with a Python loop (not the student's naive function, which a submission could
    slow down). Both run in the child alike, interleaved, with one intra-op thread, on fresh inputs each round
    sent ahead of the timed call; the loop's best over the student's best of rounds counts, and the student's
    timed outputs must agree with the reference's (race_ratio)."""

    loop: Callable
    min_ratio: float
    rounds: int = 5


@dataclass(frozen=True)
class Case:
    question: str
    function: str  # the student's function the case is about (and calls, unless a driver does)
    inputs: Callable[[torch.Generator], tuple]
    view: Callable[[Any], Any] = lambda output: output  # what of the output is compared (applied to both)
    # For functions with more than one right answer (random sampling, training): why (args, output) is
    # wrong, or None. Such a case is checked by this property instead of against the reference.
    property: Callable[[tuple, Any], str | None] | None = None
    driver: Callable | None = None  # run in the child as driver(module, *args) instead of function(*args)
    speed: Speed | None = None
    # Which part of its question (utils/course.py) a disagreement costs: part, for the whole case, or each
    # (part, view) of split for what that view takes of the output; else the whole question.
    part: str | None = None
    split: tuple[tuple[str, Callable[[Any], Any]], ...] = ()

    def parts(self) -> set[str]:  # a method: the field `property` hides the decorator here
        """The parts of its question this case can cost."""
        return {part for part, _ in self.split} | ({self.part} if self.part else set())


@dataclass(frozen=True)
class HiddenFailure:
    message: str
    part: str | None = None  # the part of the question it costs; None: the whole question
    timeout: bool = False  # a limit ran out (the call's, a hung function's, the submission's budget)


@dataclass
class QuestionVerdict:
    passed: int = 0
    failures: list[HiddenFailure] = field(default_factory=list)


def cases(topic: str) -> list[Case]:
    """The CASES of tools/grade/hidden/<topic>.py."""
    try:
        module = importlib.import_module(f"tools.grade.hidden.{topic}")
    except ModuleNotFoundError as error:
        if error.name != f"tools.grade.hidden.{topic}":
            raise
        raise FileNotFoundError(
            f"no hidden checks for {topic}: tools/grade/hidden/{topic}.py is missing"
        ) from None
    if not hasattr(module, "CASES"):
        raise AttributeError(f"tools/grade/hidden/{topic}.py lacks CASES")
    return module.CASES


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
    call_timeout: float | None = None,
    deadline: float = math.inf,
    limit_factor: float = LIMIT_FACTOR.default,
) -> dict[str, QuestionVerdict]:
    """Runs the cases of the given questions; {question: verdict}. start_child gives a fresh child, called
    again whenever one dies or hangs; cases left when time.monotonic() passes deadline fail unrun. Each call
    may take call_timeout seconds, or else the limit derived from the reference's time on the case
    (tools.grade.limits.derived_limit)."""
    verdicts: dict[str, QuestionVerdict] = {}
    child: Child | None = None
    try:
        for index, case in enumerate(cases(topic)):
            if case.question not in questions:
                continue
            verdict = verdicts.setdefault(case.question, QuestionVerdict())
            args = case_inputs(topic, index, case)
            label = f"hidden check: {case.function}({describe_inputs(args)})"
            if time.monotonic() > deadline:
                verdict.failures.append(
                    HiddenFailure(f"{label}: not run, the submission's time budget ran out", timeout=True)
                )
                continue
            expected, seconds = _expected(topic, index)
            limit = call_timeout or derived_limit(seconds, limit_factor)
            try:
                if child is None:
                    child = start_child()
                    if child.import_error:
                        raise ChildDied(Death.REFUSED, f"the module did not import: {child.import_error}")
                reply = _call(child, case, args, min(limit, max(deadline - time.monotonic(), 1.0)))
                if reply.error:  # code that does not even run costs the whole question, whatever the case
                    hung = reply.error.removeprefix(f"{HUNG}: ")  # a function that hung before, stopped early
                    failures = [
                        HiddenFailure(f"{label}: {hung}", timeout=True)
                        if hung != reply.error
                        else HiddenFailure(f"{label} raised {hung}")
                    ]
                else:
                    failures = [
                        HiddenFailure(
                            f"{label}{f', its {part}' if part and case.split else ''}: {reason}", part
                        )
                        for part, reason in _judge(case, args, reply.value, expected)
                    ]
                if not failures and case.speed is not None:
                    reason = _race(child, topic, case, limit)
                    failures = [HiddenFailure(f"{label}: {reason}", case.part)] if reason else []
            except ChildDied as died:
                if child is not None:
                    child.close()
                child = None
                why = DEATHS[died.death].format(timeout=limit) if died.death in DEATHS else died.detail
                verdict.failures.append(HiddenFailure(f"{label}: {why}", timeout=died.death is Death.TIMEOUT))
                continue
            verdict.failures.extend(failures)
            verdict.passed += not failures
    finally:
        if child is not None:
            child.close()
    return verdicts


def _call(child: Child, case: Case, args: tuple, timeout: float) -> Reply:
    if case.driver is None:
        return child.call(case.function, args, timeout)
    return child.call(case.driver.__name__, args, timeout, source_of(case.driver))


@functools.cache
def _expected(topic: str, index: int) -> tuple[Any, float]:
    """The reference's output on a case's inputs (its driver run on solutions.<topic>, or the function in
    float64) and the seconds it took on one thread: computed once per process, before the child's call,
    whose limit follows from that time."""
    case = cases(topic)[index]
    args, reference = case_inputs(topic, index, case), importlib.import_module(f"solutions.{topic}")
    with one_thread():
        start = time.perf_counter()
        if case.driver is not None:
            expected = case.driver(reference, *args)
        else:
            expected = getattr(reference, case.function)(*to_float64(args))
        return expected, time.perf_counter() - start


def _judge(case: Case, args: tuple, output: Any, expected: Any) -> list[tuple[str | None, str]]:
    """[(part, why the child's output is wrong)], empty when it is right: by the case's property, or
    against the reference's output (view by view of the case's split)."""
    if case.property is not None:
        with one_thread():
            reason = case.property(args, output)
        return [(case.part, reason)] if reason else []
    views = case.split or ((case.part, lambda whole: whole),)
    found = (
        (part, difference(view(case.view(output)), view(case.view(expected)), precision(args)))
        for part, view in views
    )
    return [(part, reason) for part, reason in found if reason]


def _race(child: Child, topic: str, case: Case, timeout: float) -> str | None:
    """Why the student's function is not min_ratio times faster than the grader's loop, or None."""
    ratio = race_ratio(child, topic, case, timeout)
    if ratio >= case.speed.min_ratio:
        return None
    shown, goal = apart(
        ratio, case.speed.min_ratio, 1, "f", first=(f"{ratio:.1f}", f"{case.speed.min_ratio:g}")
    )
    return (
        f"only {shown}x faster than a loop over the samples, expected at least {goal}x "
        "(no Python loops over samples or classes)"
    )


def race_ratio(child: Child, topic: str, case: Case, timeout: float) -> float:
    """How many times faster than the grader's loop the student's function runs in the child, timed from
    this side of the pipe: the loop's best over the student's best, interleaved round by round.

    Each round draws fresh inputs (seeded by the round, so a submission always races the same), which travel
    to the child untimed before each timed call; the timed call carries no data and returns none, so what is
    timed is the computation, not the pipe's transfer (which was most of a vectorized loss's time and
    squeezed its ratio towards 1 when a busy machine slowed the transfer). The student's output of each timed
    call is then fetched, untimed, and compared with the reference's on those inputs: code that tells a timed
    call from another (by its caller, say) cannot skip the work, nor reuse an earlier call's. A stall only
    adds time, so it moves the ratio only if it lasts through every call of one side, and a function as slow
    as the loop measures about 1x on an idle and a busy machine. Raises ChildDied (refused) when a timed
    call raises or answers wrong."""
    speed, reference = case.speed, importlib.import_module(f"solutions.{topic}")
    race = "\n\n".join(source_of(driver) for driver in (keep_inputs, run_kept, kept_output, speed.loop))
    threads = child.call("set_threads", (1,), timeout, source_of(set_threads)).value
    try:
        times: dict[str, list[float]] = {"student": [], "loop": []}
        for round_ in range(speed.rounds):
            seed = zlib.crc32(f"{topic}/{case.function}/race/{round_}".encode())
            args = case.inputs(torch.Generator().manual_seed(seed))
            for who, name in (("student", case.function), ("loop", speed.loop.__name__)):
                child.call("keep_inputs", args, timeout, race)
                start = time.perf_counter()
                reply = child.call("run_kept", (name, who == "loop"), timeout, race)
                times[who].append(time.perf_counter() - start)
                if not reply.error and who == "student":
                    reply = child.call("kept_output", (), timeout, race)
                if reply.error:
                    raise ChildDied(Death.REFUSED, f"raised {reply.error} when timed")
                if who == "student":
                    expected = getattr(reference, case.function)(*to_float64(args))
                    wrong = _judge(case, args, reply.value, expected)
                    if wrong:
                        raise ChildDied(
                            Death.REFUSED, f"when timed, on other inputs of these shapes: {wrong[0][1]}"
                        )
    finally:
        child.call("set_threads", (threads,), timeout, source_of(set_threads))
    return min(times["loop"]) / min(times["student"])
