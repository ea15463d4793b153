"""Question checks for assignment 1 (utils/linear_classifier.py).

Every check builds its own small float64 inputs with fixed seeds and compares the student's
function with an independent oracle: torch.nn.functional's losses and autograd.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import torch
import torch.nn.functional as F

from utils.checks.recorded import oracle
from utils.grading import (
    Parts,
    apart,
    as_tensor,
    check_accuracy,
    check_close,
    check_shape,
    check_speedup,
    fail,
    report_pass,
)

MARGIN_HINT = "the SVM loss skips the correct class (j == y[i]); counting it adds exactly 1 per sample"
REG_LOSS_HINT = "add the regularization term reg * torch.sum(W * W) (no 1/2) to the loss"
REG_GRAD_HINT = "the gradient of reg * sum(W * W) is 2 * reg * W: add it to dW"
HALF_REG_GRAD_HINT = "the gradient of reg * sum(W * W) is 2 * reg * W, not reg * W"
MEAN_HINT = "average the data loss and its gradient over the N samples (divide by N)"
# What the best model of each hyperparameter search must reach on each dataset: (validation, test).
# On the digits the gate asks that the search learn, near the middle of the gap between correct code's worst
# seed and code that does not learn (benchmarks/README.md, gate margins); on 400 test digits the grid's tuning
# moves accuracy less than the seed does, so tuning is not graded there.
SEARCH_ACCURACY_GOALS = {"digits": (0.70, 0.70), "mnist": (0.90, 0.90), "cifar10": (0.36, 0.35)}
STABILITY_HINT = (
    "subtract each row's maximum score before exponentiating (max over dim=1 with keepdim=True); "
    "one global maximum is not enough when rows differ in scale"
)
FAR_BELOW_HINT = (
    "when the correct class scores far below the row's maximum, its probability exp(s_y - max) / sum "
    "underflows to 0 and log(0) = -inf: take the log before dividing, "
    "log p_y = (s_y - max) - log(sum_j exp(s_j - max))"
)
# How far an accuracy may lie from k / N: a float32 mean of N booleans is within 6e-8 of it (one rounding of
# an exact sum), and the nearest other fraction of the checks' splits lies 0.1 away.
ACCURACY_TOL = 1e-6


# ---------------------------------------------------------------------------------------------
# Oracles and inputs
# ---------------------------------------------------------------------------------------------
@oracle
def svm_oracle(W: torch.Tensor, X: torch.Tensor, y: torch.Tensor, reg: float):
    """(loss, dW) of the multiclass SVM through F.multi_margin_loss and autograd."""
    W = W.detach().clone().requires_grad_(True)
    num_classes = W.shape[1]
    loss = num_classes * F.multi_margin_loss(X @ W, y, margin=1.0) + reg * (W * W).sum()
    (dW,) = torch.autograd.grad(loss, W)
    return loss.detach(), dW


@oracle
def softmax_oracle(W: torch.Tensor, X: torch.Tensor, y: torch.Tensor, reg: float):
    """(loss, dW) of the softmax classifier through F.cross_entropy and autograd."""
    W = W.detach().clone().requires_grad_(True)
    loss = F.cross_entropy(X @ W, y) + reg * (W * W).sum()
    (dW,) = torch.autograd.grad(loss, W)
    return loss.detach(), dW


@oracle
def predict_oracle(W: torch.Tensor, X: torch.Tensor):
    """(the highest-scoring classes, the lowest-scoring classes) of X @ W."""
    scores = X @ W
    return scores.max(dim=1).indices, scores.min(dim=1).indices


def random_problem(seed: int, num_train: int = 24, dim: int = 12, num_classes: int = 5, w_scale: float = 0.5):
    """Seeded float64 (W, X, y)."""
    gen = torch.Generator().manual_seed(seed)
    W = w_scale * torch.randn(dim, num_classes, generator=gen, dtype=torch.float64)
    X = torch.randn(num_train, dim, generator=gen, dtype=torch.float64)
    y = torch.randint(num_classes, (num_train,), generator=gen)
    return W, X, y


def wide_range_problem(seed: int, scale: float = 1e4):
    """Scores of magnitude `scale`, positive in some rows and negative in others."""
    gen = torch.Generator().manual_seed(seed)
    W = 1 + 0.01 * torch.rand(8, 6, generator=gen, dtype=torch.float64)
    X = torch.rand(10, 8, generator=gen, dtype=torch.float64) + 0.5
    X = X / (X @ W).mean() * scale
    X[::2] *= -1  # even rows score around -scale, odd rows around +scale
    y = torch.randint(6, (10,), generator=gen)
    return W, X, y


def far_below_problem(seed: int, scale: float = 1e4):
    """Scores of magnitude `scale` in which each sample's label is its lowest-scoring class, thousands below
    the row's maximum: exp(s_y - max) underflows to 0 in float64 (below exp(-745))."""
    gen = torch.Generator().manual_seed(seed)
    W = torch.randn(8, 6, generator=gen, dtype=torch.float64)
    X = torch.randn(10, 8, generator=gen, dtype=torch.float64)
    X = X / (X @ W).abs().max() * scale
    return W, X, (X @ W).argmin(dim=1)


