"""tools.grade on a small class of generated submissions: correct ones (the reference in a zip, in a folder with
a try at the grades, and one written differently) get full marks, mutants lose exactly their questions (one
only the hidden checks catch), and broken or hostile ones (tests/hostile.py: a syntax error, a memory bomb, a
process exit, a hang, reading solutions/ here or any copy anywhere on disk, unmounting, a fork bomb, detached
children, filling the disk, reaching the host's loopback, setuid(0), writing to the grades, monkeypatching the
checks) are contained and reported without touching anyone else's grade. One notebook (assignment 1) keeps it
quick."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from tests import hostile
from tests.mutants import failing_questions
from tools.grade.outputs import BATCH, result_paths, validated
from tools.grade.submissions import find_submissions, read_modules
from tools.teeth import linear_classifier as linear
from utils.course import REPO_ROOT, by_topic
from utils.graded_cells import graded_cells
from utils.results import NotebookReport, Status
from utils.settings import QUESTION_TIMEOUT

pytestmark = pytest.mark.slow  # runs notebooks or a class: the full suite and CI run it

NOTEBOOK = by_topic("linear_classifier").notebook
REFERENCE = hostile.REFERENCE
STUB = hostile.STUB


def reads_the_solutions() -> str:
    """The stub that, on import, takes the reference from the instructor's folder if it can read it."""
    path = REPO_ROOT / "solutions" / "linear_classifier.py"
    return STUB + f"\ntry:\n    exec(open({str(path)!r}).read())\nexcept OSError:\n    pass\n"


def writes_to_the_grades(out) -> str:
    """The reference that, on import, tries to overwrite the grades and a classmate's report."""
    return REFERENCE + (
        f"\nfor _name in ('grades.csv', 'ada_reference.json', 'kim_writes_grades.json'):\n"
        f"    try:\n        open({str(out)!r} + '/' + _name, 'w').write('hacked')\n    except OSError:\n        pass\n"
    )


# The mutant's wrong gradient, with the public check of its question replaced by one that always passes.
MONKEYPATCHES = linear.MUTANTS["regularization_gradient_left_out"].source + (
    "\nimport utils.checks.linear_classifier as _checks\n_checks.check_svm_loss = lambda *args, **kwargs: None\n"
)


@contextlib.contextmanager
def planted_solutions(tmp: Path) -> Iterator[list[Path]]:
    """Copies of the reference in /tmp (tmp) and under this user's home folder, removed afterwards."""
    home_copy = Path.home() / f".losslab-planted-{os.getpid()}"
    copies = [tmp / "last_term" / "solutions", home_copy / "solutions"]
    try:
        for folder in copies:
            folder.mkdir(parents=True)
            (folder / "linear_classifier.py").write_text(REFERENCE)
        yield copies
    finally:
        shutil.rmtree(home_copy, ignore_errors=True)


@contextlib.contextmanager
def loopback_server() -> Iterator[tuple[int, list[bytes]]]:
    """A server on the host's 127.0.0.1 that records what anyone sends it: (its port, the messages)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    received: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            with connection:
                connection.settimeout(2)
                with contextlib.suppress(OSError):
                    received.append(connection.recv(64) or b"connected")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], received
    finally:
        stop.set()
        thread.join()
        server.close()


def survivors() -> list[int]:
    """Processes of this machine whose command line says they were meant to outlive their submission."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            if hostile.SURVIVOR.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
    return found


