"""Batch grading of a class: `python -m tools.grade SUBMISSIONS_DIR --out grades/`.

A submission is one entry of SUBMISSIONS_DIR named after the student: a folder or a .zip holding their
`<topic>.py` modules (anywhere inside, `utils/<topic>.py` preferred). Notebooks in it are ignored: grading
always runs the canonical notebooks, so edits to graded cells change nothing. A topic left out is graded
as the untouched stub (every question not implemented).

Each submission is graded in two steps, both in its own temporary working copy, which holds only what a
student's run needs (assignments/, utils/, pyproject.toml), never solutions/, tools/ or tests/:
1. `python -m utils.autograde` runs the canonical notebooks and their public checks;
2. the hidden checks (tools/hidden_checks.py) call the student's functions on randomized inputs in a
   child process (tools/sandbox.py) that only returns outputs; the comparison with the reference happens
   here, in the grader. A question keeps its points only when both agree.
Every process of a submission runs with one thread, a memory limit (RLIMIT_DATA), a file-size limit and
a wall-clock limit (per question, per hidden check, per submission). When the grader runs as root with
unshare, ip and setpriv, they also run in new network (loopback only: the notebook kernel talks to its
runner over it), mount and PID namespaces, with the instructor's folders, the submissions and the grades
hidden behind empty read-only mounts, as an unprivileged user of their own that owns the copy (so no
submission can read or change another's); otherwise as this user, with the network, which the batch's
first line says. A submission that crashes, hangs, exhausts its memory or leaves no valid report costs
its own questions, with a message, and nothing else.

Output, written as each submission finishes: `<out>/<student>.json` (the reports, with each hidden-checked
question's tally), `<out>/grades.csv` (a row per student, a column per question, the total), and
`<out>/gradescope/<student>/results.json` in Gradescope's format.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import functools
import json
import os
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import nbformat

from tools.hidden_checks import CASES, run_hidden_checks
from tools.sandbox import Child
from tools.workspace import REPO_ROOT, install_modules
from utils.autograde import graded_questions, imported_utils_modules

STUDENT_FILES = (
    "assignments",
    "utils",
    "pyproject.toml",
)  # what a student's run needs, and all a grading copy holds
MAX_MODULE_BYTES = 1_000_000  # a student module larger than this is not read


def topics(root: Path = REPO_ROOT) -> list[str]:
    """The student modules: one per reference module in solutions/."""
    return sorted(p.stem for p in (root / "solutions").glob("*.py") if p.name != "__init__.py")


def find_submissions(folder: Path) -> dict[str, Path]:
    """{student: path} for every folder and .zip in folder (hidden entries skipped)."""
    found = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir() or entry.suffix == ".zip":
            found[entry.stem if entry.suffix == ".zip" else entry.name] = entry
    return found


def _pick(candidates: list[str]) -> str:
    """The best of several paths of one module name: utils/<topic>.py first, then the shallowest."""
    return min(
        candidates, key=lambda name: (not name.endswith(f"utils/{Path(name).name}"), name.count("/"), name)
    )


def read_modules(submission: Path, names: list[str]) -> dict[str, str]:
    """{topic: source} of the modules a submission holds, read without extracting anything to disk."""
    wanted = {f"{name}.py": name for name in names}
    if submission.is_dir():
        files = [
            p for p in submission.rglob("*.py") if p.name in wanted and p.is_file() and not p.is_symlink()
        ]
        by_name: dict[str, list[str]] = {}
        for p in files:
            by_name.setdefault(p.name, []).append(p.relative_to(submission).as_posix())
        return {
            wanted[name]: (submission / _pick(paths))
            .read_bytes()[:MAX_MODULE_BYTES]
            .decode("utf-8", "replace")
            for name, paths in by_name.items()
        }
    with zipfile.ZipFile(submission) as archive:
        by_name = {}
        for info in archive.infolist():
            if (
                Path(info.filename).name in wanted
                and not info.is_dir()
                and info.file_size <= MAX_MODULE_BYTES
            ):
                by_name.setdefault(Path(info.filename).name, []).append(info.filename)
        return {
            wanted[name]: archive.read(_pick(paths)).decode("utf-8", "replace")
            for name, paths in by_name.items()
        }


@contextlib.contextmanager
def grading_copy(modules: Mapping[str, str], root: Path = REPO_ROOT) -> Iterator[Path]:
    """A temporary folder with STUDENT_FILES of the repository, datasets/ linked, and the given modules."""
    with tempfile.TemporaryDirectory(prefix="losslab-grade-") as tmp:
        path = Path(tmp) / "repo"
        path.mkdir()
        for name in STUDENT_FILES:
            source = root / name
            if source.is_dir():
                shutil.copytree(source, path / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            elif source.is_file():
                shutil.copy2(source, path / name)
        if (root / "datasets").is_dir():
            (path / "datasets").symlink_to((root / "datasets").resolve(), target_is_directory=True)
        install_modules(path, modules)
        yield path


HIDDEN_PATHS = (
    "solutions",
    "tools",
    "tests",
    "benchmarks",
    ".git",
)  # of the repository, hidden from student code
FIRST_STUDENT_UID = 61000  # student i's processes run as FIRST_STUDENT_UID + i


def _unreachable_ancestor(path: Path) -> tuple[Path, Path] | None:
    """(A, K) for the outermost ancestor A of path that others may not traverse (a 0700 home holding the
    interpreter), K being A's child on the way to path; None when every ancestor is open."""
    parts = path.resolve().parents
    for ancestor, child in zip(reversed(parts[:-1]), reversed((path.resolve(), *parts)[:-2])):
        if not ancestor.stat().st_mode & 0o001:
            return ancestor, child
    return None