def call_loss(loss_fn: Callable, name: str, W, X, y, reg):
    """Calls loss_fn on copies, checks the inputs were left alone, and returns (loss, dW)."""
    W_in, X_in, y_in = W.clone(), X.clone(), y.clone()
    result = loss_fn(W_in, X_in, y_in, reg)
    if not (isinstance(result, tuple) and len(result) == 2):
        fail(f"{name} should return a tuple (loss, dW), got {type(result).__name__}")
    if not (torch.equal(W_in, W) and torch.equal(X_in, X) and torch.equal(y_in, y)):
        fail(f"{name} modified its inputs W, X or y", "work on new tensors (W * W, not W *= W; X.mm(W), ...)")
    loss, dW = result
    return check_shape(f"{name}: loss", loss, ()), check_shape(f"{name}: dW", dW, W.shape)


def seeded_problems(oracle: Callable):
    """Seeded problems with and without regularization: (W, X, y, reg, expected loss, expected dW, context)."""
    for seed, reg in [(0, 0.0), (1, 0.3)]:
        W, X, y = random_problem(seed)
        context = f"(N={X.shape[0]}, D={X.shape[1]}, C={W.shape[1]}, reg={reg})"
        yield (W, X, y, reg, *oracle(W, X, y, reg), context)


def check_loss_values(loss_fn: Callable, name: str, oracle: Callable, data_mistakes: bool) -> None:
    """The loss on seeded problems against the oracle, with hints for the usual mistakes."""
    for W, X, y, reg, expected_loss, _, context in seeded_problems(oracle):
        loss, _ = call_loss(loss_fn, name, W, X, y, reg)
        reg_loss = reg * (W * W).sum()
        mistakes = [
            (expected_loss - reg_loss, REG_LOSS_HINT),
            (expected_loss - reg_loss / 2, "the regularization term is reg * sum(W * W), without 1/2"),
            ((expected_loss - reg_loss) * X.shape[0] + reg_loss, MEAN_HINT),
        ]
        if data_mistakes:
            mistakes.append((expected_loss + 1, MARGIN_HINT))
        check_close(f"{name}: loss {context}", loss, expected_loss, tol=1e-9, mistakes=mistakes)


def check_gradients(loss_fn: Callable, name: str, oracle: Callable) -> None:
    """dW on seeded problems against autograd of the oracle, with hints for the usual mistakes."""
    for W, X, y, reg, _, expected_dW, context in seeded_problems(oracle):
        _, dW = call_loss(loss_fn, name, W, X, y, reg)
        reg_grad = 2 * reg * W
        mistakes = [
            (expected_dW - reg_grad, REG_GRAD_HINT),
            (expected_dW - reg_grad / 2, HALF_REG_GRAD_HINT),
            ((expected_dW - reg_grad) * X.shape[0] + reg_grad, MEAN_HINT),
            (-expected_dW, "dW has the wrong sign"),
        ]
        check_close(f"{name}: dW {context}", dW, expected_dW, tol=1e-8, mistakes=mistakes)


