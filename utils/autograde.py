"""The autograder: runs notebooks under nbval and turns their graded cells into a scorecard.

    python -m utils.autograde                                  # every notebook in assignments/
    python -m utils.autograde assignments/01_linear_classifiers.ipynb
    python -m utils.autograde --reference                      # the reference solutions (instructors)

A graded cell starts with `# GRADED: <question_id> (<points> pts)`, optionally followed by
`timeout=<seconds>`. Each question ends as passed, failed (an AssertionError from a check),
not_implemented (NotImplementedError), error (any other exception) or timeout. A cell that ends
the kernel (os._exit, a crash) is an error, and the cells after it run again in a fresh kernel. A
JSON report per notebook lands in reports/<notebook>.json. The exit status is 0 whenever grading
ran, whatever the score.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from queue import Empty

import nbformat
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
GRADED_HEADER = re.compile(
    r"#\s*GRADED:\s*(?P<id>[A-Za-z_]\w*)\s*\(\s*(?P<points>\d+(?:\.\d+)?)\s*pts?\s*\)(?:\s+timeout=(?P<timeout>\d+)s?)?"
)
UTILS_IMPORT = re.compile(r"^\s*(?:from|import)\s+utils\.(\w+)", re.MULTILINE)
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
STATUS_MARKS = {
    "passed": "ok",
    "failed": "FAIL",
    "not_implemented": "TODO",
    "error": "ERROR",
    "timeout": "TIME",
}
KERNEL_DIED = (
    "the kernel died while running this cell (did the code call os._exit/exit, crash, or run out of memory?)"
)
KERNEL_GONE = "the notebook's kernel died (an earlier cell may have crashed or exited it)"
LIVENESS_POLL_S = 1.0  # how long a dead kernel can go unnoticed


@dataclass
class Question:
    id: str
    points: float
    cell_num: int  # index among the notebook's code cells, as nbval counts them
    timeout: float | None


@dataclass
class Result:
    id: str
    points: float
    earned: float
    status: str
    message: str


@dataclass
class CellOutcome:
    status: str
    message: str
    kernel_gone: bool = False  # the cell could not run: an earlier cell had ended the kernel


def graded_questions(notebook: nbformat.NotebookNode) -> list[Question]:
    """The graded cells of a notebook, in order."""
    questions, seen = [], set()
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for cell_num, cell in enumerate(code_cells):
        first_line = cell.source.lstrip().split("\n", 1)[0]
        match = GRADED_HEADER.match(first_line)
        if not match:
            continue
        if match["id"] in seen:
            raise ValueError(f"question id {match['id']!r} appears twice")
        seen.add(match["id"])
        timeout = float(match["timeout"]) if match["timeout"] else None
        questions.append(Question(match["id"], float(match["points"]), cell_num, timeout))
    return questions


def imported_utils_modules(notebook: nbformat.NotebookNode) -> list[str]:
    """The utils modules the notebook's code cells import."""
    found = {
        m for cell in notebook.cells if cell.cell_type == "code" for m in UTILS_IMPORT.findall(cell.source)
    }
    return sorted(found)


# Imports each module in turn, announcing it first, and prints one JSON line {module: traceback}.
_IMPORT_PROBE = """
import importlib, json, sys, traceback
failures = {}
for module in sys.argv[1:]:
    print("importing", module, flush=True)
    try:
        importlib.import_module("utils." + module)
    except BaseException:
        failures[module] = traceback.format_exc()
print(json.dumps(failures))
"""


