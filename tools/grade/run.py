"""Grading one submission, in a temporary copy that holds only what a student's run needs:

1. `python -m utils.autograde` runs the canonical notebooks and their public checks;
2. the hidden checks (tools/grade/hidden/) call the student's functions on randomized inputs in a child
   process (tools/grade/hidden/child.py) that only returns outputs; the comparison with the reference happens here,
   in the grader. A question keeps its points only when both agree.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tools.grade.hidden.child import Child
from tools.grade.hidden.engine import HiddenFailure, run_hidden_checks
from tools.grade.isolation import Sandbox, hand_over, resource_limits
from tools.grade.limits import Limits
from tools.grade.outputs import validated
from tools.grade.workspace import reference_modules, student_copy
from utils import watch
from utils.course import REPO_ROOT, Assignment
from utils.results import NotebookReport, QuestionResult, Status, SubmissionResult

CELL_LIMITS, CELL_TIMES = "cell_limits.json", "cell_times.json"  # in the copy, for the autograder
WATCH_FOLDER = ".watch"  # in the copy: utils.watch's files
BUDGET_GRACE_S = (
    30.0  # past its budget, how long the autograder has to write its reports before it is stopped
)


@dataclass(frozen=True)
class Launch:
    """How every process of a submission starts."""

    prefix: list[str]  # the sandbox's command prefix (tools.grade.isolation), or nothing
    env: dict[str, str]
    preexec_fn: Callable[[], None]  # the resource limits


def _run_notebooks(
    copy: Path, assignments: list[Assignment], limits: Limits, launch: Launch, deadline: float
) -> tuple[list[NotebookReport], str]:
    """The autograder's validated reports of each assignment's notebook in the copy (0 points where none is
    valid), and the log's tail when the run went wrong. With a budget, the autograder stops running cells
    once the budget's deadline (time.monotonic()) has passed, and the cells it ran keep their outcomes."""
    reports_dir = copy / "reports"
    command = [sys.executable, "-m", "utils.autograde", *(a.notebook for a in assignments)]
    command += ["--report-dir", str(reports_dir), "--cell-times", str(copy / CELL_TIMES)]
    if limits.question_timeout is not None:  # given: it holds for every cell
        command += ["--timeout", str(limits.question_timeout)]
    elif limits.cell_limits:
        (copy / CELL_LIMITS).write_text(json.dumps(limits.cell_limits))
        command += ["--cell-limits", str(copy / CELL_LIMITS)]
    stop_after = limits.submission_timeout
    if limits.budget is not None:
        budget = max(deadline - time.monotonic(), 0.0)
        command += ["--budget", f"{budget:.1f}"]
        stop_after = min(stop_after, budget + BUDGET_GRACE_S)
    process = subprocess.Popen(
        [*launch.prefix, *command],
        cwd=copy,
        env=launch.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=launch.preexec_fn,
    )
    try:
        output, _ = process.communicate(timeout=stop_after)
        problem = None if process.returncode == 0 else f"the autograder exited with code {process.returncode}"
        status = Status.ERROR
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        problem = f"the submission ran past its limit of {stop_after:g} s and was stopped"
        status = Status.TIMEOUT
    reports = []
    for assignment in assignments:
        try:
            report = validated(
                json.loads((reports_dir / f"{Path(assignment.notebook).stem}.json").read_text()), assignment
            )
        except (OSError, ValueError):
            report = None
        if report is None:
            why = (
                problem
                or "the autograder left no valid report (did the code end the process or write over it?)"
            )
            report = NotebookReport.all_failed(assignment.notebook, assignment.questions, status, why)
        reports.append(report)
    return reports, output.decode("utf-8", "replace")[-2000:] if problem else ""


def _apply_hidden_checks(
    report: NotebookReport,
    topic: str,
    modules: Mapping[str, str],
    copy: Path,
    limits: Limits,
    launch: Launch,
    deadline: float,
) -> None:
    """Runs the hidden checks of every question that earned points in the notebook, in a child in the copy,
    and takes the points that they disagree with the reference on: a part's, or the whole question's."""
    earning = {q.id for q in report.questions if q.earned > 0}
    if topic not in modules or not earning:
        return  # an untouched stub earns nothing

    def start_child() -> Child:
        return Child(topic, copy, launch.prefix, launch.env, launch.preexec_fn)

    if limits.budget is None:  # the hidden checks have a limit of their own
        deadline = time.monotonic() + limits.submission_timeout
    verdicts = run_hidden_checks(
        topic, earning, start_child, limits.call_timeout, deadline, limits.limit_factor
    )
    for question in report.questions:
        verdict = verdicts.get(question.id)
        if verdict is None:
            continue
        total = verdict.passed + len(verdict.failures)
        question.hidden = f"{verdict.passed}/{total} passed"
        if verdict.failures:
            _lose(question, verdict.failures, total)


def _lose(question: QuestionResult, failures: list[HiddenFailure], total: int) -> None:
    """The question fails, and so does each part a failure names, or every part when one names none."""
    passed = "passed the notebook's checks but " if question.status is Status.PASSED else ""
    message = f"{passed}{len(failures)} of {total} hidden checks failed; the first: {failures[0].message}"
    whole = any(failure.part is None for failure in failures)
    for part in question.parts:
        own = [failure for failure in failures if failure.part == part.id]
        if whole or own:
            part.status, part.message = _status(own or failures), own[0].message if own else message
    question.status, question.message = _status(failures), message


