"""Assignment 1: linear classifiers (multiclass SVM and softmax).

Conventions, as in EECS 498-007 / CS231n:
- ``W`` has shape (D, C), ``X`` has shape (N, D), ``y`` has shape (N,) with labels in [0, C).
- Scores are ``X @ W`` with shape (N, C).
- Every loss is the mean data loss over the N samples plus ``reg * sum(W * W)`` (no 1/2),
  and returns ``(loss, dW)`` where ``loss`` is a 0-dim tensor and ``dW`` has the shape of W.
- The SVM margin is delta = 1.
- Compute in the inputs' dtype and on their device: the checks hold float64 inputs to float64's
  precision (relative errors of 1e-8 and below) and float32 inputs to float32's.

Fill in the code between the TODO markers only; everything else is provided.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from tqdm.auto import tqdm

LossFunc = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, float], tuple[torch.Tensor, torch.Tensor]]


def hello_linear_classifier() -> str:
    """Says hello: the notebook calls it to check that the module imports."""
    return "Hello from utils/linear_classifier.py!"


def _check_loss_inputs(W: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> None:
    """Raises ValueError naming the offending shape or label when W, X, y do not fit together."""
    if W.dim() != 2:
        raise ValueError(f"W must have shape (D, C); got shape {tuple(W.shape)}")
    if X.dim() != 2 or X.shape[1] != W.shape[0]:
        raise ValueError(
            f"X must have shape (N, D) with D = {W.shape[0]} (rows of W); got shape {tuple(X.shape)}"
        )
    if y.dim() != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(
            f"y must have shape (N,) with N = {X.shape[0]} (rows of X); got shape {tuple(y.shape)}"
        )
    if X.shape[0] == 0:
        raise ValueError("X has no rows: the loss is a mean over N >= 1 samples")
    if y.dtype.is_floating_point or y.dtype == torch.bool:
        raise ValueError(f"y must hold integer class labels; got dtype {y.dtype}")
    if y.min() < 0 or y.max() >= W.shape[1]:
        raise ValueError(
            f"labels in y must lie in [0, {W.shape[1]}) (columns of W); got range [{int(y.min())}, {int(y.max())}]"
        )


def linear_scores(W: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """Scores X @ W, shape (N, C).

    Computed as (W^T X^T)^T: CPU BLAS runs this skinny product (C is small) several times
    faster with the small matrix on the left; the result is the same.
    """
    return W.t().mm(X.t()).t()


def weight_gradient(X: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
    """X^T @ G, shape (D, C): the gradient with respect to W of a loss whose gradient on the scores is G.

    Computed as (G^T X)^T, for the same reason as linear_scores.
    """
    return G.t().mm(X).t()


# --------------------------------------------------------------------------------------
# Multiclass SVM
# --------------------------------------------------------------------------------------
def svm_loss_naive(
    W: torch.Tensor, X: torch.Tensor, y: torch.Tensor, reg: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Multiclass SVM loss and its gradient, with explicit loops over samples and classes.

    L = (1/N) sum_i sum_{j != y_i} max(0, s_ij - s_{i,y_i} + 1) + reg * sum(W * W)

    Inputs:
    - W: (D, C) weights.
    - X: (N, D) minibatch of data.
    - y: (N,) labels; y[i] = c means X[i] has label c, 0 <= c < C.
    - reg: regularization strength.

    Returns a tuple (loss, dW): loss is a 0-dim tensor, dW has shape (D, C).
    """
    _check_loss_inputs(W, X, y)
    ### BEGIN SOLUTION
    num_train, num_classes = X.shape[0], W.shape[1]
    dW = torch.zeros_like(W)
    loss = torch.zeros((), dtype=W.dtype, device=W.device)
    for i in range(num_train):
        label = int(y[i])
        scores = W.t().mv(X[i])
        correct_class_score = scores[label]
        for j in range(num_classes):
            if j == label:
                continue
            margin = scores[j] - correct_class_score + 1
            if margin > 0:
                loss += margin
                dW[:, j] += X[i]
                dW[:, label] -= X[i]
    loss = loss / num_train + reg * torch.sum(W * W)
    dW = dW / num_train + 2 * reg * W
    ### END SOLUTION
    return loss, dW