def isolation_prefix(hidden: list[Path], uid: int | None, stash: Path | None = None) -> list[str]:
    """The command prefix that runs a command in new network (loopback only), mount and PID namespaces, with
    an empty read-only folder mounted over each hidden path, as the unprivileged user uid (None: as root).

    When the interpreter lives under a folder others cannot enter (e.g. /root), an empty folder is mounted
    over that folder too and only the interpreter's branch is moved back into it, through stash (an empty
    folder of ours): the user can run Python without seeing the rest."""
    steps = ["ip link set lo up"] + [
        f"mount -t tmpfs -o size=64k,mode=555 none {shlex.quote(str(p))}" for p in hidden
    ]
    blocked = _unreachable_ancestor(Path(sys.prefix)) if uid is not None else None
    if blocked and stash:
        ancestor, child = (shlex.quote(str(p)) for p in blocked)
        steps += [
            f"mount --bind {child} {stash}",
            f"mount -t tmpfs -o size=64k,mode=755 none {ancestor}",
            f"mkdir {child}",
            f"mount --move {stash} {child}",
        ]
    run = (
        f'exec setpriv --reuid {uid} --regid {uid} --clear-groups -- "$@"' if uid is not None else 'exec "$@"'
    )
    script = " && ".join(steps + [run])
    return ["unshare", "--net", "--mount", "--pid", "--fork", "--mount-proc", "--", "sh", "-c", script, "sh"]


def isolation_user(hidden: list[Path], stash: Path) -> tuple[bool, bool]:
    """(namespaces work, an unprivileged user can run the grading there): root with unshare, ip and setpriv."""
    if os.geteuid() != 0 or not all(shutil.which(tool) for tool in ("unshare", "ip", "setpriv")):
        return False, False
    probe = [sys.executable, "-c", "import torch, nbformat, nbval"]
    for uid in (FIRST_STUDENT_UID, None):
        if (
            subprocess.run(
                [*isolation_prefix(hidden, uid, stash), *probe], capture_output=True, cwd="/"
            ).returncode
            == 0
        ):
            return True, uid is not None
    return False, False


def hidden_paths(out: Path, submissions: Path, root: Path = REPO_ROOT) -> list[Path]:
    """What student code must not see: the instructor's folders, every submission and the grades."""
    paths = [root / name for name in HIDDEN_PATHS] + [submissions, out]
    return [p.resolve() for p in paths if p.exists()]


def hand_over(copy: Path, uid: int) -> None:
    """Gives the grading copy to uid, closed to everyone else (other students' processes included)."""
    copy.parent.chmod(0o711)
    for path in [copy, *copy.rglob("*")]:
        if not path.is_symlink():
            os.chown(path, uid, uid)
    copy.chmod(0o700)


