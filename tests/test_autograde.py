"""The autograder on assignment 1: the reference passes, stubs are not implemented, mutants lose
the questions they break (with an actionable hint), and broken modules are reported, not crashed on.

Every variant runs the real notebook under nbval through `python -m utils.autograde`, two at a
time (one per core), once per test session.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tools.workspace import workspace

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "assignments/01_linear_classifiers.ipynb"
SOLUTION = (REPO_ROOT / "solutions" / "linear_classifier.py").read_text()
QUESTIONS = {
    "svm_loss_naive", "svm_loss_vectorized", "svm_vectorized_speedup", "sample_batch", "train_linear_classifier",
    "predict_linear_classifier", "test_one_param_set", "svm_get_search_params", "svm_search", "softmax_loss_naive",
    "softmax_loss_vectorized", "softmax_vectorized_speedup", "softmax_get_search_params", "softmax_search",
}
SEARCHES = {"svm_search", "softmax_search"}


def mutate(function: str, old: str, new: str, source: str = SOLUTION) -> str:
    """source with old replaced by new inside one top-level function (old must occur there exactly once)."""
    start = source.index(f"\ndef {function}(")
    end = source.find("\ndef ", start + 1)
    end = len(source) if end == -1 else end
    body = source[start:end]
    assert body.count(old) == 1, f"mutation target not found exactly once in {function}: {old!r}"
    return source[:start] + body.replace(old, new) + source[end:]


# name: (module source, {question that must fail: words its message must hold}, questions that may also fail)
MUTANTS = {
    "regularization_gradient_left_out": (
        mutate("svm_loss_vectorized", "dW = weight_gradient(X, G) / num_train + 2 * reg * W",
               "dW = weight_gradient(X, G) / num_train"),
        {"svm_loss_vectorized": "2 * reg * W", "svm_vectorized_speedup": "correct first"}, SEARCHES,
    ),
    "correct_class_in_margin_sum": (
        mutate("svm_loss_naive", "            if j == label:\n                continue\n", ""),
        {"svm_loss_naive": "skips the correct class"}, set(),
    ),
    "softmax_without_max_shift": (
        mutate("softmax_loss_vectorized", "    scores = scores - scores.max(dim=1, keepdim=True).values\n", ""),
        {"softmax_loss_vectorized": "subtract each row's maximum"}, set(),
    ),
    "softmax_global_max_shift": (
        mutate("softmax_loss_vectorized", "scores.max(dim=1, keepdim=True).values", "scores.max()"),
        {"softmax_loss_vectorized": "one global maximum is not enough"}, set(),
    ),
    "sample_batch_same_rows": (
        mutate("sample_batch", "idx = torch.randint(num_train, (batch_size,), device=X.device)",
               "idx = torch.arange(batch_size, device=X.device)"),
        {"sample_batch": "same rows on every call"}, SEARCHES,
    ),
    "predict_with_argmin": (
        mutate("predict_linear_classifier", ".argmax(dim=1)", ".argmin(dim=1)"),
        {"predict_linear_classifier": "argmin", "svm_search": "accuracy", "softmax_search": "accuracy"}, set(),
    ),
    "test_one_param_set_ignores_num_iters": (
        mutate("test_one_param_set", 'data_dict["y_train"], lr, reg, num_iters)', 'data_dict["y_train"], lr, reg)'),
        {"test_one_param_set": "num_iters"}, SEARCHES,
    ),
    "sgd_steps_up_the_gradient": (
        mutate("train_linear_classifier", "W -= learning_rate * grad", "W += learning_rate * grad"),
        {"train_linear_classifier": "against the gradient", "svm_search": "accuracy", "softmax_search": "accuracy"},
        set(),
    ),
}
BROKEN = {
    "syntax_error": SOLUTION + "\ndef broken(:\n    pass\n",
    "import_error": SOLUTION + "\nimport no_such_package_here\n",
    "infinite_loop": mutate("svm_loss_naive", "    num_train, num_classes = X.shape[0], W.shape[1]\n",
                            "    while True:\n        pass\n"),
}


def run_autograder(root: Path, report_dir: Path, *args: str) -> tuple[dict, str]:
    # One thread each: two runs share the two cores, and oversubscribed torch threads crawl.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "utils.autograde", NOTEBOOK, "--report-dir", str(report_dir), *args],
        cwd=root, capture_output=True, text=True, timeout=900, env=env,
    )
    assert proc.returncode == 0, f"the autograder exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    report = json.loads((report_dir / "01_linear_classifiers.json").read_text())
    return report, proc.stdout


def grade_module(source: str | None, report_dir: Path, *args: str) -> tuple[dict, str]:
    """Grades the notebook in a copy of the repository whose utils/linear_classifier.py is source (None: the stub)."""
    with workspace({} if source is None else {"linear_classifier": source}) as root:
        return run_autograder(root, report_dir, *args)


@pytest.fixture(scope="session")
def graded(tmp_path_factory) -> dict[str, tuple[dict, str]]:
    """{variant: (report, scorecard)} for the reference, the stubs, every mutant and every broken module."""
    jobs = {"reference": lambda d: run_autograder(REPO_ROOT, d, "--reference"), "stubs": lambda d: grade_module(None, d)}
    for name, (source, _, _) in MUTANTS.items():
        jobs[name] = lambda d, source=source: grade_module(source, d)
    for name, source in BROKEN.items():
        extra = ("--timeout", "8") if name == "infinite_loop" else ()
        jobs[name] = lambda d, source=source, extra=extra: grade_module(source, d, *extra)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(job, tmp_path_factory.mktemp(name)) for name, job in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


def statuses(report: dict) -> dict[str, str]:
    return {q["id"]: q["status"] for q in report["questions"]}


def test_report_format_and_reference_passes_everything(graded):
    report, scorecard = graded["reference"]
    assert report["notebook"] == NOTEBOOK
    assert set(statuses(report)) == QUESTIONS
    assert set(report["questions"][0]) == {"id", "points", "earned", "status", "message"}
    failing = {q["id"]: q["message"] for q in report["questions"] if q["status"] != "passed"}
    assert not failing
    assert report["earned"] == report["max"] == sum(q["points"] for q in report["questions"])
    assert re.search(rf"total {report['max']:g}/{report['max']:g}", scorecard)


def test_stubs_fail_every_question_as_not_implemented(graded):
    report, _ = graded["stubs"]
    assert set(statuses(report).values()) == {"not_implemented"}
    assert report["earned"] == 0
    assert all("not implemented yet" in q["message"] for q in report["questions"])


@pytest.mark.parametrize("name", MUTANTS)
def test_mutant_loses_exactly_the_questions_it_breaks(graded, name):
    _, must_fail, may_fail = MUTANTS[name]
    report, _ = graded[name]
    by_id = {q["id"]: q for q in report["questions"]}
    for question, words in must_fail.items():
        assert by_id[question]["status"] == "failed", f"{question}: {by_id[question]}"
        assert words in by_id[question]["message"], f"{question}: {by_id[question]['message']!r}"
    passed_anyway = QUESTIONS - set(must_fail) - set(may_fail)
    assert {q: by_id[q]["status"] for q in passed_anyway} == dict.fromkeys(passed_anyway, "passed")


@pytest.mark.parametrize("name,error", [("syntax_error", "SyntaxError"), ("import_error", "ModuleNotFoundError")])
def test_module_that_does_not_import_is_reported_once_as_the_cause(graded, name, error):
    report, scorecard = graded[name]
    assert set(statuses(report).values()) == {"error"}
    assert error in report["cause"] and "utils/linear_classifier.py" in report["cause"]
    assert scorecard.count(error) == 1


def test_a_question_that_runs_too_long_is_a_timeout_and_the_rest_still_grade(graded):
    report, _ = graded["infinite_loop"]
    status = statuses(report)
    assert status["svm_loss_naive"] == status["svm_vectorized_speedup"] == "timeout"
    assert "8 s" in next(q["message"] for q in report["questions"] if q["id"] == "svm_loss_naive")
    others = QUESTIONS - {"svm_loss_naive", "svm_vectorized_speedup"}
    assert {q: status[q] for q in others} == dict.fromkeys(others, "passed")
