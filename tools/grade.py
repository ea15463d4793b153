"""Batch grading of a class: `python -m tools.grade SUBMISSIONS_DIR --out grades/`.

A submission is one entry of SUBMISSIONS_DIR named after the student: a folder or a .zip holding their
`<topic>.py` modules (anywhere inside, `utils/<topic>.py` preferred). Notebooks in it are ignored: grading
always runs the canonical notebooks, so edits to graded cells change nothing. A topic left out is graded
as the untouched stub (every question not implemented).

Each submission is graded by `python -m utils.autograde` in its own process group and its own temporary
working copy, which holds only what a student's run needs (assignments/, utils/, pyproject.toml), never
solutions/ or tests/. The process runs with one thread, a memory limit (RLIMIT_DATA), a file-size limit,
a wall-clock limit for the whole submission (on top of the autograder's per-question limit) and, when
the grader runs as root with `unshare` and `ip` available, in a new network namespace with only
loopback (the notebook kernel talks to its runner over it); otherwise with the network as it is, which
the summary says. A submission that crashes, hangs, exhausts its memory or leaves no valid report costs
its own questions, with a message, and nothing else.

Not yet: hidden checks beyond the notebooks' public ones, and running the student's code in a child that
only returns outputs to be compared in the grader. Until then student code runs beside the public checks
and could read files the grading user can read.

Output, written as each submission finishes: `<out>/<student>.json` (the autograder's reports),
`<out>/grades.csv` (a row per student, a column per question, the total), and
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
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Iterator, Mapping

import nbformat

from tools.workspace import REPO_ROOT, install_modules
from utils.autograde import graded_questions

STUDENT_FILES = ("assignments", "utils", "pyproject.toml")  # what a student's run needs, and all a grading copy holds
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
    return min(candidates, key=lambda name: (not name.endswith(f"utils/{Path(name).name}"), name.count("/"), name))


def read_modules(submission: Path, names: list[str]) -> dict[str, str]:
    """{topic: source} of the modules a submission holds, read without extracting anything to disk."""
    wanted = {f"{name}.py": name for name in names}
    if submission.is_dir():
        files = [p for p in submission.rglob("*.py") if p.name in wanted and p.is_file() and not p.is_symlink()]
        by_name: dict[str, list[str]] = {}
        for p in files:
            by_name.setdefault(p.name, []).append(p.relative_to(submission).as_posix())
        return {wanted[name]: (submission / _pick(paths)).read_bytes()[:MAX_MODULE_BYTES].decode("utf-8", "replace")
                for name, paths in by_name.items()}
    with zipfile.ZipFile(submission) as archive:
        by_name = {}
        for info in archive.infolist():
            if Path(info.filename).name in wanted and not info.is_dir() and info.file_size <= MAX_MODULE_BYTES:
                by_name.setdefault(Path(info.filename).name, []).append(info.filename)
        return {wanted[name]: archive.read(_pick(paths)).decode("utf-8", "replace") for name, paths in by_name.items()}


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


def network_isolation() -> list[str] | None:
    """The command prefix that runs a process in a new network namespace with loopback up, or None."""
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        return None
    probe = subprocess.run(["unshare", "--net", "--", "sh", "-c", "ip link set lo up"], capture_output=True)
    return ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"] if probe.returncode == 0 else None


def _limits(memory_bytes: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 30, 1 << 30))  # no file above 1 GiB
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


@functools.lru_cache(maxsize=None)
def _questions(notebook: Path) -> tuple:
    """The canonical notebook's graded questions, parsed once per batch."""
    return tuple(graded_questions(nbformat.read(notebook, as_version=4)))