def import_failures(root: Path, modules: list[str], timeout: float = 120) -> dict[str, str]:
    """{module: why it does not import}, all tried in one fresh interpreter from root."""
    if not modules:
        return {}
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _IMPORT_PROBE, *modules],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        lines, ended = proc.stdout.splitlines(), True
    except subprocess.TimeoutExpired as err:
        out = err.stdout.decode() if isinstance(err.stdout, bytes) else (err.stdout or "")
        lines, ended = out.splitlines(), False
    if ended and lines and lines[-1].startswith("{"):
        return {m: _summarize_traceback(tb, m) for m, tb in json.loads(lines[-1]).items()}
    # The probe never reached its summary: blame the module it was importing.
    started = [line.split()[-1] for line in lines if line.startswith("importing ")]
    culprit = started[-1] if started else modules[0]
    if not ended:
        return {culprit: f"importing it did not finish within {timeout:g} s (is there work at module level?)"}
    detail = proc.stderr.strip()[-300:]
    return {
        culprit: f"importing it ended the interpreter (exit code {proc.returncode})"
        + (f": {detail}" if detail else "")
    }


def _summarize_traceback(text: str, module: str | None = None) -> str:
    """The exception line of a traceback, with the student-module line it came from when there is one."""
    lines = [line for line in ANSI_ESCAPE.sub("", text).strip().splitlines() if line.strip()]
    if not lines:
        return "unknown error"
    where = ""
    pattern = re.compile(rf"(utils[/\\]{module or '[a-z_]+'}\.py)\"?(?:, line |:)(\d+)")
    for line in lines:
        match = pattern.search(line)
        if match:
            where = f" (at {match.group(1)} line {match.group(2)})"
    return lines[-1].strip() + where


class KernelDied(RuntimeError):
    """The kernel process ended while a cell was waiting for it."""


def _watch_liveness(kernel):
    """kernel.get_message in short polls that raise KernelDied as soon as the kernel process is gone.

    nbval waits for a cell's reply (and then its output) in single blocking reads of the whole
    timeout, and never looks at the process: a kernel that exits or crashes costs the full timeout.
    Every one of those reads goes through RunningKernel.get_message, so cutting the read into short
    polls with a liveness check between them notices a death within a second and otherwise leaves
    nbval's behaviour, timeouts included, as it was. (A watcher thread could not unblock the read.)
    """
    read = kernel.get_message

    def get_message(stream, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            try:
                return read(
                    stream, timeout=LIVENESS_POLL_S if left is None else max(0.0, min(left, LIVENESS_POLL_S))
                )
            except Empty:
                if left is not None and left <= LIVENESS_POLL_S:
                    raise
                if not kernel.is_alive():
                    kernel.stop()  # closes the channels and removes the connection file
                    raise KernelDied(KERNEL_DIED) from None

    return get_message


class _CellRecorder:
    """A pytest plugin that sets each cell's timeout, watches the kernel, and records how each cell ended."""

    def __init__(self, timeouts: dict[int, float], default_timeout: float):
        self.timeouts, self.default_timeout = timeouts, default_timeout
        self.outcomes: dict[int, CellOutcome] = {}

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        # nbval reads the timeout from the options for every cell it runs.
        item.config.option.nbval_cell_timeout = self.timeouts.get(item.cell_num, self.default_timeout)
        kernel = item.parent.kernel
        kernel.get_message = _watch_liveness(kernel)
        try:
            yield
        finally:
            del kernel.get_message  # back to the class's method

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        yield
        if call.when == "call":
            timeout = self.timeouts.get(item.cell_num, self.default_timeout)
            self.outcomes[item.cell_num] = _classify(
                call.excinfo, getattr(item, "test_outputs", None), timeout
            )


def _classify(excinfo, outputs, timeout: float) -> CellOutcome:
    if excinfo is None:
        return CellOutcome("passed", "")
    if excinfo.errisinstance(KernelDied):
        return CellOutcome("error", KERNEL_DIED)
    text = str(excinfo.value)
    if "Timeout" in text and "waiting for output" not in text:
        return CellOutcome("timeout", f"did not finish within {timeout:g} s")
    if "Kernel dead on test start" in text:
        return CellOutcome("error", KERNEL_GONE, kernel_gone=True)
    if "waiting for output" in text:
        return CellOutcome("error", KERNEL_GONE)
    error = next((out for out in outputs or [] if out.get("output_type") == "error"), None)
    if error is None:
        return CellOutcome("error", _summarize_traceback(text))
    ename, evalue = error["ename"], ANSI_ESCAPE.sub("", error["evalue"])
    if ename == "AssertionError":
        return CellOutcome("failed", evalue or "a check failed (AssertionError without a message)")
    if ename == "NotImplementedError":
        return CellOutcome("not_implemented", evalue or "not implemented yet")
    if ename == "KeyboardInterrupt":
        return CellOutcome("timeout", f"did not finish within {timeout:g} s")
    return CellOutcome("error", _summarize_traceback("\n".join(error["traceback"])))


def run_cells(path: Path, questions: list[Question], default_timeout: float) -> dict[int, CellOutcome]:
    """Each cell's outcome; when a cell ends the kernel, the cells after it come from a rerun without it.

    The cell that ended the kernel keeps its own outcome (an error that says so, or a timeout), and
    the cells before it keep theirs. At most one rerun per question, each past a later cell.
    """
    outcomes = _run_nbval(path, questions, default_timeout)
    skipped: list[int] = []
    for _ in questions:
        culprit = _kernel_ender(outcomes)
        if culprit is None or (skipped and culprit <= skipped[-1]):
            break
        if outcomes[culprit].status == "passed":  # the kernel went down once the cell had replied
            outcomes[culprit] = CellOutcome("error", KERNEL_DIED)
        skipped.append(culprit)
        rerun = _run_without(path, skipped, questions, default_timeout)
        outcomes = {cell: outcome for cell, outcome in outcomes.items() if cell <= culprit}
        outcomes.update((cell, outcome) for cell, outcome in rerun.items() if cell > culprit)
    return outcomes


def _kernel_ender(outcomes: dict[int, CellOutcome]) -> int | None:
    """The cell after which the kernel was gone: the one before the first cell that found it dead."""
    gone = [cell for cell, outcome in outcomes.items() if outcome.kernel_gone]
    if not gone:
        return None
    culprit = min(gone) - 1
    return culprit if culprit in outcomes else None


def _run_without(
    path: Path, skipped: list[int], questions: list[Question], default_timeout: float
) -> dict[int, CellOutcome]:
    """Runs a copy of the notebook whose skipped code cells do nothing, next to it so relative paths hold."""
    notebook = nbformat.read(path, as_version=4)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for cell_num in skipped:
        code_cells[cell_num].source = _stand_in(code_cells[cell_num].source)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}-rerun-", suffix=".ipynb", dir=path.parent)
    os.close(fd)
    copy = Path(name)
    try:
        nbformat.write(notebook, copy)
        return _run_nbval(copy, questions, default_timeout)
    finally:
        copy.unlink()