def svm_loss_vectorized(
    W: torch.Tensor, X: torch.Tensor, y: torch.Tensor, reg: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Multiclass SVM loss and gradient without Python loops; same inputs and outputs as svm_loss_naive.

    Hint: with scores S = X W and G = dL/dS (shape (N, C)), the chain rule gives dW = X^T G.
    """
    _check_loss_inputs(W, X, y)
    ### BEGIN SOLUTION
    num_train = X.shape[0]
    rows = torch.arange(num_train, device=X.device)
    scores = linear_scores(W, X)
    correct_class_scores = scores[rows, y].unsqueeze(1)
    margins = (scores - correct_class_scores + 1).clamp_min(0)
    margins[rows, y] = 0
    loss = margins.sum() / num_train + reg * torch.sum(W * W)

    G = (margins > 0).to(X.dtype)
    G[rows, y] = -G.sum(dim=1)
    dW = weight_gradient(X, G) / num_train + 2 * reg * W
    ### END SOLUTION
    return loss, dW


# --------------------------------------------------------------------------------------
# Softmax
# --------------------------------------------------------------------------------------
def softmax_loss_naive(
    W: torch.Tensor, X: torch.Tensor, y: torch.Tensor, reg: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax (cross-entropy) loss and its gradient, with explicit loops.

    L = (1/N) sum_i -log( exp(s_{i,y_i}) / sum_j exp(s_ij) ) + reg * sum(W * W)

    Same inputs and outputs as svm_loss_naive. Stay numerically stable: the result must be finite and right
    for scores of magnitude 1e4, also where the correct class scores far below its row's maximum (its
    probability then underflows to 0: compute its log without computing the probability).
    """
    _check_loss_inputs(W, X, y)
    ### BEGIN SOLUTION
    num_train, num_classes = X.shape[0], W.shape[1]
    dW = torch.zeros_like(W)
    loss = torch.zeros((), dtype=W.dtype, device=W.device)
    for i in range(num_train):
        label = int(y[i])
        scores = W.t().mv(X[i])
        scores = scores - scores.max()
        exp_scores = torch.exp(scores)
        total = exp_scores.sum()
        loss += torch.log(total) - scores[label]
        for j in range(num_classes):
            dW[:, j] += exp_scores[j] / total * X[i]
        dW[:, label] -= X[i]
    loss = loss / num_train + reg * torch.sum(W * W)
    dW = dW / num_train + 2 * reg * W
    ### END SOLUTION
    return loss, dW


def softmax_loss_vectorized(
    W: torch.Tensor, X: torch.Tensor, y: torch.Tensor, reg: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax loss and gradient without Python loops; same inputs and outputs as softmax_loss_naive.

    Stay numerically stable for any row of scores (rows of very different scale included, and correct classes
    far below their row's maximum).
    """
    _check_loss_inputs(W, X, y)
    ### BEGIN SOLUTION
    num_train = X.shape[0]
    rows = torch.arange(num_train, device=X.device)
    scores = linear_scores(W, X)
    scores = scores - scores.max(dim=1, keepdim=True).values
    log_probs = scores - torch.log(torch.exp(scores).sum(dim=1, keepdim=True))
    loss = -log_probs[rows, y].mean() + reg * torch.sum(W * W)

    G = torch.exp(log_probs)
    G[rows, y] -= 1
    dW = weight_gradient(X, G) / num_train + 2 * reg * W
    ### END SOLUTION
    return loss, dW


# --------------------------------------------------------------------------------------
# Training and prediction
# --------------------------------------------------------------------------------------
def sample_batch(
    X: torch.Tensor, y: torch.Tensor, num_train: int, batch_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Samples batch_size random rows (with replacement) from the first num_train rows of X and y.

    Draw the indices with torch's random generator, so that torch.manual_seed makes it repeatable.

    Returns (X_batch, y_batch) with shapes (batch_size, D) and (batch_size,); y_batch[k] is
    the label of X_batch[k].
    """
    ### BEGIN SOLUTION
    idx = torch.randint(num_train, (batch_size,), device=X.device)
    X_batch, y_batch = X[idx], y[idx]
    ### END SOLUTION
    return X_batch, y_batch


def train_linear_classifier(
    loss_func: LossFunc,
    W: torch.Tensor | None,
    X: torch.Tensor,
    y: torch.Tensor,
    learning_rate: float = 1e-3,
    reg: float = 1e-5,
    num_iters: int = 100,
    batch_size: int = 200,
    verbose: bool = False,
) -> tuple[torch.Tensor, list[float]]:
    """Trains a linear classifier with minibatch stochastic gradient descent.

    Inputs:
    - loss_func: a loss such as svm_loss_vectorized, called as loss_func(W, X_batch, y_batch, reg).
    - W: (D, C) initial weights, or None to start from small random weights. Not modified.
    - X: (N, D) training data; y: (N,) training labels.
    - learning_rate, reg: step size and regularization strength.
    - num_iters: number of SGD steps; batch_size: samples per step.
    - verbose: print the loss every 100 steps.

    Returns (W, loss_history): the trained (D, C) weights and the loss at every step.
    """
    num_train, dim = X.shape
    if W is None:
        num_classes = int(y.max()) + 1
        W = 0.000001 * torch.randn(dim, num_classes, device=X.device, dtype=X.dtype)
    else:
        W = W.clone()

    loss_history = []
    for it in range(num_iters):
        X_batch, y_batch = sample_batch(X, y, num_train, batch_size)
        loss, grad = loss_func(W, X_batch, y_batch, reg)
        loss_history.append(loss.item())
        # Update the weights with one step of gradient descent.
        ### BEGIN SOLUTION
        W -= learning_rate * grad
        ### END SOLUTION
        if verbose and it % 100 == 0:
            print(f"iteration {it} / {num_iters}: loss {loss.item():f}")
    return W, loss_history


def predict_linear_classifier(W: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """Predicts labels with a trained linear classifier.

    Inputs: W (D, C) weights, X (N, D) data.
    Returns y_pred: (N,) int64 tensor, the class with the highest score for each row of X.
    """
    ### BEGIN SOLUTION
    y_pred = linear_scores(W, X).argmax(dim=1)
    ### END SOLUTION
    return y_pred


class LinearClassifier:
    """A linear classifier trained with SGD; subclasses choose the loss."""

    def __init__(self) -> None:
        self.W: torch.Tensor | None = None

    def train(
        self,
        X_train: torch.Tensor,
        y_train: torch.Tensor,
        learning_rate: float = 1e-3,
        reg: float = 1e-5,
        num_iters: int = 100,
        batch_size: int = 200,
        verbose: bool = False,
    ) -> list[float]:
        """Trains self.W (starting from the current weights, if any); returns the loss history."""
        self.W, loss_history = train_linear_classifier(
            self.loss, self.W, X_train, y_train, learning_rate, reg, num_iters, batch_size, verbose
        )
        return loss_history

    def predict(self, X: torch.Tensor) -> torch.Tensor:
        """Predicts the labels of the rows of X: (N,) int64."""
        if self.W is None:
            raise ValueError("the classifier has no weights yet: call train() or load() first")
        return predict_linear_classifier(self.W, X)

    def loss(
        self, W: torch.Tensor, X_batch: torch.Tensor, y_batch: torch.Tensor, reg: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The loss and its gradient; subclasses override this."""
        raise NotImplementedError("LinearClassifier is abstract: use LinearSVM or Softmax")

    def save(self, path: str) -> None:
        """Saves the weights to a file."""
        torch.save({"W": self.W}, path)

    def load(self, path: str) -> None:
        """Loads weights saved by save()."""
        self.W = torch.load(path, map_location="cpu")["W"]


class LinearSVM(LinearClassifier):
    """A linear classifier trained with the multiclass SVM loss."""

    def loss(self, W, X_batch, y_batch, reg):
        return svm_loss_vectorized(W, X_batch, y_batch, reg)


class Softmax(LinearClassifier):
    """A linear classifier trained with the softmax (cross-entropy) loss."""

    def loss(self, W, X_batch, y_batch, reg):
        return softmax_loss_vectorized(W, X_batch, y_batch, reg)


# --------------------------------------------------------------------------------------
# Hyperparameter search
# --------------------------------------------------------------------------------------
def svm_get_search_params() -> tuple[Sequence[float], Sequence[float]]:
    """Returns (learning_rates, regularization_strengths) for the SVM grid search: two non-empty sequences
    (lists, tuples, arrays or 1-D tensors) of numbers, the learning rates positive, the regularization
    strengths non-negative.

    The notebook trains one LinearSVM for each pair, so keep the grid small (at most 25 pairs).
    """
    ### BEGIN SOLUTION
    learning_rates = [3e-2, 1e-1, 3e-1, 1.0]
    regularization_strengths = [1e-4, 1e-3, 1e-2]
    ### END SOLUTION
    return learning_rates, regularization_strengths


def softmax_get_search_params() -> tuple[Sequence[float], Sequence[float]]:
    """Returns (learning_rates, regularization_strengths) for the softmax grid search (at most 25 pairs), in
    the form svm_get_search_params returns them."""
    ### BEGIN SOLUTION
    learning_rates = [1e-1, 3e-1, 1.0, 3.0]
    regularization_strengths = [1e-4, 1e-3, 1e-2]
    ### END SOLUTION
    return learning_rates, regularization_strengths


def test_one_param_set(
    cls: LinearClassifier, data_dict: dict[str, torch.Tensor], lr: float, reg: float, num_iters: int = 2000
) -> tuple[LinearClassifier, float, float]:
    """Trains one classifier with the given hyperparameters and measures its accuracy.

    Inputs:
    - cls: a new LinearClassifier (LinearSVM or Softmax) to train in place.
    - data_dict: holds 'X_train', 'y_train', 'X_val', 'y_val'.
    - lr, reg: learning rate and regularization strength.
    - num_iters: SGD steps. Call cls.train once, with num_iters steps.

    Returns (cls, train_acc, val_acc): the trained classifier and its accuracies on the training and
    validation splits, as fractions in [0, 1] (Python floats or 0-dim tensors). An exact count over N and a
    float32 mean of the hits are both accepted: the checks allow 1e-6.
    """
    ### BEGIN SOLUTION
    cls.train(data_dict["X_train"], data_dict["y_train"], lr, reg, num_iters)
    train_acc = (cls.predict(data_dict["X_train"]) == data_dict["y_train"]).double().mean().item()
    val_acc = (cls.predict(data_dict["X_val"]) == data_dict["y_val"]).double().mean().item()
    ### END SOLUTION
    return cls, train_acc, val_acc


test_one_param_set.__test__ = False  # a course API name, not a pytest test


def search_hyperparameters(
    model_class: Callable[[], LinearClassifier],
    data_dict: dict[str, torch.Tensor],
    learning_rates: Sequence[float],
    regularization_strengths: Sequence[float],
    num_iters: int = 2000,
    seed: int = 0,
) -> tuple[dict[tuple[float, float], tuple[float, float]], LinearClassifier, float]:
    """Trains model_class() with test_one_param_set for every (lr, reg) pair, each from the same seed.

    Returns (results, best_model, best_val_acc): results maps (lr, reg) to (train_acc, val_acc);
    best_model is the one with the highest validation accuracy.
    """
    results, best_model, best_val_acc = {}, None, -1.0
    pairs = [(lr, reg) for lr in learning_rates for reg in regularization_strengths]
    for lr, reg in tqdm(pairs, desc=f"{model_class.__name__} search"):
        torch.manual_seed(seed)
        model, train_acc, val_acc = test_one_param_set(model_class(), data_dict, lr, reg, num_iters)
        results[(lr, reg)] = (train_acc, val_acc)
        if val_acc > best_val_acc:
            best_model, best_val_acc = model, val_acc
    return results, best_model, best_val_acc