def _limits(memory_bytes: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 30, 1 << 30))  # no file above 1 GiB
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


@functools.cache
def _questions(notebook: Path) -> tuple:
    """The canonical notebook's graded questions, parsed once per batch."""
    return tuple(graded_questions(nbformat.read(notebook, as_version=4)))


@functools.cache
def _hidden_topic(notebook: Path) -> str | None:
    """The student module the notebook grades that has hidden checks, found once per batch."""
    return next(
        (t for t in imported_utils_modules(nbformat.read(notebook, as_version=4)) if t in CASES), None
    )


def _failed_report(notebook: Path, root: Path, status: str, message: str) -> dict:
    """A report in the autograder's format with every question of the notebook at 0 points."""
    questions = _questions(notebook)
    return {
        "notebook": notebook.relative_to(root).as_posix(),
        "questions": [
            {"id": q.id, "points": q.points, "earned": 0.0, "status": status, "message": message}
            for q in questions
        ],
        "earned": 0.0,
        "max": sum(q.points for q in questions),
        "cause": message,
    }


def _valid(report, notebook: Path) -> bool:
    """The report has exactly the canonical questions and points, and points only for passed questions
    (student code shares the copy with it, so it is checked, not trusted)."""
    try:
        expected = [(q.id, q.points) for q in _questions(notebook)]
        questions = report["questions"]
        if [(q["id"], q["points"]) for q in questions] != expected:
            return False
        if any(q["earned"] != (q["points"] if q["status"] == "passed" else 0.0) for q in questions):
            return False
        return report["earned"] == sum(q["earned"] for q in questions) and report["max"] == sum(
            p for _, p in expected
        )
    except (KeyError, TypeError, AttributeError):
        return False


@dataclass(frozen=True)
class Limits:
    question_timeout: float = 300  # seconds per notebook question, unless its cell says otherwise
    submission_timeout: float = 3600  # seconds for a submission's notebooks, and again for its hidden checks
    call_timeout: float = 20  # seconds per hidden check
    memory_gb: float = 4  # RLIMIT_DATA of every process of the submission


@dataclass(frozen=True)
class Launch:
    """How every process of a submission starts."""

    prefix: list[str]  # isolation_prefix's command, or nothing
    env: dict[str, str]
    preexec_fn: Callable[[], None]  # the resource limits


def _run_notebooks(
    copy: Path, notebooks: list[Path], root: Path, limits: Limits, launch: Launch
) -> tuple[list[dict], str]:
    """The autograder's validated reports of each notebook in the copy (0 points where none is valid), and
    the log's tail when the run went wrong."""
    reports_dir = copy / "reports"
    command = [
        sys.executable,
        "-m",
        "utils.autograde",
        *(n.relative_to(root).as_posix() for n in notebooks),
        "--report-dir",
        str(reports_dir),
        "--timeout",
        str(limits.question_timeout),
    ]
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
        output, _ = process.communicate(timeout=limits.submission_timeout)
        problem = None if process.returncode == 0 else f"the autograder exited with code {process.returncode}"
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        problem = f"the submission ran past its limit of {limits.submission_timeout:g} s and was stopped"
    reports = []
    for notebook in notebooks:
        try:
            report = json.loads((reports_dir / f"{notebook.stem}.json").read_text())
        except (OSError, ValueError):
            report = None
        if report is not None and _valid(report, notebook):  # against the canonical notebook, not the copy's
            reports.append(report)
        else:
            why = (
                problem
                or "the autograder left no valid report (did the code end the process or write over it?)"
            )
            reports.append(_failed_report(notebook, root, "timeout" if "limit" in why else "error", why))
    return reports, output.decode("utf-8", "replace")[-2000:] if problem else ""