@pytest.fixture(scope="module")
def reference_limits(tmp_path_factory) -> Path:
    """A folder whose .batch.json holds the limits derived from the reference's run on assignment 1, as
    setup.sh's last command records them on Gradescope: timed once, for this module's two batches."""
    out = tmp_path_factory.mktemp("limits")
    command = [sys.executable, "-m", "tools.grade", "--limits-only", "--out", str(out), "--workers", "1"]
    proc = subprocess.run([*command, "--notebooks", NOTEBOOK], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory, reference_limits):
    root = tmp_path_factory.mktemp("class")
    submissions, out = root / "submissions", root / "grades"
    out.mkdir()
    shutil.copy(reference_limits / BATCH, out / BATCH)  # the batch resumes its limits
    with planted_solutions(root) as planted, loopback_server() as (port, received):
        modules = {
            "ray_written_differently": linear.ALTERNATIVE,
            "sam_squeezes_a_batch_of_one": linear.HIDDEN_ONLY_MUTANTS[
                "predict_squeezes_a_batch_of_one"
            ].source,
            "ivy_monkeypatches_checks": MONKEYPATCHES,
            "jo_reads_solutions": reads_the_solutions(),
            "kim_writes_grades": writes_to_the_grades(out),
            "bo_mutant": linear.MUTANTS["predict_with_argmin"].source,
            "cy_syntax_error": REFERENCE + "\ndef broken(:\n    pass\n",
            "di_memory_bomb": hostile.hostile("    hog = bytearray(16 * 2**30)\n"),
            "ed_exits": hostile.hostile("    import os; os._exit(0)\n"),
            "fay_hangs": hostile.hostile("    while True:\n        pass\n"),
            "lee_searches_the_disk": hostile.searches_the_disk(),
            "mo_unmounts": hostile.unmounts_then_searches(),
            "nat_forks": hostile.FORKS_UNTIL_THE_LIMIT,
            "pat_leaves_children": hostile.LEAVES_CHILDREN,
            "quin_fills_the_disk": hostile.WRITES_UNTIL_IT_FAILS,
            "ren_phones_home": hostile.connects_to(port),
            "sol_becomes_root": hostile.BECOMES_ROOT,
            "tex_patches_everything": hostile.patches_every_check(),
        }
        for student, source in modules.items():
            folder = submissions / student / "utils"
            folder.mkdir(parents=True)
            (folder / "linear_classifier.py").write_text(source)
        (submissions / "gus_notebook_only").mkdir()
        (submissions / "gus_notebook_only" / "01_linear_classifiers.ipynb").write_text("{}")
        with zipfile.ZipFile(submissions / "ada_reference.zip", "w") as archive:
            archive.writestr("homework/utils/linear_classifier.py", REFERENCE)
        # No --timeout: each cell's limit follows the reference's time, so the hang costs seconds per cell.
        command = [sys.executable, "-m", "tools.grade", str(submissions), "--out", str(out)]
        command += [
            "--notebooks",
            NOTEBOOK,
            "--workers",
            "2",
            "--submission-timeout",
            "300",
            "--memory-gb",
            "3",
        ]
        try:
            proc = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=1500)
        finally:
            left = survivors()
            for pid in left:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        found_outside = subprocess.run(
            [sys.executable, "-c", hostile.FIND + "print(_find_solutions() is not None)"],
            capture_output=True,
            text=True,
            timeout=600,
        ).stdout.strip()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = {p.stem: json.loads(p.read_text()) for p in result_paths(out)}
    escape = {"survivors": left, "received": received, "found_outside": found_outside, "planted": planted}
    return results, out, proc.stdout, escape


def statuses(result: dict) -> dict[str, str]:
    return {q["id"]: q["status"] for q in result["notebooks"][0]["questions"]}


def test_correct_submissions_get_full_marks_from_a_folder_or_a_zip(graded_class):
    results = graded_class[0]
    for student in ("ada_reference", "kim_writes_grades", "ray_written_differently"):  # a zip, then folders
        assert results[student]["earned"] == results[student]["max"] == 29, results[student]
    hidden = {q["id"]: q.get("hidden") for q in results["ada_reference"]["notebooks"][0]["questions"]}
    assert hidden["svm_loss_vectorized"] == "3/3 passed" and hidden["svm_search"] == "1/1 passed"


def test_a_mutant_loses_exactly_its_questions(graded_class):
    results = graded_class[0]
    failed = {q for q, s in statuses(results["bo_mutant"]).items() if s != "passed"}
    assert failed == failing_questions(linear.MUTANTS["predict_with_argmin"])


def test_a_mistake_only_the_hidden_checks_catch_costs_its_question(graded_class):
    results = graded_class[0]
    questions = {q["id"]: q for q in results["sam_squeezes_a_batch_of_one"]["notebooks"][0]["questions"]}
    assert {q for q, v in questions.items() if v["status"] != "passed"} == {"predict_linear_classifier"}
    message = questions["predict_linear_classifier"]["message"]
    assert "1 of 2 hidden checks failed" in message and "has shape ()" in message


