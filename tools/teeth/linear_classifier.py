"""The teeth of linear_classifier: mutants, mistakes only the hidden checks catch, a correct solution written
differently, correct idioms, and the parameters of a quick notebook run (see tools/teeth/__init__.py)."""

from __future__ import annotations

from tools.grade.workspace import reference_source
from tools.teeth.mutation import HiddenOnlyMutant, Mutant, mutate, rewrite, rewrite_all

# ---------------------------------------------------------------------------------------------
# Mutants, and a correct solution written differently
# ---------------------------------------------------------------------------------------------
_REFERENCE = reference_source("linear_classifier")
_SEARCHES = {"svm_search", "softmax_search"}
MUTANTS = {
    "correct_class_in_margin_sum": Mutant(
        mutate(_REFERENCE, "svm_loss_naive", "            if j == label:\n                continue\n", ""),
        {"svm_loss_naive/loss": "skips the correct class"},
        notebook=True,
    ),
    "regularization_gradient_left_out": Mutant(
        mutate(
            _REFERENCE,
            "svm_loss_vectorized",
            "dW = weight_gradient(X, G) / num_train + 2 * reg * W",
            "dW = weight_gradient(X, G) / num_train",
        ),
        {"svm_loss_vectorized/gradient": "2 * reg * W", "svm_vectorized_speedup": "correct first"},
        _SEARCHES,
    ),
    "softmax_without_max_shift": Mutant(
        mutate(
            _REFERENCE,
            "softmax_loss_vectorized",
            "    scores = scores - scores.max(dim=1, keepdim=True).values\n",
            "",
        ),
        {"softmax_loss_vectorized/stability": "subtract each row's maximum"},
    ),
    # Shifts by the row's maximum, then takes log(p_y): p_y underflows to 0 when the label scores far below
    # the maximum (the public check's second problem, the grader's scores of 1e3).
    "softmax_naive_shift_then_log": Mutant(
        mutate(
            _REFERENCE,
            "softmax_loss_naive",
            "loss += torch.log(total) - scores[label]",
            "loss -= torch.log(exp_scores[label] / total)",
        ),
        {"softmax_loss_naive/stability": "underflows to 0"},
    ),
    "softmax_global_max_shift": Mutant(
        mutate(
            _REFERENCE, "softmax_loss_vectorized", "scores.max(dim=1, keepdim=True).values", "scores.max()"
        ),
        {"softmax_loss_vectorized/stability": "one global maximum is not enough"},
    ),
    "sample_batch_same_rows": Mutant(
        mutate(
            _REFERENCE,
            "sample_batch",
            "idx = torch.randint(num_train, (batch_size,), device=X.device)",
            "idx = torch.arange(batch_size, device=X.device)",
        ),
        {"sample_batch": "same rows on every call"},
        _SEARCHES,
    ),
    # randperm draws without replacement: a batch larger than num_train comes back short.
    "sample_batch_without_replacement": Mutant(
        mutate(
            _REFERENCE,
            "sample_batch",
            "idx = torch.randint(num_train, (batch_size,), device=X.device)",
            "idx = torch.randperm(num_train, device=X.device)[:batch_size]",
        ),
        {"sample_batch": "with replacement"},
    ),
    "predict_with_argmin": Mutant(
        mutate(_REFERENCE, "predict_linear_classifier", ".argmax(dim=1)", ".argmin(dim=1)"),
        {"predict_linear_classifier": "argmin", "svm_search": "accuracy", "softmax_search": "accuracy"},
        notebook=True,
    ),
    "test_one_param_set_ignores_num_iters": Mutant(
        mutate(
            _REFERENCE,
            "test_one_param_set",
            'data_dict["y_train"], lr, reg, num_iters)',
            'data_dict["y_train"], lr, reg)',
        ),
        {"test_one_param_set": "num_iters"},
        _SEARCHES,
    ),
    "sgd_steps_up_the_gradient": Mutant(
        mutate(
            _REFERENCE, "train_linear_classifier", "W -= learning_rate * grad", "W += learning_rate * grad"
        ),
        {
            "train_linear_classifier": "against the gradient",
            "svm_search": "accuracy",
            "softmax_search": "accuracy",
        },
        notebook=True,
    ),
    # Graded in-process only (tests/test_teeth.py): they break self-contained questions alone.
    "softmax_naive_gradient_of_half_the_regularization": Mutant(
        mutate(
            _REFERENCE,
            "softmax_loss_naive",
            "dW = dW / num_train + 2 * reg * W",
            "dW = dW / num_train + reg * W",
        ),
        {"softmax_loss_naive/gradient": "not reg * W"},
    ),
    "svm_grid_too_large": Mutant(
        mutate(
            _REFERENCE,
            "svm_get_search_params",
            "regularization_strengths = [1e-4, 1e-3, 1e-2]",
            "regularization_strengths = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0]",
        ),
        {"svm_get_search_params": "keep the search quick"},
        {"svm_search"},
    ),
    "softmax_grid_left_empty": Mutant(
        mutate(
            _REFERENCE,
            "softmax_get_search_params",
            "regularization_strengths = [1e-4, 1e-3, 1e-2]",
            "regularization_strengths = []",
        ),
        {"softmax_get_search_params": "at least one value"},
        {"softmax_search"},
    ),
    "softmax_vectorized_calls_the_loop": Mutant(
        mutate(
            _REFERENCE,
            "softmax_loss_vectorized",
            "    num_train = X.shape[0]\n    rows = torch.arange(num_train, device=X.device)\n"
            "    scores = linear_scores(W, X)\n",
            "    return softmax_loss_naive(W, X, y, reg)\n",
        ),
        {"softmax_vectorized_speedup": "faster than the naive version"},
        {"softmax_search"},
    ),
}
# Mistakes the notebooks' public checks miss (their inputs are float64 and have several samples).
HIDDEN_ONLY_MUTANTS = {
    "svm_gradient_in_float64_only": HiddenOnlyMutant(
        mutate(
            _REFERENCE,
            "svm_loss_vectorized",
            "G = (margins > 0).to(X.dtype)",
            "G = (margins > 0).to(torch.float64)",
        ),
        "svm_loss_vectorized",
    ),
    "predict_squeezes_a_batch_of_one": HiddenOnlyMutant(
        mutate(
            _REFERENCE,
            "predict_linear_classifier",
            "linear_scores(W, X).argmax(dim=1)",
            "linear_scores(W, X).squeeze().argmax(dim=-1)",
        ),
        "predict_linear_classifier",
    ),
}

