"""tools.grade on a small class of generated submissions: correct ones in a folder and in a zip get full
marks, a mutant loses exactly its questions, and broken or hostile ones (a syntax error, a memory bomb, a
process exit, a hang past the submission's limit) are contained and reported without touching anyone
else's grade. One notebook (assignment 1) keeps it quick."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import zipfile

import pytest

from autograde_cases import LINEAR, LINEAR_MUTANTS, REPO_ROOT, mutate
from tools.grade import _valid, find_submissions, read_modules

NOTEBOOK = "assignments/01_linear_classifiers.ipynb"
FIRST_LINE = "    num_train, num_classes = X.shape[0], W.shape[1]\n"


def hostile(body: str) -> str:
    """The reference with body run at the start of svm_loss_naive (the first question)."""
    return mutate(LINEAR.solution, "svm_loss_naive", FIRST_LINE, body)


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    submissions, out = root / "submissions", root / "grades"
    modules = {
        "ada_reference": LINEAR.solution,
        "bo_mutant": LINEAR_MUTANTS["predict_with_argmin"].source,
        "cy_syntax_error": LINEAR.solution + "\ndef broken(:\n    pass\n",
        "di_memory_bomb": hostile("    hog = bytearray(16 * 2**30)\n"),
        "ed_exits": hostile("    import os; os._exit(0)\n"),
        "fay_hangs": hostile("    while True:\n        pass\n"),
    }
    for student, source in modules.items():
        folder = submissions / student / "utils"
        folder.mkdir(parents=True)
        (folder / "linear_classifier.py").write_text(source)
    (submissions / "gus_notebook_only").mkdir()
    (submissions / "gus_notebook_only" / "01_linear_classifiers.ipynb").write_text("{}")
    with zipfile.ZipFile(submissions / "hal_zipped.zip", "w") as archive:
        archive.writestr("homework/utils/linear_classifier.py", LINEAR.solution)
    # Question limit 20 s; the whole submission 90 s: the hang ends as a per-question timeout, not a batch stall.
    proc = subprocess.run(
        [sys.executable, "-m", "tools.grade", str(submissions), "--out", str(out), "--notebooks", NOTEBOOK,
         "--workers", "2", "--timeout", "20", "--submission-timeout", "150", "--memory-gb", "3"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}
    return results, out, proc.stdout


def statuses(result: dict) -> dict[str, str]:
    return {q["id"]: q["status"] for q in result["notebooks"][0]["questions"]}


def test_correct_submissions_get_full_marks_from_a_folder_or_a_zip(graded_class):
    results, _, _ = graded_class
    for student in ("ada_reference", "hal_zipped"):
        assert results[student]["earned"] == results[student]["max"] == 29, results[student]


def test_a_mutant_loses_exactly_its_questions(graded_class):
    results, _, _ = graded_class
    failed = {q for q, s in statuses(results["bo_mutant"]).items() if s != "passed"}
    assert failed == set(LINEAR_MUTANTS["predict_with_argmin"].must_fail)


def test_broken_and_hostile_submissions_are_contained_and_reported(graded_class):
    results, _, _ = graded_class
    assert set(statuses(results["cy_syntax_error"]).values()) == {"error"}
    assert "SyntaxError" in results["cy_syntax_error"]["notebooks"][0]["cause"]
    bomb = results["di_memory_bomb"]["notebooks"][0]["questions"]
    assert bomb[0]["status"] == "error" and "MemoryError" in bomb[0]["message"]
    assert {q["id"]: q["status"] for q in bomb}["svm_loss_vectorized"] == "passed"  # the rest still grades
    exits = statuses(results["ed_exits"])
    assert exits["svm_loss_naive"] in {"error", "timeout"} and results["ed_exits"]["earned"] < 29
    hangs = statuses(results["fay_hangs"])
    assert hangs["svm_loss_naive"] == "timeout" and hangs["svm_loss_vectorized"] == "passed"
    nothing = results["gus_notebook_only"]
    assert set(statuses(nothing).values()) == {"not_implemented"} and nothing["note"] == "modules found: none"


def test_grades_csv_and_gradescope_results(graded_class):
    results, out, stdout = graded_class
    rows = {row["student"]: row for row in csv.DictReader((out / "grades.csv").open())}
    assert set(rows) == set(results) and len(results) == 8
    assert rows["ada_reference"]["total"] == "29" and rows["bo_mutant"]["01_linear_classifiers/predict_linear_classifier"] == "0"
    gradescope = json.loads((out / "gradescope" / "bo_mutant" / "results.json").read_text())
    assert gradescope["score"] == results["bo_mutant"]["earned"]
    assert sum(t["max_score"] for t in gradescope["tests"]) == 29 and all("name" in t and "output" in t for t in gradescope["tests"])
    assert "per minute" in stdout


def test_a_tampered_report_is_not_trusted():
    notebook = REPO_ROOT / NOTEBOOK
    from utils.autograde import graded_questions
    import nbformat
    questions = graded_questions(nbformat.read(notebook, as_version=4))
    honest = {"questions": [{"id": q.id, "points": q.points, "earned": 0.0, "status": "failed", "message": ""}
                            for q in questions], "earned": 0.0, "max": sum(q.points for q in questions)}
    assert _valid(honest, notebook)
    inflated = json.loads(json.dumps(honest))
    inflated["questions"][0]["earned"] = inflated["questions"][0]["points"]
    inflated["earned"] = inflated["questions"][0]["points"]
    assert not _valid(inflated, notebook)  # points for a failed question
    assert not _valid({**honest, "questions": honest["questions"][1:]}, notebook)  # a question missing
    assert not _valid("not a report", notebook)


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


def test_gradescope_entry_point_writes_results_json(tmp_path):
    """tools/gradescope/run_autograder on Gradescope's layout: the repository in source/, the upload in submission/."""
    (tmp_path / "source").symlink_to(REPO_ROOT, target_is_directory=True)
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "linear_classifier.py").write_text(LINEAR.solution)
    env = {**os.environ, "AUTOGRADER": str(tmp_path), "LOSSLAB_GRADE_ARGS": f"--notebooks {NOTEBOOK}"}
    proc = subprocess.run(["bash", str(REPO_ROOT / "tools" / "gradescope" / "run_autograder")], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    assert results["score"] == 29 and len(results["tests"]) == 14