def _apply_hidden_checks(
    report: dict, notebook: Path, modules: Mapping[str, str], copy: Path, limits: Limits, launch: Launch
) -> None:
    """Runs the hidden checks of the questions the notebook passed, in a child in the copy, and takes the
    points of every question whose hidden checks disagree with the reference."""
    topic = _hidden_topic(notebook)
    passed = {q["id"] for q in report["questions"] if q["status"] == "passed"}
    if topic is None or topic not in modules or not passed:
        return  # an untouched stub passes nothing

    def start_child() -> Child:
        return Child(topic, copy, launch.prefix, launch.env, launch.preexec_fn)

    verdicts = run_hidden_checks(
        topic, passed, start_child, limits.call_timeout, deadline=time.monotonic() + limits.submission_timeout
    )
    for question in report["questions"]:
        verdict = verdicts.get(question["id"])
        if verdict is None:
            continue
        total = verdict.passed + len(verdict.failures)
        question["hidden"] = f"{verdict.passed}/{total} passed"
        if verdict.failures:
            question.update(
                status="failed",
                earned=0.0,
                message=(
                    f"passed the notebook's checks but {len(verdict.failures)} of {total} hidden checks failed; "
                    f"the first: {verdict.failures[0]}"
                ),
            )
    report["earned"] = sum(q["earned"] for q in report["questions"])


def grade_submission(
    student: str,
    modules: Mapping[str, str],
    notebooks: list[Path],
    limits: Limits = Limits(),
    prefix: list[str] | None = None,
    uid: int | None = None,
    root: Path = REPO_ROOT,
) -> dict:
    """Grades one student's modules on the canonical notebooks and the hidden checks; returns {student,
    notebooks, earned, max, seconds, log_tail}. With prefix and uid, every process of the submission runs
    under that prefix (see isolation_prefix) as uid."""
    start = time.perf_counter()
    with grading_copy(modules, root) as copy:
        home = copy / ".home"  # caches and runtime files of jupyter and matplotlib
        home.mkdir()
        if uid is not None:
            hand_over(copy, uid)
        launch = Launch(
            prefix or [],
            preexec_fn=_limits(int(limits.memory_gb * 2**30)),
            env={
                **os.environ,
                "HOME": str(home),
                "OMP_NUM_THREADS": "1",
                "MKL_NUM_THREADS": "1",
                "PYTHONDONTWRITEBYTECODE": "1",
                "MPLCONFIGDIR": str(home / "matplotlib"),
            },
        )
        reports, log_tail = _run_notebooks(copy, notebooks, root, limits, launch)
        for report, notebook in zip(reports, notebooks):
            _apply_hidden_checks(report, notebook, modules, copy, limits, launch)
    return {
        "student": student,
        "notebooks": reports,
        "earned": sum(r["earned"] for r in reports),
        "max": sum(r["max"] for r in reports),
        "seconds": round(time.perf_counter() - start, 1),
        "log_tail": log_tail,
    }


def gradescope_results(result: dict) -> dict:
    """Gradescope's results.json for one graded submission."""
    tests = [
        {
            "name": f"{Path(r['notebook']).stem}: {q['id']}",
            "score": q["earned"],
            "max_score": q["points"],
            "status": "passed" if q["status"] == "passed" else "failed",
            "output": q["message"],
        }
        for r in result["notebooks"]
        for q in r["questions"]
    ]
    return {"score": result["earned"], "output": f"{result['earned']:g}/{result['max']:g}", "tests": tests}


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    temporary.replace(path)