def _stand_in(source: str) -> str:
    """What runs in place of a cell that ended the kernel: only its top-level imports, which later cells may use."""
    try:
        body = ast.parse(source).body
    except SyntaxError:  # IPython syntax (a magic): nothing of it is kept
        body = []
    imports = [
        ast.get_source_segment(source, node)
        for node in body
        if isinstance(node, (ast.Import, ast.ImportFrom))
    ]
    return "\n".join(
        ["# The autograder skipped this cell (it ended the kernel) but for its imports.", *imports]
    )


def _run_nbval(path: Path, questions: list[Question], default_timeout: float) -> dict[int, CellOutcome]:
    """Runs the notebook under nbval (lax mode, this interpreter's kernel); returns each cell's outcome."""
    recorder = _CellRecorder({q.cell_num: q.timeout for q in questions if q.timeout}, default_timeout)
    args = [
        str(path),
        "--nbval-lax",
        "--nbval-current-env",
        f"--nbval-cell-timeout={default_timeout:g}",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        "-q",
        "--tb=no",
        "--no-header",
        "-o",
        "addopts=",
        f"--rootdir={path.parent}",
        "-W",
        "ignore",
    ]
    log = io.StringIO()
    with contextlib.redirect_stdout(log):  # the scorecard is the output; pytest's log only when it broke
        exit_code = pytest.main(args, plugins=[recorder])
    if not recorder.outcomes:
        print(
            f"nbval ran no cell of {path.name} (pytest exit code {exit_code}):\n{log.getvalue()}",
            file=sys.stderr,
        )
    return recorder.outcomes