def _failed_report(notebook: Path, root: Path, status: str, message: str) -> dict:
    """A report in the autograder's format with every question of the notebook at 0 points."""
    questions = _questions(notebook)
    return {
        "notebook": notebook.relative_to(root).as_posix(),
        "questions": [{"id": q.id, "points": q.points, "earned": 0.0, "status": status, "message": message} for q in questions],
        "earned": 0.0, "max": sum(q.points for q in questions), "cause": message,
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
        return report["earned"] == sum(q["earned"] for q in questions) and report["max"] == sum(p for _, p in expected)
    except (KeyError, TypeError, AttributeError):
        return False


def grade_submission(
    student: str, modules: Mapping[str, str], notebooks: list[Path], question_timeout: float = 300,
    submission_timeout: float = 3600, memory_gb: float = 4, isolate: list[str] | None = None, root: Path = REPO_ROOT,
) -> dict:
    """Grades one student's modules on the canonical notebooks; returns {student, notebooks, earned, max, seconds}."""
    start = time.perf_counter()
    with grading_copy(modules, root) as copy:
        reports_dir = copy / "reports"
        relative = [n.relative_to(root).as_posix() for n in notebooks]
        command = [sys.executable, "-m", "utils.autograde", *relative, "--report-dir", str(reports_dir),
                   "--timeout", str(question_timeout)]
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        process = subprocess.Popen((isolate or []) + command, cwd=copy, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, start_new_session=True,
                                   preexec_fn=_limits(int(memory_gb * 2**30)))
        try:
            output, _ = process.communicate(timeout=submission_timeout)
            problem = None if process.returncode == 0 else f"the autograder exited with code {process.returncode}"
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            problem = f"the submission ran past its limit of {submission_timeout:g} s and was stopped"
        reports = []
        for notebook, rel in zip(notebooks, relative):
            path = reports_dir / f"{notebook.stem}.json"
            try:
                report = json.loads(path.read_text())
            except (OSError, ValueError):
                report = None
            if report is not None and _valid(report, notebook):  # against the canonical notebook, not the copy's
                reports.append(report)
            else:
                why = problem or "the autograder left no valid report (did the code end the process or write over it?)"
                reports.append(_failed_report(notebook, root, "timeout" if "limit" in why else "error", why))
    return {"student": student, "notebooks": reports, "earned": sum(r["earned"] for r in reports),
            "max": sum(r["max"] for r in reports), "seconds": round(time.perf_counter() - start, 1),
            "log_tail": output.decode("utf-8", "replace")[-2000:] if problem else ""}


def gradescope_results(result: dict) -> dict:
    """Gradescope's results.json for one graded submission."""
    tests = [{"name": f"{Path(r['notebook']).stem}: {q['id']}", "score": q["earned"], "max_score": q["points"],
              "status": "passed" if q["status"] == "passed" else "failed", "output": q["message"]}
             for r in result["notebooks"] for q in r["questions"]]
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
        earned = {f"{Path(r['notebook']).stem}/{q['id']}": q["earned"] for r in result["notebooks"] for q in r["questions"]}
        rows.append({"student": result["student"], **{c: f"{earned[c]:g}" if c in earned else "" for c in columns},
                     "total": f"{result['earned']:g}", "max": f"{result['max']:g}"})
    with tempfile.NamedTemporaryFile("w", newline="", dir=out, delete=False, suffix=".tmp") as handle:
        writer = csv.DictWriter(handle, fieldnames=["student", *columns, "total", "max"])
        writer.writeheader()
        writer.writerows(rows)
    Path(handle.name).replace(out / "grades.csv")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Grade a folder of submissions, each in its own process and copy.")
    parser.add_argument("submissions", type=Path, help="a folder with one folder or .zip per student")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "grades", help="where the grades go")
    parser.add_argument("--notebooks", nargs="*", type=Path, help="default: every notebook in assignments/")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="submissions graded at once")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per question, unless its cell says otherwise")
    parser.add_argument("--submission-timeout", type=float, default=3600, help="seconds for a whole submission")
    parser.add_argument("--memory-gb", type=float, default=4, help="memory limit of a submission's process (RLIMIT_DATA)")
    args = parser.parse_args(argv)

    if not args.submissions.is_dir():
        parser.error(f"no folder of submissions at {args.submissions}")
    notebooks = [p.resolve() for p in args.notebooks] if args.notebooks else sorted((REPO_ROOT / "assignments").glob("*.ipynb"))
    for path in notebooks:
        if not path.is_file() or not path.is_relative_to(REPO_ROOT / "assignments"):
            parser.error(f"{path} is not a notebook in {REPO_ROOT / 'assignments'}")
    submissions = find_submissions(args.submissions)
    if not submissions:
        parser.error(f"{args.submissions} holds no submission (a folder or a .zip per student)")
    args.out.mkdir(parents=True, exist_ok=True)
    isolate = network_isolation()
    print(f"{len(submissions)} submissions, {args.workers} workers; network: "
          + ("isolated (a new network namespace, loopback only)" if isolate else "NOT isolated (needs root, unshare and ip)"))

    names, lock, start = topics(), threading.Lock(), time.perf_counter()

    def grade(student: str, path: Path) -> dict:
        try:
            modules = read_modules(path, names)
        except (OSError, zipfile.BadZipFile) as error:
            modules, note = {}, f"could not read the submission: {error}"
        else:
            note = ""
        result = grade_submission(student, modules, notebooks, args.timeout, args.submission_timeout, args.memory_gb, isolate)
        result["note"] = note or f"modules found: {', '.join(sorted(modules)) or 'none'}"
        with lock:  # results land as each submission finishes: a crash mid-batch keeps them
            _write_atomically(args.out / f"{student}.json", json.dumps(result, indent=2) + "\n")
            _write_atomically(args.out / "gradescope" / student / "results.json", json.dumps(gradescope_results(result), indent=2) + "\n")
            write_grades_csv(args.out)
        return result

    with ThreadPoolExecutor(max_workers=max(1, args.workers)) as pool:
        futures = [pool.submit(grade, student, path) for student, path in submissions.items()]
        for future in as_completed(futures):
            result = future.result()
            print(f"  {result['student']:<24} {result['earned']:g}/{result['max']:g}  ({result['seconds']:.0f} s)", flush=True)
    minutes = (time.perf_counter() - start) / 60
    print(f"graded {len(submissions)} submissions in {minutes:.1f} min ({len(submissions) / minutes:.1f} per minute); "
          f"grades in {args.out / 'grades.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
