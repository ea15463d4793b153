"""What the autograder tests grade: for each assignment of the course, the reference, the stubs, a
correct solution written differently, the mutants graded through the notebook (tools/teeth/<topic>.py:
Mutant.notebook), and broken modules.

Every case runs the real notebook under nbval through `python -m utils.autograde` in a temporary
copy of the repository; conftest.py runs them all once per session, two at a time.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tools.grade.workspace import override_parameters, reference_source, workspace
from tools.teeth import material
from tools.teeth.mutation import mutate
from utils.course import ASSIGNMENTS, REPO_ROOT, Assignment, by_topic


@dataclass
class Case:
    assignment: Assignment
    source: str | None = None  # the student module; None: the stub as generated
    reference: bool = False  # grade the reference solutions through tools.grade.reference instead
    args: tuple[str, ...] = ()
    parameters: dict = field(default_factory=dict)


def run_case(case: Case, report_dir: Path, one_thread: bool = True) -> tuple[dict, str]:
    """Grades one case; returns (report, scorecard). one_thread=False leaves torch its default threads, as
    on a student's laptop."""
    a = case.assignment
    # One thread each: two runs share the two cores, and oversubscribed torch threads crawl.
    env = {**os.environ, "OMP_NUM_THREADS": "1"} if one_thread else dict(os.environ)
    with contextlib.ExitStack() as stack:
        if case.reference:
            root, command = REPO_ROOT, "tools.grade.reference"
        else:
            root, command = (
                stack.enter_context(workspace({} if case.source is None else {a.topic: case.source})),
                "utils.autograde",
            )
            if case.parameters:
                override_parameters(root / a.notebook, **case.parameters)
        argv = [sys.executable, "-m", command, a.notebook, "--report-dir", str(report_dir), *case.args]
        proc = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=1800, env=env)
    assert proc.returncode == 0, f"the autograder exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return json.loads((report_dir / f"{Path(a.notebook).stem}.json").read_text()), proc.stdout


_LINEAR = reference_source("linear_classifier")
BROKEN = {  # linear_classifier modules that do not import or do not finish
    "syntax_error": _LINEAR + "\ndef broken(:\n    pass\n",
    "import_error": _LINEAR + "\nimport no_such_package_here\n",
    "infinite_loop": mutate(
        _LINEAR,
        "svm_loss_naive",
        "    num_train, num_classes = X.shape[0], W.shape[1]\n",
        "    while True:\n        pass\n",
    ),
}


def all_cases() -> dict[str, Case]:
    """Every case, keyed "<topic>/<variant>": the references (full size) first, so that two workers taking
    them in order finish together."""
    full_size, quick = {}, {}
    for a in ASSIGNMENTS:
        hidden = material(a.topic)
        full_size[f"{a.topic}/reference"] = Case(a, reference=True)
        quick[f"{a.topic}/stubs"] = Case(a)
        quick[f"{a.topic}/written_differently"] = Case(
            a, hidden.ALTERNATIVE, parameters=hidden.QUICK_PARAMETERS
        )
        for name, mutant in hidden.MUTANTS.items():
            if mutant.notebook:
                quick[f"{a.topic}/{name}"] = Case(a, mutant.source, parameters=hidden.QUICK_PARAMETERS)
    linear = by_topic("linear_classifier")
    for name, source in BROKEN.items():
        args = ("--timeout", "8") if name == "infinite_loop" else ()
        quick[f"linear_classifier/{name}"] = Case(linear, source, args=args)
    return full_size | quick


def grade_all(report_dir: Callable[[str], Path]) -> dict[str, tuple[dict, str]]:
    """{"<topic>/<variant>": (report, scorecard)} for every case, two at a time; report_dir(key) gives
    each case a folder of its own."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {key: pool.submit(run_case, case, report_dir(key)) for key, case in all_cases().items()}
        return {key: future.result() for key, future in futures.items()}