def _status(failures: list[HiddenFailure]) -> Status:
    """A timeout when every failure is a limit that ran out (nothing was judged wrong), else a failure."""
    return Status.TIMEOUT if all(failure.timeout for failure in failures) else Status.FAILED


def grade_submission(
    student: str,
    modules: Mapping[str, str],
    assignments: list[Assignment],
    limits: Limits | None = None,
    sandbox: Sandbox | None = None,
    uid: int | None = None,
    root: Path = REPO_ROOT,
) -> SubmissionResult:
    """Grades one student's modules on the assignments' canonical notebooks and hidden checks. With a
    sandbox, every process of the submission runs in it as uid (tools.grade.isolation)."""
    start, limits = time.perf_counter(), limits or Limits()
    with student_copy(modules, root) as copy:
        launch = _launch(copy, limits, sandbox, uid)
        reports, log_tail, _ = _grade_in_copy(copy, modules, assignments, limits, launch)
    return SubmissionResult(student, reports, round(time.perf_counter() - start, 1), log_tail)


def _grade_in_copy(
    copy: Path, modules: Mapping[str, str], assignments: list[Assignment], limits: Limits, launch: Launch
) -> tuple[list[NotebookReport], str, dict[str, float]]:
    """The notebooks, then the hidden checks, within the submission's budget when it has one; also the
    seconds the hidden checks of each notebook took."""
    deadline = time.monotonic() + (limits.budget if limits.budget is not None else limits.submission_timeout)
    reports, log_tail = _run_notebooks(copy, assignments, limits, launch, deadline)
    hidden_seconds = {}
    for report, assignment in zip(reports, assignments):
        start = time.monotonic()
        _apply_hidden_checks(report, assignment.topic, modules, copy, limits, launch, deadline)
        hidden_seconds[assignment.notebook] = time.monotonic() - start
    return reports, log_tail, hidden_seconds


@dataclass(frozen=True)
class ReferenceTimes:
    cells: dict[str, dict[int, float]]  # {notebook: {code cell index: seconds}}
    functions: dict[str, float]  # {student function: its longest call, in seconds}
    notebooks: dict[str, float]  # {notebook: seconds of its cells and its hidden checks together}


def time_the_reference(
    assignments: list[Assignment], limits: Limits, sandbox: Sandbox | None, uid: int, root: Path = REPO_ROOT
) -> ReferenceTimes:
    """How long the reference solutions' grading takes, run as a submission's is: each code cell of the
    assignments' notebooks, each call of a student function, and the whole (with the hidden checks); raises
    RuntimeError when the reference does not get full marks here."""
    modules = reference_modules(root)
    with student_copy(modules, root) as copy:
        launch = _launch(copy, limits, sandbox, uid, record=True)
        reports, log_tail, hidden_seconds = _grade_in_copy(copy, modules, assignments, limits, launch)
        short = [f"{r.notebook} {r.earned:g}/{r.max:g}" for r in reports if r.earned < r.max]
        if short:
            raise RuntimeError(f"the reference does not get full marks here ({', '.join(short)}): {log_tail}")
        cells = json.loads((copy / CELL_TIMES).read_text())
        functions = watch.read(copy / WATCH_FOLDER, watch.TIMES)
    return ReferenceTimes(
        {notebook: {int(cell): t for cell, t in times.items()} for notebook, times in cells.items()},
        functions,
        {notebook: sum(cells[notebook].values()) + seconds for notebook, seconds in hidden_seconds.items()},
    )


def _launch(
    copy: Path, limits: Limits, sandbox: Sandbox | None, uid: int | None, record: bool = False
) -> Launch:
    home = copy / ".home"  # caches and runtime files of jupyter and matplotlib
    home.mkdir()
    env = student_environment(home)
    env |= _watch(copy, home, limits, record)
    if sandbox is not None and sandbox.as_root:
        hand_over(copy, uid)
    prefix = sandbox.prefix(copy, uid) if sandbox is not None else []
    return Launch(prefix, env, resource_limits(limits.memory_gb, limits.cpu_seconds))


def _watch(copy: Path, home: Path, limits: Limits, record: bool) -> dict[str, str]:
    """Turns utils.watch on in every process of the submission: the notebook's kernel starts it from an
    IPython startup file, the hidden checks' child by itself; its folder holds each function's short limit."""
    folder = copy / WATCH_FOLDER
    folder.mkdir()
    (folder / watch.LIMITS).write_text(json.dumps(limits.function_limits or {}))
    startup = home / ".ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-losslab-watch.py").write_text("from utils import watch\n\nwatch.install()\n")
    env = {watch.WATCH: str(folder), "PYTHONPATH": str(copy)}
    return env | ({watch.RECORD: "1"} if record else {})


def student_environment(home: Path) -> dict[str, str]:
    """The environment of a submission's processes: nothing of the grader's but the locale, one thread."""
    return {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "HOME": str(home),
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLCONFIGDIR": str(home / "matplotlib"),
    }
