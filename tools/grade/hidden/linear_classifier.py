"""The hidden checks of linear_classifier: its CASES (see tools/grade/hidden/engine.py)."""

from __future__ import annotations

import functools
import numbers

import torch

from tools.grade.hidden import draw
from tools.grade.hidden.compare import kind
from tools.grade.hidden.engine import Case, Speed
from utils.grading import apart


# ---------------------------------------------------------------------------------------------
# Hidden checks
# ---------------------------------------------------------------------------------------------
def _linear_problem(dtype, scale: float = 1.0):
    def inputs(gen):
        n, d, c = draw.integer(gen, 1, 40), draw.integer(gen, 1, 30), draw.integer(gen, 2, 12)
        W, X = draw.randn(gen, d, c, dtype=dtype, scale=0.1), draw.randn(gen, n, d, dtype=dtype, scale=scale)
        return W, X, torch.randint(c, (n,), generator=gen), draw.uniform(gen, 0, 1)

    return inputs


_SVM_LOSSES, _SOFTMAX_LOSSES = (
    ("svm_loss_naive", "svm_loss_vectorized"),
    ("softmax_loss_naive", "softmax_loss_vectorized"),
)


def _cases() -> list[Case]:
    problems = [
        _linear_problem(torch.float64),
        _linear_problem(torch.float32),
        _linear_problem(torch.float64, 1e3),
    ]
    # A wrong loss or gradient costs that part; softmax's scores of 1e3 test its stability part.
    loss_and_gradient = (("loss", lambda output: output[0]), ("gradient", lambda output: output[1]))
    cases = [
        Case(name, name, problem, split=loss_and_gradient) for name in _SVM_LOSSES for problem in problems
    ]
    cases += [
        Case(name, name, problem, split=loss_and_gradient)
        for name in _SOFTMAX_LOSSES
        for problem in problems[:2]
    ]
    cases += [Case(name, name, problems[2], part="stability") for name in _SOFTMAX_LOSSES]

    def predict_inputs(most_n: int):
        def inputs(gen):
            d, c, n = draw.integer(gen, 1, 20), draw.integer(gen, 2, 10), draw.integer(gen, 1, most_n)
            return draw.randn(gen, d, c), draw.randn(gen, n, d)

        return inputs

    return cases + [
        Case("predict_linear_classifier", "predict_linear_classifier", predict_inputs(50)),
        Case("predict_linear_classifier", "predict_linear_classifier", predict_inputs(1)),  # one sample
        Case("sample_batch", "sample_batch", _batch_problem, property=_is_a_batch),
        *_speed_cases(),
        *_training_cases(),
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


# ---------------------------------------------------------------------------------------------
# Speed: the student's vectorized loss against the grader's loop over the samples
# ---------------------------------------------------------------------------------------------
# The race times the computation alone, on one thread in the child (N=2000, D=65, C=10). The threshold sits
# near the middle, on a log scale, between correct code's worst ratio and a kept loop's best, idle and busy
# (benchmarks/README.md, "Speed margins": the grader's races).
MIN_SPEEDUP = 5.0


def _speed_problem(gen):
    W, X = draw.randn(gen, 65, 10, scale=0.01), draw.randn(gen, 2000, 65)
    return W, X, torch.randint(10, (2000,), generator=gen), 0.1


def svm_loop(module, W, X, y, reg):
    """The SVM loss and gradient with a loop over the samples (each a vector over the classes)."""
    import torch

    loss, dW = torch.zeros((), dtype=W.dtype), torch.zeros_like(W)
    for i in range(X.shape[0]):
        margins = (X[i] @ W - X[i] @ W[:, y[i]] + 1).clamp(min=0)
        margins[y[i]] = 0
        active = (margins > 0).to(W.dtype)
        active[y[i]] = -active.sum()
        loss += margins.sum()
        dW += torch.outer(X[i], active)
    return loss / X.shape[0] + reg * (W * W).sum(), dW / X.shape[0] + 2 * reg * W


def softmax_loop(module, W, X, y, reg):
    """The softmax loss and gradient with a loop over the samples (each a vector over the classes)."""
    import torch

    loss, dW = torch.zeros((), dtype=W.dtype), torch.zeros_like(W)
    for i in range(X.shape[0]):
        scores = X[i] @ W
        probs = torch.softmax(scores, dim=0)
        loss -= torch.log_softmax(scores, dim=0)[y[i]]
        probs[y[i]] -= 1
        dW += torch.outer(X[i], probs)
    return loss / X.shape[0] + reg * (W * W).sum(), dW / X.shape[0] + 2 * reg * W


def _speed_cases() -> list[Case]:
    return [
        Case(question, function, _speed_problem, speed=Speed(loop, MIN_SPEEDUP))
        for question, function, loop in (
            ("svm_vectorized_speedup", "svm_loss_vectorized", svm_loop),
            ("softmax_vectorized_speedup", "softmax_loss_vectorized", softmax_loop),
        )
    ]


# ---------------------------------------------------------------------------------------------
# Training and searches: on rows of the digits the grader draws; judged on its test rows, which stay here
# ---------------------------------------------------------------------------------------------
NUM_ROWS, NUM_ITERS = 300, 100
# Held-out accuracy of trained weights: near the middle of the gap between correct code's worst and code that
# steps up the gradient, over 10 seeds of the cases' inputs (benchmarks/hidden_gate_margins.py; the figures in
# benchmarks/README.md). A classifier that does not learn stays near 0.1.
MIN_ACCURACY = 0.5


@functools.cache
def _digits() -> dict:
    from utils.data import load_dataset, preprocess

    return preprocess(load_dataset("digits"), dtype=torch.float64)


def _training_rows(gen) -> dict:
    """NUM_ROWS random training rows and the validation split, as a search's data_dict."""
    data, rows = _digits(), torch.randperm(_digits()["X_train"].shape[0], generator=gen)[:NUM_ROWS]
    return {
        "X_train": data["X_train"][rows],
        "y_train": data["y_train"][rows],
        "X_val": data["X_val"],
        "y_val": data["y_val"],
    }


def held_out_accuracy(W: torch.Tensor) -> float:
    """The share of the test rows (which never enter the child) that weights W of shape (D, 10) classify right."""
    data = _digits()
    return (W.double().t().mm(data["X_test"].t()).argmax(dim=0) == data["y_test"]).double().mean().item()


def _held_out(W) -> str | None:
    """Why weights W do not classify the test rows, or None."""
    data = _digits()
    if not isinstance(W, torch.Tensor) or W.shape != (data["X_test"].shape[1], 10):
        return f"the weights should be a tensor of shape {(data['X_test'].shape[1], 10)}, got {kind(W)}"
    if not torch.isfinite(W).all():
        return "the trained weights hold inf or nan"
    accuracy = held_out_accuracy(W)
    if accuracy < MIN_ACCURACY:
        shown, goal = apart(accuracy, MIN_ACCURACY, 0, "%")
        return f"the trained weights classify {shown} of held-out digits right, expected at least {goal}"
    return None


def train_with_cross_entropy(module, W, data, learning_rate, num_iters, seed):
    """module.train_linear_classifier with the grader's own loss (cross-entropy by autograd) and batches."""
    import torch
    import torch.nn.functional as F

    def loss_func(W, X_batch, y_batch, reg):
        W = W.detach().requires_grad_(True)
        loss = F.cross_entropy(X_batch @ W, y_batch) + reg * (W * W).sum()
        return loss.detach(), torch.autograd.grad(loss, W)[0]

    def sample_batch(X, y, num_train, batch_size):  # the grader's: sample_batch has its own question
        rows = torch.randint(num_train, (batch_size,))
        return X[rows], y[rows]

    torch.manual_seed(seed)
    students, module.sample_batch = module.sample_batch, sample_batch
    try:
        W_trained, history = module.train_linear_classifier(
            loss_func, W, data["X_train"], data["y_train"], learning_rate, 1e-3, num_iters, 64
        )
    finally:
        module.sample_batch = students
    return W_trained, list(history)


def _trained(args, output) -> str | None:
    """Learned from W = 0: held-out accuracy, a lower held-out loss than at the start, a loss a step."""
    W0, _, _, num_iters, _ = args
    if not (isinstance(output, (list, tuple)) and len(output) == 2):
        return "the output should be (W, loss_history)"
    W, history = output
    if not isinstance(history, list) or len(history) != num_iters:
        return f"loss_history should hold one loss for each of the {num_iters} steps"
    reason = _held_out(W)
    if reason:
        return reason
    data = _digits()

    def loss(w):
        return torch.nn.functional.cross_entropy(data["X_test"] @ w.double(), data["y_test"]).item()

    return None if loss(W) < loss(W0) else "the held-out loss did not fall below its value at the start"


def one_param_set(module, data, learning_rate, reg, num_iters):
    """module.test_one_param_set with a classifier of the grader's: full-batch gradient descent on
    cross-entropy (deterministic), and argmax predictions."""
    import torch
    import torch.nn.functional as F

    class Classifier:
        def __init__(self):
            self.W = torch.zeros(data["X_train"].shape[1], 10, dtype=data["X_train"].dtype)

        def train(self, X, y, learning_rate=1e-3, reg=1e-5, num_iters=100, batch_size=200, verbose=False):
            for _ in range(num_iters):
                W = self.W.requires_grad_(True)
                loss = F.cross_entropy(X @ W, y) + reg * (W * W).sum()
                self.W = (W - learning_rate * torch.autograd.grad(loss, W)[0]).detach()
            return []

        def predict(self, X):
            return (X @ self.W).argmax(dim=1)

    model = Classifier()
    cls, train_acc, val_acc = module.test_one_param_set(model, data, learning_rate, reg, num_iters)
    return {
        "same_classifier": cls is model,
        "W": model.W,
        "train_acc": float(train_acc),
        "val_acc": float(val_acc),
    }


def search(module, model, data, num_iters):
    """The best weights of the notebook's search, with the student's grid and code throughout."""
    learning_rates, regs = getattr(module, f"{model}_get_search_params")()
    model_class = module.LinearSVM if model == "svm" else module.Softmax
    _, best, _ = module.search_hyperparameters(model_class, data, learning_rates, regs, num_iters)
    return best.W


def _numbers(values) -> list:
    """A returned sequence (a list, tuple or tensor) as a list, one-element tensors in it as numbers; [] for
    anything else."""
    if isinstance(values, torch.Tensor):
        return values.flatten().tolist()
    if not isinstance(values, (list, tuple)):
        return []
    return [v.item() if isinstance(v, torch.Tensor) and v.numel() == 1 else v for v in values]


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _finds(model: str):
    """A grid the reference's search (run here) turns into weights that classify held-out digits."""

    def property(args, output) -> str | None:
        from solutions import linear_classifier as reference

        if not (isinstance(output, (list, tuple)) and len(output) == 2):
            return "the output should be (learning_rates, regularization_strengths)"
        learning_rates, regs = (_numbers(v) for v in output)
        if not learning_rates or not regs or len(learning_rates) * len(regs) > 25:
            return f"the grid should have between 1 and 25 pairs, got {len(learning_rates)} x {len(regs)}"
        if not all(_is_number(v) and v > 0 for v in learning_rates):
            return "the learning rates should be positive numbers"
        if not all(_is_number(v) and v >= 0 for v in regs):  # a strength of 0 is no regularization
            return "the regularization strengths should be non-negative numbers"
        model_class = reference.LinearSVM if model == "svm" else reference.Softmax
        rows = _training_rows(torch.Generator().manual_seed(0))
        _, best, _ = reference.search_hyperparameters(model_class, rows, learning_rates, regs, NUM_ITERS)
        reason = _held_out(best.W)
        return reason and f"the reference's search with this grid: {reason}"

    return property


def _training_cases() -> list[Case]:
    def training(gen):
        return (
            torch.zeros(65, 10, dtype=torch.float64),
            _training_rows(gen),
            0.3,
            NUM_ITERS,
            draw.integer(gen, 0, 999),
        )

    def param_set(gen):
        return (
            _training_rows(gen),
            draw.uniform(gen, 0.05, 0.5),
            draw.uniform(gen, 0, 1e-2),
            draw.integer(gen, 3, 12),
        )

    return [
        Case(
            "train_linear_classifier",
            "train_linear_classifier",
            training,
            property=_trained,
            driver=train_with_cross_entropy,
        ),
        Case("test_one_param_set", "test_one_param_set", param_set, driver=one_param_set),
        *(
            case
            for model in ("svm", "softmax")
            for case in (
                Case(
                    f"{model}_get_search_params",
                    f"{model}_get_search_params",
                    lambda gen: (),
                    property=_finds(model),
                ),
                Case(
                    f"{model}_search",
                    "search_hyperparameters",
                    lambda gen, model=model: (model, _training_rows(gen), NUM_ITERS),
                    property=lambda args, W: _held_out(W),
                    driver=search,
                ),
            )
        ),
    ]


CASES = _cases()