def test_monkeypatched_checks_do_not_earn_the_points(graded_class):
    results = graded_class[0]
    questions = {q["id"]: q for q in results["ivy_monkeypatches_checks"]["notebooks"][0]["questions"]}
    assert questions["svm_loss_vectorized"]["status"] == "failed"
    assert "hidden checks failed" in questions["svm_loss_vectorized"]["message"]


def require_isolation(stdout: str) -> None:
    """Skips where bubblewrap is missing; where it is installed, the grader must be using it."""
    if "NOT isolated" in stdout:
        if shutil.which("bwrap"):
            pytest.fail(f"bubblewrap is installed but the grader did not isolate: {stdout.splitlines()[0]}")
        pytest.skip("bubblewrap is not installed here (apt-get install bubblewrap)")


def questions(result: dict) -> dict[str, dict]:
    return {q["id"]: q for q in result["notebooks"][0]["questions"]}


def test_the_solutions_and_the_grades_are_out_of_reach(graded_class):
    results, out, stdout, escape = graded_class
    require_isolation(stdout)
    assert escape["found_outside"] == "True"  # outside the sandbox, the search finds a planted copy
    for student in ("jo_reads_solutions", "lee_searches_the_disk", "mo_unmounts"):
        assert results[student]["earned"] == 0, student
        assert set(statuses(results[student]).values()) == {"not_implemented"}, student
    assert results["kim_writes_grades"]["earned"] == 29 and results["ada_reference"]["earned"] == 29
    assert not any("hacked" in p.read_text() for p in out.rglob("*") if p.is_file())


def test_hostile_processes_are_contained_and_lose_their_points(graded_class):
    results, _, stdout, escape = graded_class
    require_isolation(stdout)
    expected = {
        "nat_forks": "fork failed after",  # the process cap holds
        "pat_leaves_children": "left a detached child running",
        "quin_fills_the_disk": "File too large",  # at 1 GiB, not 4
        "ren_phones_home": "ConnectionRefusedError",  # the sandbox's loopback is its own
        "sol_becomes_root": "PermissionError",
    }
    for student, why in expected.items():
        first = questions(results[student])["svm_loss_naive"]
        assert first["status"] == "error" and why in first["message"], (student, first)
        assert results[student]["earned"] < 29, student
    assert escape["survivors"] == [] and escape["received"] == []


def test_a_submission_that_patches_every_check_earns_nothing(graded_class):
    """The stubs with every public check patched to pass: every question has hidden cases, so it earns 0."""
    earned = {q["id"] for q in questions(graded_class[0]["tex_patches_everything"]).values() if q["earned"]}
    assert not earned, earned


def test_a_hang_costs_each_cell_its_limit_from_the_reference(graded_class):
    results, out, _, _ = graded_class
    limits = json.loads((out / ".batch.json").read_text())["cell_limits"][NOTEBOOK]
    naive = next(
        c
        for c in graded_cells(
            nbformat.read(REPO_ROOT / NOTEBOOK, as_version=4), by_topic("linear_classifier")
        )
        if c.id == "svm_loss_naive"
    )
    hang = questions(results["fay_hangs"])
    assert hang["svm_loss_naive"]["status"] == "timeout"
    assert hang["svm_loss_naive"]["message"] == f"did not finish within {limits[str(naive.cell_num)]:g} s"
    assert limits[str(naive.cell_num)] < QUESTION_TIMEOUT.default  # derived, not the fixed default
    assert hang["svm_loss_vectorized"]["status"] == "passed"  # the cells after it go on
    # Seen to hang once, svm_loss_naive is stopped early on every later call (utils/watch.py): the hang costs
    # what the same function ending its process costs, and the later questions say which function hung.
    lost = {q for q, s in statuses(results["fay_hangs"]).items() if s != "passed"}
    assert lost == {q for q, s in statuses(results["ed_exits"]).items() if s != "passed"}
    later = {q: hang[q]["message"] for q in lost - {"svm_loss_naive"}}
    assert later and all("svm_loss_naive did not return within" in m for m in later.values()), later