ALTERNATIVE = rewrite_all(
    _REFERENCE,
    {
        "svm_loss_vectorized": """
            one_hot = torch.nn.functional.one_hot(y, W.shape[1]).to(X.dtype)
            scores = X @ W
            margins = torch.relu(scores - scores.gather(1, y[:, None]) + 1) * (1 - one_hot)
            loss = margins.sum() / X.shape[0] + reg * (W ** 2).sum()
            active = (margins > 0).to(X.dtype)
            dW = X.t() @ (active - one_hot * active.sum(dim=1, keepdim=True)) / X.shape[0] + 2 * reg * W
        """,
        "softmax_loss_vectorized": """
            one_hot = torch.nn.functional.one_hot(y, W.shape[1]).to(X.dtype)
            log_probs = torch.log_softmax(X @ W, dim=1)
            loss = -(log_probs * one_hot).sum() / X.shape[0] + reg * (W ** 2).sum()
            dW = X.t() @ (log_probs.exp() - one_hot) / X.shape[0] + 2 * reg * W
        """,
        "predict_linear_classifier": "y_pred = torch.max(X @ W, dim=1).indices",
    },
)


def _accuracies(accuracy: str) -> str:
    """test_one_param_set with each accuracy computed as `accuracy` (of pred and labels)."""
    return rewrite(
        _REFERENCE,
        "test_one_param_set",
        f"""
        cls.train(data_dict["X_train"], data_dict["y_train"], lr, reg, num_iters)
        pred, labels = cls.predict(data_dict["X_train"]), data_dict["y_train"]
        train_acc = {accuracy}
        pred, labels = cls.predict(data_dict["X_val"]), data_dict["y_val"]
        val_acc = {accuracy}
        """,
    )


# Correct solutions in idioms a check could refuse by demanding more than the docstring promises: each must
# pass every self-contained question in-process (tests/test_teeth.py) and every hidden check
# (tests/test_hidden_checks.py).
CORRECT_IDIOMS = {
    # The PyTorch tutorials' accuracy: a float32 mean (3/5 is 0.6000000238 there).
    "float32_accuracy": _accuracies("(pred == labels).float().mean().item()"),
    # A count over len: true division of an int64 tensor gives a float32 0-dim tensor, returned as it is.
    "count_over_len_accuracy": _accuracies("(pred == labels).sum() / len(labels)"),
    # An exact count over N, as a Python float.
    "exact_count_accuracy": _accuracies("(pred == labels).sum().item() / labels.shape[0]"),
    # torch.where with a boolean mask of the labels instead of writing into the margins.
    "svm_with_torch_where": rewrite(
        _REFERENCE,
        "svm_loss_vectorized",
        """
        num_train = X.shape[0]
        scores = X @ W
        is_label = torch.arange(W.shape[1], device=X.device) == y.unsqueeze(1)
        correct = scores.gather(1, y.unsqueeze(1))
        margins = torch.where(is_label, torch.zeros_like(scores), (scores - correct + 1).clamp_min(0))
        loss = margins.sum() / num_train + reg * torch.sum(W * W)
        active = (margins > 0).to(X.dtype)
        G = torch.where(is_label, -active.sum(dim=1, keepdim=True), active)
        dW = X.t() @ G / num_train + 2 * reg * W
        """,
    ),
    # numpy arrays for the grid, with no regularization among the strengths (0 is a strength).
    "grid_of_arrays_with_no_regularization": rewrite(
        _REFERENCE,
        "svm_get_search_params",
        """
        import numpy as np

        learning_rates = np.array([3e-2, 1e-1, 3e-1, 1.0])
        regularization_strengths = np.array([0.0, 1e-3, 1e-2])
        """,
    ),
    # A float32 one-hot mask: exact (0 and 1), promoted to the scores' dtype wherever it meets them.
    "softmax_with_a_float_one_hot": rewrite(
        _REFERENCE,
        "softmax_loss_vectorized",
        """
        one_hot = torch.nn.functional.one_hot(y, W.shape[1]).float()
        log_probs = torch.log_softmax(X @ W, dim=1)
        loss = -(log_probs * one_hot).sum() / X.shape[0] + reg * torch.sum(W * W)
        dW = X.t() @ (log_probs.exp() - one_hot) / X.shape[0] + 2 * reg * W
        """,
    ),
}

QUICK_PARAMETERS: dict = {}
QUICK_CASUALTIES: set[str] = set()