def grade_notebook(path: Path, root: Path, default_timeout: float = 600) -> dict:
    """Grades one notebook whose repository root is root; returns the report dict."""
    notebook = nbformat.read(path, as_version=4)
    questions = graded_questions(notebook)
    failures = import_failures(root, imported_utils_modules(notebook))
    if failures:
        cause = "; ".join(f"utils/{m}.py does not import: {why}" for m, why in failures.items())
        outcomes = {
            q.cell_num: CellOutcome("error", cause + ". Fix this first: every question needs it.")
            for q in questions
        }
    else:
        cause = None
        outcomes = run_cells(path, questions, default_timeout)
    results = []
    for q in questions:
        outcome = outcomes.get(q.cell_num, CellOutcome("error", "the cell did not run"))
        earned = q.points if outcome.status == "passed" else 0.0
        results.append(Result(q.id, q.points, earned, outcome.status, outcome.message))
    report = {
        "notebook": path.relative_to(root).as_posix(),
        "questions": [asdict(r) for r in results],
        "earned": sum(r.earned for r in results),
        "max": sum(r.points for r in results),
    }
    if cause:
        report["cause"] = cause
    return report


def format_scorecard(report: dict) -> str:
    """The human-readable scorecard of one report."""
    lines = [f"== {report['notebook']}"]
    if report.get("cause"):
        lines.append(f"   {report['cause']}")
    width = max((len(q["id"]) for q in report["questions"]), default=10)
    for q in report["questions"]:
        mark = STATUS_MARKS.get(q["status"], q["status"])
        points = f"{q['earned']:g}/{q['points']:g}"
        line = f"  [{mark:>5}] {q['id']:<{width}}  {points:>7}"
        message = q["message"] if not report.get("cause") else ""
        if message:
            first, *rest = message.splitlines()
            line += f"  {first}"
            line += "".join(f"\n{'':>{width + 21}}{more}" for more in rest)
        lines.append(line)
    lines.append(f"  total {report['earned']:g}/{report['max']:g}")
    return "\n".join(lines)


def _reference_root(stack: contextlib.ExitStack) -> Path:
    """A temporary copy of the repository holding the reference solutions, removed with the stack."""
    sys.path.insert(0, str(REPO_ROOT))
    from tools.workspace import workspace  # instructor tooling: absent from a student release

    return stack.enter_context(workspace())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Grade notebooks and print a scorecard.")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook in assignments/")
    parser.add_argument(
        "--reference", action="store_true", help="grade the reference solutions in a temporary copy"
    )
    parser.add_argument(
        "--report-dir", type=Path, default=REPO_ROOT / "reports", help="where the JSON reports go"
    )
    parser.add_argument(
        "--timeout", type=float, default=300, help="seconds per cell, unless the cell says otherwise"
    )
    args = parser.parse_args(argv)

    notebooks = [p.resolve() for p in args.notebooks] or sorted((REPO_ROOT / "assignments").glob("*.ipynb"))
    for path in notebooks:
        if not path.is_file():
            parser.error(f"no notebook at {path}")
        if not path.is_relative_to(REPO_ROOT):
            parser.error(f"{path} is not inside the repository {REPO_ROOT}")
    with contextlib.ExitStack() as stack:
        try:
            root = _reference_root(stack) if args.reference else REPO_ROOT
        except (FileNotFoundError, ImportError) as err:
            parser.error(f"--reference needs the instructor's repository: {err}")
        args.report_dir.mkdir(parents=True, exist_ok=True)
        total, most = 0.0, 0.0
        for path in notebooks:
            report = grade_notebook(root / path.relative_to(REPO_ROOT), root, args.timeout)
            (args.report_dir / f"{path.stem}.json").write_text(json.dumps(report, indent=2) + "\n")
            print(format_scorecard(report), flush=True)
            total, most = total + report["earned"], most + report["max"]
        print(f"\nScore: {total:g}/{most:g}  (reports in {args.report_dir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