def check_stability(loss_fn: Callable, name: str) -> None:
    """Loss and dW stay finite and right for scores of magnitude 1e4: some rows positive, some negative; then
    with each label thousands below its row's maximum."""
    for problem, scores, hint in [
        (
            wide_range_problem(3),
            "scores of magnitude 1e4 (some rows positive, some negative)",
            STABILITY_HINT,
        ),
        (
            far_below_problem(4),
            "scores of magnitude 1e4 with the correct class thousands below the maximum",
            FAR_BELOW_HINT,
        ),
    ]:
        W, X, y = problem
        loss, dW = call_loss(loss_fn, name, W, X, y, 0.0)
        expected_loss, expected_dW = softmax_oracle(W, X, y, 0.0)
        for label, actual in [("loss", loss), ("dW", dW)]:
            if not torch.isfinite(actual).all():
                fail(f"{name}: {label} is not finite for {scores}", hint)
        check_close(f"{name}: loss for {scores}", loss, expected_loss, tol=1e-9, hint=hint)
        check_close(f"{name}: dW for {scores}", dW, expected_dW, tol=1e-8, hint=hint)


# ---------------------------------------------------------------------------------------------
# Questions
# ---------------------------------------------------------------------------------------------
def check_svm_loss(loss_fn: Callable, name: str) -> None:
    """svm_loss_naive / svm_loss_vectorized against C * F.multi_margin_loss and autograd, part by part."""
    parts = Parts(name)
    with parts("loss"):
        check_loss_values(loss_fn, name, svm_oracle, data_mistakes=True)
    with parts("gradient"):
        check_gradients(loss_fn, name, svm_oracle)
    parts.finish("loss and gradient match F.multi_margin_loss and autograd")


def check_softmax_loss(loss_fn: Callable, name: str) -> None:
    """softmax_loss_naive / softmax_loss_vectorized against F.cross_entropy and autograd, part by part:
    the loss, its gradient, and both at scores of magnitude 1e4 (also with labels far below the maximum)."""
    parts = Parts(name)
    with parts("loss"):
        W, X, y = random_problem(2, w_scale=1e-4)
        loss, _ = call_loss(loss_fn, name, W, X, y, 0.0)
        check_close(
            f"{name}: loss with tiny weights (should be about log(C) = log(5))",
            loss,
            torch.log(torch.tensor(5.0, dtype=torch.float64)),
            tol=1e-3,
        )
        check_loss_values(loss_fn, name, softmax_oracle, data_mistakes=False)
    with parts("gradient"):
        check_gradients(loss_fn, name, softmax_oracle)
    with parts("stability"):
        check_stability(loss_fn, name)
    parts.finish("loss and gradient match F.cross_entropy and autograd, and stay finite at scale 1e4")


def check_vectorized_speedup(
    naive_fn: Callable, vectorized_fn: Callable, name: str, oracle: Callable, min_speedup: float = 20.0
) -> float:
    """The vectorized loss is right and beats the naive one by min_speedup at N=500, D=65, C=10.

    Only the naive version's time counts here, not its values: each has its own question.
    """
    W, X, y = random_problem(4, num_train=500, dim=65, num_classes=10, w_scale=0.01)
    loss, dW = call_loss(vectorized_fn, name, W, X, y, 0.1)
    expected_loss, expected_dW = oracle(W, X, y, 0.1)
    check_close(
        f"{name}: loss (N=500)", loss, expected_loss, tol=1e-9, hint="make the vectorized loss correct first"
    )
    check_close(
        f"{name}: dW (N=500)", dW, expected_dW, tol=1e-8, hint="make the vectorized loss correct first"
    )
    speedup = check_speedup(
        name,
        lambda: vectorized_fn(W, X, y, 0.1),
        lambda: naive_fn(W, X, y, 0.1),
        min_speedup,
        hint="no Python loops over samples or classes: compute all scores with one matrix product",
    )
    report_pass(name, f"{speedup:.0f}x faster than the naive version")
    return speedup


