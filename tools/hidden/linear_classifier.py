"""Hidden checks, mutants and a correct variant of linear_classifier (see tools/hidden/__init__.py)."""

from __future__ import annotations

import torch

from tools.hidden import Case, draw
from tools.hidden.mutation import HiddenOnlyMutant, Mutant, mutate, rewrite_all, solution_source


# ---------------------------------------------------------------------------------------------
# Hidden checks
# ---------------------------------------------------------------------------------------------
def _linear_problem(dtype, scale: float = 1.0):
    def inputs(gen):
        n, d, c = draw.integer(gen, 1, 40), draw.integer(gen, 1, 30), draw.integer(gen, 2, 12)
        W, X = draw.randn(gen, d, c, dtype=dtype, scale=0.1), draw.randn(gen, n, d, dtype=dtype, scale=scale)
        return W, X, torch.randint(c, (n,), generator=gen), draw.uniform(gen, 0, 1)

    return inputs


def _cases() -> list[Case]:
    problems = [
        _linear_problem(torch.float64),
        _linear_problem(torch.float32),
        _linear_problem(torch.float64, 1e3),
    ]
    cases = [
        Case(name, name, problem)
        for name in ("svm_loss_naive", "svm_loss_vectorized", "softmax_loss_naive", "softmax_loss_vectorized")
        for problem in problems
    ]

    def predict_inputs(most_n: int):
        def inputs(gen):
            d, c, n = draw.integer(gen, 1, 20), draw.integer(gen, 2, 10), draw.integer(gen, 1, most_n)
            return draw.randn(gen, d, c), draw.randn(gen, n, d)

        return inputs

    return cases + [
        Case("predict_linear_classifier", "predict_linear_classifier", predict_inputs(50)),
        Case("predict_linear_classifier", "predict_linear_classifier", predict_inputs(1)),  # one sample
        Case("sample_batch", "sample_batch", _batch_problem, property=_is_a_batch),
    ]


def _batch_problem(gen):
    n, d = draw.integer(gen, 5, 60), draw.integer(gen, 1, 8)
    X = torch.arange(n * d, dtype=torch.float64).reshape(n, d) + draw.randn(gen, n, d, scale=0.1)
    return X, torch.randint(10, (n,), generator=gen), draw.integer(gen, 1, n), draw.integer(gen, 1, 2 * n)


def _is_a_batch(args, output) -> str | None:
    """sample_batch's answer: batch_size of the first num_train rows of X, each with its own label."""
    X, y, num_train, batch_size = args
    if not (
        isinstance(output, (list, tuple))
        and len(output) == 2
        and all(isinstance(t, torch.Tensor) for t in output)
    ):
        return "the output should be a tuple (X_batch, y_batch) of tensors"
    X_batch, y_batch = output
    if X_batch.shape != (batch_size, X.shape[1]) or y_batch.shape != (batch_size,):
        return (
            f"the batch has shapes {tuple(X_batch.shape)} and {tuple(y_batch.shape)}, "
            f"expected {(batch_size, X.shape[1])} and {(batch_size,)}"
        )
    rows = (X_batch.double()[:, None, :] == X[None]).all(dim=2).float().argmax(dim=1)
    if not (X_batch.double() == X[rows]).all() or rows.max() >= num_train:
        return f"some rows of X_batch are not among the first num_train = {num_train} rows of X"
    if not torch.equal(y_batch.long(), y[rows]):
        return "y_batch does not hold the labels of the rows in X_batch"
    return None


CASES = _cases()

# ---------------------------------------------------------------------------------------------
# Mutants, and a correct solution written differently
# ---------------------------------------------------------------------------------------------
_REFERENCE = solution_source("linear_classifier")
_SEARCHES = {"svm_search", "softmax_search"}
MUTANTS = {
    "correct_class_in_margin_sum": Mutant(
        mutate(_REFERENCE, "svm_loss_naive", "            if j == label:\n                continue\n", ""),
        {"svm_loss_naive/loss": "skips the correct class"},
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
    "predict_with_argmin": Mutant(
        mutate(_REFERENCE, "predict_linear_classifier", ".argmax(dim=1)", ".argmin(dim=1)"),
        {"predict_linear_classifier": "argmin", "svm_search": "accuracy", "softmax_search": "accuracy"},
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
        notebook=False,
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
        notebook=False,
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
        notebook=False,
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
        notebook=False,
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

QUICK_PARAMETERS: dict = {}
QUICK_CASUALTIES: set[str] = set()