def write_grades_csv(out: Path) -> None:
    """grades.csv from every <student>.json in out: a row per student, a column per question, the total."""
    results = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    columns = []
    for result in results:
        for r in result["notebooks"]:
            for q in r["questions"]:
                name = f"{Path(r['notebook']).stem}/{q['id']}"
                if name not in columns:
                    columns.append(name)
    rows = []
    for result in results:
        earned = {
            f"{Path(r['notebook']).stem}/{q['id']}": q["earned"]
            for r in result["notebooks"]
            for q in r["questions"]
        }
        rows.append(
            {
                "student": result["student"],
                **{c: f"{earned[c]:g}" if c in earned else "" for c in columns},
                "total": f"{result['earned']:g}",
                "max": f"{result['max']:g}",
            }
        )
    with tempfile.NamedTemporaryFile("w", newline="", dir=out, delete=False, suffix=".tmp") as handle:
        writer = csv.DictWriter(handle, fieldnames=["student", *columns, "total", "max"])
        writer.writeheader()
        writer.writerows(rows)
    Path(handle.name).replace(out / "grades.csv")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Grade a folder of submissions, each in its own process and copy."
    )
    parser.add_argument("submissions", type=Path, help="a folder with one folder or .zip per student")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "grades", help="where the grades go")
    parser.add_argument("--notebooks", nargs="*", type=Path, help="default: every notebook in assignments/")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="submissions graded at once")
    parser.add_argument(
        "--timeout", type=float, default=300, help="seconds per question, unless its cell says otherwise"
    )
    parser.add_argument(
        "--submission-timeout",
        type=float,
        default=3600,
        help="seconds for a submission's notebooks (and again for its hidden checks)",
    )
    parser.add_argument("--call-timeout", type=float, default=20, help="seconds per hidden check")
    parser.add_argument(
        "--memory-gb", type=float, default=4, help="memory limit of a submission's processes (RLIMIT_DATA)"
    )
    args = parser.parse_args(argv)

    if not args.submissions.is_dir():
        parser.error(f"no folder of submissions at {args.submissions}")
    notebooks = (
        [p.resolve() for p in args.notebooks]
        if args.notebooks
        else sorted((REPO_ROOT / "assignments").glob("*.ipynb"))
    )
    for path in notebooks:
        if not path.is_file() or not path.is_relative_to(REPO_ROOT / "assignments"):
            parser.error(f"{path} is not a notebook in {REPO_ROOT / 'assignments'}")
    submissions = find_submissions(args.submissions)
    if not submissions:
        parser.error(f"{args.submissions} holds no submission (a folder or a .zip per student)")
    args.out.mkdir(parents=True, exist_ok=True)
    limits = Limits(args.timeout, args.submission_timeout, args.call_timeout, args.memory_gb)
    hidden = hidden_paths(args.out, args.submissions)
    stash = Path(tempfile.mkdtemp(prefix="losslab-stash-"))
    stash.chmod(0o755)
    isolated, unprivileged = isolation_user(hidden, stash)
    print(
        f"{len(submissions)} submissions, {args.workers} workers; "
        + (
            "NOT isolated (needs root with unshare, ip and setpriv): student code runs as this user, with the network, "
            "and can read what this user can"
            if not isolated
            else f"isolated: new network (loopback only), mount and PID namespaces; {', '.join(HIDDEN_PATHS)}, the submissions "
            "and the grades hidden; "
            + (
                "one unprivileged user per student"
                if unprivileged
                else "as root (no unprivileged user could run the interpreter here)"
            )
        )
    )

    names, lock, start = topics(), threading.Lock(), time.perf_counter()

    def grade(index: int, student: str, path: Path) -> dict:
        try:
            modules = read_modules(path, names)
        except (OSError, zipfile.BadZipFile) as error:
            modules, note = {}, f"could not read the submission: {error}"
        else:
            note = ""
        uid = FIRST_STUDENT_UID + index if unprivileged else None
        prefix = isolation_prefix(hidden, uid, stash) if isolated else None
        result = grade_submission(student, modules, notebooks, limits, prefix, uid)
        result["note"] = note or f"modules found: {', '.join(sorted(modules)) or 'none'}"
        with lock:  # results land as each submission finishes: a crash mid-batch keeps them
            _write_atomically(args.out / f"{student}.json", json.dumps(result, indent=2) + "\n")
            _write_atomically(
                args.out / "gradescope" / student / "results.json",
                json.dumps(gradescope_results(result), indent=2) + "\n",
            )
            write_grades_csv(args.out)
        return result

    with ThreadPoolExecutor(max_workers=max(1, args.workers)) as pool:
        futures = [
            pool.submit(grade, i, student, path) for i, (student, path) in enumerate(submissions.items())
        ]
        for future in as_completed(futures):
            result = future.result()
            print(
                f"  {result['student']:<24} {result['earned']:g}/{result['max']:g}  ({result['seconds']:.0f} s)",
                flush=True,
            )
    stash.rmdir()
    minutes = (time.perf_counter() - start) / 60
    print(
        f"graded {len(submissions)} submissions in {minutes:.1f} min ({len(submissions) / minutes:.1f} per minute); "
        f"grades in {args.out / 'grades.csv'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