def check_svm_speedup(naive_fn: Callable, vectorized_fn: Callable) -> float:
    """svm_loss_vectorized: right, and much faster than svm_loss_naive."""
    return check_vectorized_speedup(naive_fn, vectorized_fn, "svm_loss_vectorized", svm_oracle)


def check_softmax_speedup(naive_fn: Callable, vectorized_fn: Callable) -> float:
    """softmax_loss_vectorized: right, and much faster than softmax_loss_naive."""
    return check_vectorized_speedup(naive_fn, vectorized_fn, "softmax_loss_vectorized", softmax_oracle)


def check_sample_batch(sample_batch: Callable) -> None:
    """Random rows of the first num_train, labels kept with their rows, new rows each call, repeatable under a seed."""
    num_rows, num_train, batch_size = 60, 40, 16
    X = torch.arange(num_rows, dtype=torch.float64).unsqueeze(1).repeat(1, 3)  # row i holds i
    y = torch.arange(num_rows) * 7 % 10
    torch.manual_seed(0)
    batches = [sample_batch(X, y, num_train, batch_size) for _ in range(5)]
    for X_batch, y_batch in batches:
        check_shape("sample_batch: X_batch", X_batch, (batch_size, 3))
        check_shape("sample_batch: y_batch", y_batch, (batch_size,))
        rows = X_batch[:, 0].long()
        if not torch.equal(X_batch, X[rows]):
            fail("sample_batch: X_batch rows are not rows of X", "index whole rows: X[idx]")
        if rows.max() >= num_train:
            fail(
                f"sample_batch: drew row {int(rows.max())}, but only the first num_train = {num_train} rows may be used"
            )
        if not torch.equal(y_batch, y[rows]):
            fail(
                "sample_batch: y_batch[k] is not the label of X_batch[k]",
                "index X and y with the same indices",
            )
    if all(torch.equal(batches[0][0], b[0]) for b in batches[1:]):
        fail(
            "sample_batch returned the same rows on every call",
            "draw new random indices on each call, e.g. torch.randint(num_train, (batch_size,))",
        )
    drawn = torch.cat([b[0][:, 0] for b in batches]).unique().numel()
    if drawn < num_train // 2:
        fail(
            f"sample_batch: five batches of {batch_size} used only {drawn} of the {num_train} rows",
            "sample the indices uniformly from range(num_train)",
        )
    torch.manual_seed(0)
    X_again, _ = sample_batch(X, y, num_train, batch_size)
    if not torch.equal(X_again, batches[0][0]):
        fail(
            "sample_batch is not repeatable under torch.manual_seed",
            "draw the indices with torch's generator (torch.randint), not numpy or random",
        )
    check_batch_larger_than_the_rows(sample_batch, X, y)
    report_pass("sample_batch")


def check_batch_larger_than_the_rows(sample_batch: Callable, X, y) -> None:
    """With replacement, as the docstring says: a batch of 12 rows from the first 5."""
    hint = "sample with replacement (torch.randint), so that batch_size may exceed num_train"
    try:
        X_batch, _ = sample_batch(X, y, 5, 12)
    except Exception as error:  # randperm or numpy without replacement: the same mistake
        fail(f"sample_batch raised {type(error).__name__} for a batch of 12 from num_train = 5 rows", hint)
    X_batch = as_tensor("sample_batch: X_batch", X_batch)
    if tuple(X_batch.shape) != (12, 3):
        fail(f"sample_batch: a batch of 12 from num_train = 5 rows has shape {tuple(X_batch.shape)}", hint)
    if X_batch[:, 0].max() >= 5:
        fail("sample_batch: drew rows beyond the first num_train = 5 for a batch of 12")


