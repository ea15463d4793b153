"""What the autograder tests grade: for each assignment, the reference, the stubs, mutants (the
reference with one common mistake each) and broken modules, and what each must score.

Every case runs the real notebook under nbval through `python -m utils.autograde` in a temporary
copy of the repository; conftest.py runs them all once per session, two at a time.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tools.workspace import override_parameters, workspace

REPO_ROOT = Path(__file__).resolve().parents[1]


def mutate(source: str, function: str, old: str, new: str) -> str:
    """source with old replaced by new inside one top-level function or class (old must occur there exactly once)."""
    start = re.search(rf"\n(def|class) {function}\b", source).start()
    following = re.search(r"\n(def|class) ", source[start + 1 :])
    end = len(source) if following is None else start + 1 + following.start()
    body = source[start:end]
    assert body.count(old) == 1, f"mutation target not found exactly once in {function}: {old!r}"
    return source[:start] + body.replace(old, new) + source[end:]


@dataclass
class Assignment:
    topic: str
    notebook: str
    questions: set[str]
    # Parameters that make a run quick, for mutants whose questions do not need the full training.
    quick_parameters: dict = field(default_factory=dict)
    # Questions that fail under quick_parameters (their outcome needs the full run).
    quick_casualties: set[str] = field(default_factory=set)

    @property
    def solution(self) -> str:
        return (REPO_ROOT / "solutions" / f"{self.topic}.py").read_text()

    @property
    def report_name(self) -> str:
        return Path(self.notebook).stem + ".json"


@dataclass
class Mutant:
    source: str
    must_fail: dict[str, str]  # question -> words its message must hold
    may_fail: set[str] = field(default_factory=set)  # questions downstream of the mistake


@dataclass
class Case:
    assignment: Assignment
    source: str | None = None  # the student module; None: the stub as generated
    reference: bool = False  # grade the reference solutions through --reference instead
    args: tuple[str, ...] = ()
    parameters: dict = field(default_factory=dict)


def run_case(case: Case, report_dir: Path) -> tuple[dict, str]:
    """Grades one case; returns (report, scorecard)."""
    a = case.assignment
    # One thread each: two runs share the two cores, and oversubscribed torch threads crawl.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with contextlib.ExitStack() as stack:
        if case.reference:
            root, args = REPO_ROOT, ("--reference", *case.args)
        else:
            root = stack.enter_context(workspace({} if case.source is None else {a.topic: case.source}))
            args = case.args
            if case.parameters:
                override_parameters(root / a.notebook, **case.parameters)
        command = [
            sys.executable,
            "-m",
            "utils.autograde",
            a.notebook,
            "--report-dir",
            str(report_dir),
            *args,
        ]
        proc = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=1800, env=env)
    assert proc.returncode == 0, f"the autograder exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return json.loads((report_dir / a.report_name).read_text()), proc.stdout


# ---------------------------------------------------------------------------------------------
# Assignment 1: linear classifiers
# ---------------------------------------------------------------------------------------------
LINEAR = Assignment(
    "linear_classifier",
    "assignments/01_linear_classifiers.ipynb",
    {
        "svm_loss_naive",
        "svm_loss_vectorized",
        "svm_vectorized_speedup",
        "sample_batch",
        "train_linear_classifier",
        "predict_linear_classifier",
        "test_one_param_set",
        "svm_get_search_params",
        "svm_search",
        "softmax_loss_naive",
        "softmax_loss_vectorized",
        "softmax_vectorized_speedup",
        "softmax_get_search_params",
        "softmax_search",
    },
)
_LC = LINEAR.solution
_SEARCHES = {"svm_search", "softmax_search"}
LINEAR_MUTANTS = {
    "regularization_gradient_left_out": Mutant(
        mutate(
            _LC,
            "svm_loss_vectorized",
            "dW = weight_gradient(X, G) / num_train + 2 * reg * W",
            "dW = weight_gradient(X, G) / num_train",
        ),
        {"svm_loss_vectorized": "2 * reg * W", "svm_vectorized_speedup": "correct first"},
        _SEARCHES,
    ),
    "correct_class_in_margin_sum": Mutant(
        mutate(_LC, "svm_loss_naive", "            if j == label:\n                continue\n", ""),
        {"svm_loss_naive": "skips the correct class"},
    ),
    "softmax_without_max_shift": Mutant(
        mutate(
            _LC,
            "softmax_loss_vectorized",
            "    scores = scores - scores.max(dim=1, keepdim=True).values\n",
            "",
        ),
        {"softmax_loss_vectorized": "subtract each row's maximum"},
    ),
    "softmax_global_max_shift": Mutant(
        mutate(_LC, "softmax_loss_vectorized", "scores.max(dim=1, keepdim=True).values", "scores.max()"),
        {"softmax_loss_vectorized": "one global maximum is not enough"},
    ),
    "sample_batch_same_rows": Mutant(
        mutate(
            _LC,
            "sample_batch",
            "idx = torch.randint(num_train, (batch_size,), device=X.device)",
            "idx = torch.arange(batch_size, device=X.device)",
        ),
        {"sample_batch": "same rows on every call"},
        _SEARCHES,
    ),
    "predict_with_argmin": Mutant(
        mutate(_LC, "predict_linear_classifier", ".argmax(dim=1)", ".argmin(dim=1)"),
        {"predict_linear_classifier": "argmin", "svm_search": "accuracy", "softmax_search": "accuracy"},
    ),
    "test_one_param_set_ignores_num_iters": Mutant(
        mutate(
            _LC,
            "test_one_param_set",
            'data_dict["y_train"], lr, reg, num_iters)',
            'data_dict["y_train"], lr, reg)',
        ),
        {"test_one_param_set": "num_iters"},
        _SEARCHES,
    ),
    "sgd_steps_up_the_gradient": Mutant(
        mutate(_LC, "train_linear_classifier", "W -= learning_rate * grad", "W += learning_rate * grad"),
        {
            "train_linear_classifier": "against the gradient",
            "svm_search": "accuracy",
            "softmax_search": "accuracy",
        },
    ),
}
# Mistakes the notebooks' public checks miss (their inputs are float64 and have several samples).
HIDDEN_ONLY_MUTANTS = {
    "svm_gradient_in_float64_only": (
        mutate(
            _LC, "svm_loss_vectorized", "G = (margins > 0).to(X.dtype)", "G = (margins > 0).to(torch.float64)"
        ),
        "svm_loss_vectorized",
    ),
    "predict_squeezes_a_batch_of_one": (
        mutate(
            _LC,
            "predict_linear_classifier",
            "linear_scores(W, X).argmax(dim=1)",
            "linear_scores(W, X).squeeze().argmax(dim=-1)",
        ),
        "predict_linear_classifier",
    ),
}

LINEAR_BROKEN = {
    "syntax_error": _LC + "\ndef broken(:\n    pass\n",
    "import_error": _LC + "\nimport no_such_package_here\n",
    "infinite_loop": mutate(
        _LC,
        "svm_loss_naive",
        "    num_train, num_classes = X.shape[0], W.shape[1]\n",
        "    while True:\n        pass\n",
    ),
}

# ---------------------------------------------------------------------------------------------
# Assignment 2: SimCLR
# ---------------------------------------------------------------------------------------------
SIMCLR = Assignment(
    "simclr",
    "assignments/02_simclr.ipynb",
    {
        "compute_train_transform",
        "sim",
        "simclr_loss_naive",
        "sim_positive_pairs",
        "compute_sim_matrix",
        "simclr_loss_vectorized",
        "simclr_train_step",
        "simclr_training",
    },
    quick_parameters={"TRAIN_STEPS": 3},
    quick_casualties={"simclr_training"},
)
_SC = SIMCLR.solution
SIMCLR_MUTANTS = {
    "self_in_denominator": Mutant(
        mutate(
            _SC,
            "simclr_loss_naive",
            "            if k != i:\n                denominator",
            "            if True:\n                denominator",
        ),
        {"simclr_loss_naive": "leave out k = i"},
    ),
    "positive_from_the_wrong_half": Mutant(
        mutate(_SC, "simclr_loss_naive", "positive = i + N if i < N else i - N", "positive = i"),
        {"simclr_loss_naive": "not row k itself"},
    ),
    "similarity_without_normalization": Mutant(
        mutate(_SC, "compute_sim_matrix", "out_norm = out / out.norm(dim=1, keepdim=True)", "out_norm = out"),
        {"compute_sim_matrix": "normalize the rows", "simclr_loss_vectorized": "relative error"},
        {"simclr_train_step"},
    ),
    "loss_summed_not_averaged": Mutant(
        mutate(
            _SC,
            "simclr_loss_vectorized",
            "(log_denominator - positives.repeat(2)).mean()",
            "(log_denominator - positives.repeat(2)).sum()",
        ),
        {"simclr_loss_vectorized": "instead of summing"},
        {"simclr_train_step"},
    ),
    "transform_without_colour_jitter": Mutant(
        mutate(
            _SC, "compute_train_transform", "        transforms.RandomApply([color_jitter], p=0.8),\n", ""
        ),
        {"compute_train_transform": "colour jitter is essential"},
    ),
}

# ---------------------------------------------------------------------------------------------
# Assignment 3: CAM-loss
# ---------------------------------------------------------------------------------------------
CAM = Assignment(
    "cam_loss",
    "assignments/03_cam_loss.ipynb",
    {
        "make_cam_naive",
        "make_cam",
        "make_caam",
        "min_max_normalize",
        "cam_loss",
        "cam_loss_train_step",
        "localization",
        "cam_training",
    },
    quick_parameters={"NUM_TRAIN": 256, "EPOCHS": 1, "WARMUP_EPOCHS": 0, "NUM_TEST": 200},
    quick_casualties={"cam_training"},
)
_CL = CAM.solution
_CAM_IN_LOSS = "cam = min_max_normalize(make_cam(feature_map, labels, fc_weight.detach()))"
CAM_MUTANTS = {
    "fc_weight_not_detached": Mutant(
        mutate(
            _CL, "cam_loss", _CAM_IN_LOSS, "cam = min_max_normalize(make_cam(feature_map, labels, fc_weight))"
        ),
        {"cam_loss": "fc_weight.detach()"},
        {"cam_loss_train_step"},
    ),
    "normalized_over_the_batch": Mutant(
        mutate(
            _CL,
            "min_max_normalize",
            "    flat = maps.flatten(1)\n",
            "    flat = maps.flatten().unsqueeze(0)\n",
        ),
        {"min_max_normalize": "not the batch's"},
        {"cam_loss", "cam_loss_train_step", "localization"},
    ),
    "normalized_along_one_axis": Mutant(
        mutate(
            _CL,
            "min_max_normalize",
            "    flat = maps.flatten(1)\n    low = flat.min(dim=1).values.view(-1, 1, 1)\n"
            "    high = flat.max(dim=1).values.view(-1, 1, 1)\n",
            "    low, high = maps.amin(dim=2, keepdim=True), maps.amax(dim=2, keepdim=True)\n",
        ),
        {"min_max_normalize": "both spatial axes"},
        {"cam_loss", "cam_loss_train_step"},
    ),
    "cam_of_the_predicted_class": Mutant(
        mutate(
            _CL,
            "cam_loss",
            _CAM_IN_LOSS,
            "cam = min_max_normalize(make_cam(feature_map, logits.argmax(dim=1), fc_weight.detach()))",
        ),
        {"cam_loss": "not of its predicted class"},
        {"cam_loss_train_step"},
    ),
    "maps_compared_before_normalization": Mutant(
        mutate(
            _CL,
            "cam_loss",
            "    l_cam = (cam - caam).abs().mean()\n",
            "    l_cam = (make_cam(feature_map, labels, fc_weight.detach()) - make_caam(feature_map)).abs().mean()\n",
        ),
        {"cam_loss": "normalize both maps before comparing"},
        {"cam_loss_train_step"},
    ),
    "l1_summed_not_averaged": Mutant(
        mutate(_CL, "cam_loss", "l_cam = (cam - caam).abs().mean()", "l_cam = (cam - caam).abs().sum()"),
        {"cam_loss": "do not sum them"},
        {"cam_loss_train_step"},
    ),
}

# ---------------------------------------------------------------------------------------------
# Assignment 4: neural collapse
# ---------------------------------------------------------------------------------------------
NEURAL_COLLAPSE = Assignment(
    "neural_collapse",
    "assignments/04_neural_collapse.ipynb",
    {
        "etf_gram_target",
        "etf_objective_naive",
        "etf_objective",
        "etf_gradient_descent",
        "simplex_etf",
        "etf_classifier",
        "dot_regression_loss",
        "nc1",
        "nc2",
        "nc3",
        "nc4",
        "long_tailed_indices",
    },
    quick_parameters={"EPOCHS": 2, "METRICS_EVERY": 1},
)
_NC = NEURAL_COLLAPSE.solution
NEURAL_COLLAPSE_MUTANTS = {
    "etf_without_centring": Mutant(
        mutate(_NC, "simplex_etf", "(U - U.mean(dim=1, keepdim=True))", "U"),
        {"simplex_etf": "centre the orthonormal columns"},
        {"etf_classifier"},
    ),
    "etf_scale_missing": Mutant(
        mutate(_NC, "simplex_etf", "W = math.sqrt(C / (C - 1)) * (U", "W = (U"),
        {"simplex_etf": "scale by sqrt(C / (C - 1))"},
        {"etf_classifier"},
    ),
    "head_registered_as_a_parameter": Mutant(
        mutate(
            _NC,
            "ETFClassifier",
            'self.register_buffer("weight", simplex_etf(num_features, num_classes, seed=seed))',
            "self.weight = nn.Parameter(simplex_etf(num_features, num_classes, seed=seed))",
        ),
        {"etf_classifier": "register_buffer"},
    ),
    "nc1_with_sigma_b_not_its_pseudo_inverse": Mutant(
        mutate(_NC, "neural_collapse_metrics", "torch.linalg.pinv(sigma_b)", "sigma_b"),
        {"nc1": "pseudo-inverse"},
    ),
    "long_tailed_profile_inverted": Mutant(
        mutate(
            _NC,
            "long_tailed_counts",
            "imbalance_ratio ** (c / (num_classes - 1))",
            "imbalance_ratio ** ((num_classes - 1 - c) / (num_classes - 1))",
        ),
        {"long_tailed_indices": "class 0 keeps the most"},
    ),
}

ASSIGNMENTS = {
    "linear_classifier": LINEAR,
    "simclr": SIMCLR,
    "cam_loss": CAM,
    "neural_collapse": NEURAL_COLLAPSE,
}
MUTANTS = {
    "linear_classifier": LINEAR_MUTANTS,
    "simclr": SIMCLR_MUTANTS,
    "cam_loss": CAM_MUTANTS,
    "neural_collapse": NEURAL_COLLAPSE_MUTANTS,
}


def all_cases() -> dict[str, Case]:
    """Every case, keyed "<topic>/<variant>"."""
    from alternative_solutions import ALTERNATIVES  # built from this module's assignments

    cases = {}
    for topic, a in ASSIGNMENTS.items():
        cases[f"{topic}/reference"] = Case(a, reference=True)
        cases[f"{topic}/stubs"] = Case(a)
        cases[f"{topic}/written_differently"] = Case(a, ALTERNATIVES[topic], parameters=a.quick_parameters)
        for name, mutant in MUTANTS[topic].items():
            cases[f"{topic}/{name}"] = Case(a, mutant.source, parameters=a.quick_parameters)
    for name, source in LINEAR_BROKEN.items():
        args = ("--timeout", "8") if name == "infinite_loop" else ()
        cases[f"linear_classifier/{name}"] = Case(LINEAR, source, args=args)
    return cases