def test_broken_and_hostile_submissions_are_contained_and_reported(graded_class):
    results = graded_class[0]
    assert set(statuses(results["cy_syntax_error"]).values()) == {"error"}
    assert "SyntaxError" in results["cy_syntax_error"]["notebooks"][0]["cause"]
    bomb = results["di_memory_bomb"]["notebooks"][0]["questions"]
    assert bomb[0]["status"] == "error" and "MemoryError" in bomb[0]["message"]
    assert {q["id"]: q["status"] for q in bomb}["svm_loss_vectorized"] == "passed"  # the rest still grades
    exits = results["ed_exits"]["notebooks"][0]["questions"]
    lost = {q["id"] for q in exits if q["status"] != "passed"}
    assert lost == {
        "svm_loss_naive",
        "svm_vectorized_speedup",
    }  # the two questions that call the exiting function
    assert "kernel died" in exits[0]["message"] and results["ed_exits"]["earned"] == 25
    nothing = results["gus_notebook_only"]
    assert set(statuses(nothing).values()) == {"not_implemented"} and nothing["note"] == "modules found: none"


def test_grades_csv_and_gradescope_results(graded_class):
    results, out, stdout, _ = graded_class
    rows = {row["student"]: row for row in csv.DictReader((out / "grades.csv").open())}
    assert set(rows) == set(results) and len(results) == 20
    assert (
        rows["ada_reference"]["total"] == "29"
        and rows["bo_mutant"]["01_linear_classifiers/predict_linear_classifier"] == "0"
    )
    gradescope = json.loads((out / "gradescope" / "bo_mutant" / "results.json").read_text())
    assert gradescope["score"] == results["bo_mutant"]["earned"]
    assert sum(t["max_score"] for t in gradescope["tests"]) == 29 and all(
        "name" in t and "output" in t for t in gradescope["tests"]
    )
    assert "per minute" in stdout


def test_a_tampered_report_is_not_trusted():
    assignment = by_topic("linear_classifier")
    honest = NotebookReport.all_failed(assignment.notebook, assignment.questions, Status.FAILED, "").to_json()
    assert validated(honest, assignment) is not None
    inflated = json.loads(json.dumps(honest))
    inflated["questions"][0]["earned"] = inflated["questions"][0]["points"]
    inflated["earned"] = inflated["questions"][0]["points"]
    assert validated(inflated, assignment) is None  # points for a failed question
    assert (
        validated({**honest, "questions": honest["questions"][1:]}, assignment) is None
    )  # a question missing
    renamed = {**honest, "notebook": "assignments/02_simclr.ipynb"}
    assert validated(renamed, assignment) is None  # another notebook's report
    assert validated("not a report", assignment) is None


def test_submissions_are_found_and_read_without_extracting(tmp_path):
    (tmp_path / "a" / "deep" / "utils").mkdir(parents=True)
    (tmp_path / "a" / "deep" / "utils" / "simclr.py").write_text("good = 1\n")
    (tmp_path / "a" / "simclr.py").write_text("worse = 1\n")  # utils/<topic>.py wins
    (tmp_path / ".hidden").mkdir()
    with zipfile.ZipFile(tmp_path / "b.zip", "w") as archive:
        archive.writestr("../../escape/cam_loss.py", "x = 1\n")
    found = find_submissions(tmp_path)
    assert set(found) == {"a", "b"}
    assert read_modules(found["a"], ["simclr", "cam_loss"]) == {"simclr": "good = 1\n"}
    assert read_modules(found["b"], ["cam_loss"]) == {"cam_loss": "x = 1\n"}
    assert not (tmp_path.parent / "escape").exists()


def test_gradescope_entry_point_writes_results_json(tmp_path, reference_limits):
    """tools/grade/gradescope/run_autograder on Gradescope's layout: the repository in source/, the upload in
    submission/, and the limits setup.sh derived once (its last command) in limits/, which the run reuses."""
    (tmp_path / "source").symlink_to(REPO_ROOT, target_is_directory=True)
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "linear_classifier.py").write_text(REFERENCE)
    shutil.copytree(reference_limits, tmp_path / "limits")
    env = {**os.environ, "AUTOGRADER": str(tmp_path), "LOSSLAB_GRADE_ARGS": f"--notebooks {NOTEBOOK}"}
    proc = subprocess.run(
        ["bash", str(REPO_ROOT / "tools" / "grade" / "gradescope" / "run_autograder")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "the time limits are the resumed batch's" in proc.stdout
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    tests = sum(max(1, len(q.parts)) for q in by_topic("linear_classifier").questions)  # one per part
    assert results["score"] == 29 and len(results["tests"]) == tests > 14