def check_train_linear_classifier(train_fn: Callable) -> None:
    """SGD steps W <- W - lr * dW with a scripted loss, num_iters times, batch_size rows a step."""
    calls = []

    def scripted_loss(W, X_batch, y_batch, reg):
        calls.append((X_batch.shape, y_batch.shape, reg))
        step = len(calls)
        return torch.tensor(10.0 / step, dtype=W.dtype), torch.full_like(W, float(step))

    W0 = torch.zeros(4, 3, dtype=torch.float64)
    X = torch.randn(30, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    y = torch.arange(30) % 3
    torch.manual_seed(0)
    result = train_fn(scripted_loss, W0, X, y, learning_rate=0.1, reg=0.25, num_iters=6, batch_size=8)
    if not (isinstance(result, tuple) and len(result) == 2):
        fail(f"train_linear_classifier should return (W, loss_history), got {type(result).__name__}")
    W, loss_history = result
    if len(calls) != 6:
        fail(f"train_linear_classifier called the loss {len(calls)} times for num_iters=6")
    if any(shape != ((8, 4), (8,), 0.25) for shape in calls):
        fail(f"train_linear_classifier: the loss got batches/reg {calls[0]}, expected ((8, 4), (8,), 0.25)")
    expected_W = W0 - 0.1 * sum(range(1, 7))  # gradients 1, 2, ..., 6
    check_close(
        "train_linear_classifier: W after 6 steps with gradients 1..6 and lr 0.1",
        W,
        torch.full_like(W0, expected_W[0, 0].item()),
        tol=1e-12,
        mistakes=[
            (
                torch.full_like(W0, -expected_W[0, 0].item()),
                "step against the gradient: subtract learning_rate times the gradient from W",
            )
        ],
    )
    if [round(v, 9) for v in loss_history] != [round(10.0 / k, 9) for k in range(1, 7)]:
        fail(f"train_linear_classifier: loss_history is {loss_history}, expected the loss of every step")
    report_pass("train_linear_classifier")


def check_predict(predict_fn: Callable) -> None:
    """Predictions are the highest-scoring classes, as int64."""
    W, X, _ = random_problem(6, num_train=50, dim=7, num_classes=6)
    y_pred = check_shape("predict_linear_classifier: y_pred", predict_fn(W, X), (50,))
    if y_pred.dtype != torch.int64:
        fail(f"predict_linear_classifier: y_pred has dtype {y_pred.dtype}, expected torch.int64")
    expected, lowest = predict_oracle(W, X)
    wrong = (y_pred != expected).sum().item()
    if wrong:
        hint = "predict the class with the HIGHEST score (argmax over dim=1)"
        if torch.equal(y_pred, lowest):
            hint = "that is the lowest-scoring class: use argmax, not argmin"
        fail(
            f"predict_linear_classifier: {wrong} of 50 predictions differ from the highest-scoring class",
            hint,
        )
    report_pass("predict_linear_classifier")


class _RecordingClassifier:
    """Stands in for LinearSVM/Softmax: records train() calls and predicts fixed labels."""

    def __init__(self, predictions):
        self.predictions = predictions
        self.train_calls = []

    def train(
        self, X_train, y_train, learning_rate=1e-3, reg=1e-5, num_iters=100, batch_size=200, verbose=False
    ):
        self.train_calls.append(
            dict(rows=X_train.shape[0], learning_rate=learning_rate, reg=reg, num_iters=num_iters)
        )
        return []

    def predict(self, X):
        return self.predictions[X.shape[0]]


def check_fraction(label: str, value, right: int, total: int, accuracies: dict) -> None:
    """value is right / total within ACCURACY_TOL: an exact fraction, or a float32 mean of the hits."""
    try:
        number = float(value)
    except (TypeError, ValueError, RuntimeError):
        fail(f"test_one_param_set: {label} should be a number (a fraction in [0, 1]), got {value!r:.80}")
    expected = right / total
    if abs(number - expected) <= ACCURACY_TOL:
        return
    hint = "accuracy is the fraction of predictions equal to the labels, on that split"
    if abs(number - 100 * expected) <= 100 * ACCURACY_TOL:
        hint = "return fractions in [0, 1], not percentages"
    for other, (_, other_right, other_total) in accuracies.items():
        if other != label and abs(number - other_right / other_total) <= ACCURACY_TOL:
            hint = f"that is {other}: measure {label} on the {label.removesuffix('_acc')} split"
    shown, wanted = apart(number, expected, 6)
    fail(
        f"test_one_param_set: {label} is {shown}, expected {wanted} ({right} of {total} predictions right; "
        f"difference {number - expected:+.2g}, allowed {ACCURACY_TOL:g})",
        hint,
    )


def check_test_one_param_set(test_one_param_set: Callable) -> None:
    """One train() call with the given lr, reg, num_iters on the training split; accuracies as fractions
    (k / N within ACCURACY_TOL, so that a float32 mean counts as well as an exact one)."""
    y_train, y_val = torch.arange(10) % 3, torch.arange(4) % 3
    train_pred = y_train.clone()
    train_pred[:4] = (train_pred[:4] + 1) % 3  # 6 of 10 right
    val_pred = (y_val + 1) % 3
    val_pred[0] = y_val[0]  # 1 of 4 right
    data = {"X_train": torch.zeros(10, 2), "y_train": y_train, "X_val": torch.zeros(4, 2), "y_val": y_val}
    model = _RecordingClassifier({10: train_pred, 4: val_pred})
    result = test_one_param_set(model, data, 0.5, 0.01, num_iters=37)
    if not (isinstance(result, tuple) and len(result) == 3):
        fail("test_one_param_set should return (cls, train_acc, val_acc)")
    cls, train_acc, val_acc = result
    calls = model.train_calls
    if len(calls) != 1:
        fail(
            f"test_one_param_set called cls.train {len(calls)} times, expected once",
            "call cls.train once with num_iters=num_iters; train runs all the iterations itself",
        )
    expected_call = dict(rows=10, learning_rate=0.5, reg=0.01, num_iters=37)
    if calls[0] != expected_call:
        fail(
            f"test_one_param_set called cls.train with {calls[0]}, expected {expected_call}",
            "pass X_train, y_train, lr, reg and num_iters through to cls.train",
        )
    if cls is not model:
        fail("test_one_param_set should return the classifier it trained as its first value")
    accuracies = {"train_acc": (train_acc, 6, 10), "val_acc": (val_acc, 1, 4)}
    for label, (value, right, total) in accuracies.items():
        check_fraction(label, value, right, total, accuracies)
    report_pass("test_one_param_set")


def grid_values(values) -> list:
    """A grid's sequence (a list, tuple, array or 1-D tensor) as a list, tensors' and arrays' items as numbers."""
    if hasattr(values, "tolist"):
        values = values.tolist()
    return [v.item() if hasattr(v, "item") else v for v in values]


def is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_search_params(get_params: Callable, name: str, max_pairs: int = 25) -> None:
    """Two non-empty sequences of numbers, positive learning rates and non-negative regularization strengths,
    at most max_pairs combinations."""
    result = get_params()
    if not (isinstance(result, tuple) and len(result) == 2):
        fail(f"{name} should return (learning_rates, regularization_strengths)")
    try:
        learning_rates, regs = (grid_values(v) for v in result)
    except TypeError:
        fail(f"{name} should return two sequences of numbers, got {result!r:.80}")
    if not learning_rates or not regs:
        fail(f"{name}: both lists need at least one value")
    if any(not is_number(v) or not v > 0 for v in learning_rates):
        fail(f"{name}: learning rates must be positive numbers, got {learning_rates}")
    if any(not is_number(v) or not v >= 0 for v in regs):
        fail(f"{name}: regularization strengths must be non-negative numbers, got {regs}")
    if len(learning_rates) * len(regs) > max_pairs:
        fail(
            f"{name}: {len(learning_rates) * len(regs)} combinations, at most {max_pairs} keep the search quick"
        )
    report_pass(name, f"{len(learning_rates) * len(regs)} combinations")


def check_search_accuracy(
    model: str, val_accuracy: float, test_accuracy: float, dataset: str, params: str
) -> None:
    """The best model of the notebook's search reaches the dataset's goals; params names the grid's function."""
    val_goal, test_goal = SEARCH_ACCURACY_GOALS[dataset]
    hint = (
        f"make predict and test_one_param_set pass first; then widen the grid in {params} "
        "(the plot below shows where accuracy rises)"
    )
    check_accuracy(f"best {model} validation accuracy", val_accuracy, val_goal, hint)
    check_accuracy(f"best {model} test accuracy", test_accuracy, test_goal, hint)
