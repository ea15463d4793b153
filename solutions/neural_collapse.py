"""Assignment 4: neural collapse and fixed simplex-ETF classifier heads on long-tailed data.

Conventions:
- A classifier's weight W is (D, C): one D-dimensional column per class (features h are (N, D), logits h @ W).
- A simplex equiangular tight frame (ETF) is C unit vectors with pairwise inner product -1/(C-1): the
  Gram matrix W^T W equals M = etf_gram_target(C).
- Neural collapse (Papyan, Han and Donoho, PNAS 2020): at the end of training, the features of each class
  collapse to their class mean (NC1), the centred class means form a simplex ETF (NC2), the classifier
  aligns with them (NC3), and the classifier acts as a nearest-class-mean rule (NC4).
- Unless a docstring says otherwise, compute in the inputs' dtype and on their device: the checks hold
  float64 inputs to float64's precision and float32 inputs to float32's.

Fill in the code between the TODO markers only; everything else is provided.
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm


def hello_neural_collapse() -> str:
    """Says hello: the notebook calls it to check that the module imports."""
    return "Hello from utils/neural_collapse.py!"


def _check_num_classes(num_classes: int) -> None:
    if num_classes < 2:
        raise ValueError(f"a simplex ETF needs at least 2 classes; got num_classes = {num_classes}")


# --------------------------------------------------------------------------------------
# The simplex ETF by optimization
# --------------------------------------------------------------------------------------
def etf_gram_target(num_classes: int, dtype: torch.dtype = torch.float64, device=None) -> torch.Tensor:
    """The Gram matrix of a simplex ETF: (C, C) with 1 on the diagonal and -1/(C-1) off it, in dtype (float64
    by default) and on device."""
    _check_num_classes(num_classes)
    ### BEGIN SOLUTION
    C = num_classes
    target = torch.full((C, C), -1.0 / (C - 1), dtype=dtype, device=device)
    target.fill_diagonal_(1.0)
    ### END SOLUTION
    return target


def etf_objective_naive(W: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """||W^T W - M||_F^2 and its gradient with respect to W (D, C), with loops over the column pairs.

    M = etf_gram_target(C) (in W's dtype and device). Loop over all C^2 ordered pairs (i, j), i = j
    included: the loss is the sum over them of (w_i . w_j - M_ij)^2, and each pair adds
    2 (w_i . w_j - M_ij) w_j to the gradient's column i and 2 (w_i . w_j - M_ij) w_i to its column j, which
    makes the gradient 4 W (W^T W - M). (Over the unordered pairs i < j, count each pair twice and the
    pairs i = i once.) Returns (loss, a scalar tensor; grad, (D, C)).
    """
    ### BEGIN SOLUTION
    M = etf_gram_target(W.shape[1], dtype=W.dtype, device=W.device)
    C = W.shape[1]
    loss = W.new_zeros(())
    grad = torch.zeros_like(W)
    for i in range(C):
        for j in range(C):
            error = W[:, i] @ W[:, j] - M[i, j]
            loss += error * error
            grad[:, i] += 2 * error * W[:, j]
            grad[:, j] += 2 * error * W[:, i]
    ### END SOLUTION
    return loss, grad


def etf_objective(W: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """etf_objective_naive without Python loops; same inputs and outputs."""
    ### BEGIN SOLUTION
    M = etf_gram_target(W.shape[1], dtype=W.dtype, device=W.device)
    error = W.t() @ W - M
    loss = (error * error).sum()
    grad = 4 * W @ error
    ### END SOLUTION
    return loss, grad


class DescentResult(NamedTuple):
    weight: torch.Tensor  # (D, C)
    iterations: int  # gradient steps taken
    losses: list[float]  # the objective before each step, and after the last


def etf_by_gradient_descent(
    num_features: int,
    num_classes: int,
    lr: float = 0.05,
    tol: float = 1e-6,
    max_iters: int = 10000,
    seed: int = 0,
) -> DescentResult:
    """Gradient descent on etf_objective from a seeded Gaussian start W0 = randn(D, C) / sqrt(D) (float64),
    stopping as soon as the objective is <= tol. When max_iters steps do not get there, it warns
    (RuntimeWarning) and returns where it stopped."""
    _check_num_classes(num_classes)
    if num_features < num_classes - 1:
        raise ValueError(
            f"no simplex ETF of {num_classes} classes exists in {num_features} < C - 1 dimensions"
        )
    gen = torch.Generator().manual_seed(seed)
    W = torch.randn(num_features, num_classes, generator=gen, dtype=torch.float64) / math.sqrt(num_features)
    losses = []
    ### BEGIN SOLUTION
    for iteration in range(max_iters + 1):
        loss, grad = etf_objective(W)
        losses.append(loss.item())
        if loss.item() <= tol:
            return DescentResult(W, iteration, losses)
        if iteration < max_iters:
            W = W - lr * grad
    ### END SOLUTION
    warnings.warn(
        f"gradient descent stopped after {max_iters} steps at objective {losses[-1]:.3g} > tol = {tol:g}; "
        "raise max_iters or lr",
        RuntimeWarning,
        stacklevel=2,
    )
    return DescentResult(W, max_iters, losses)


# --------------------------------------------------------------------------------------
# The simplex ETF in closed form
# --------------------------------------------------------------------------------------
def _helmert_basis(num_classes: int, dtype: torch.dtype, device) -> torch.Tensor:
    """(C, C-1) orthonormal columns spanning the vectors orthogonal to the all-ones vector (Helmert's)."""
    k = torch.arange(1, num_classes, dtype=dtype, device=device)  # column k has k ones, then -k
    rows = torch.arange(num_classes, device=device).unsqueeze(1)
    scale = 1 / torch.sqrt(k * (k + 1))
    basis = torch.where(
        rows < k, scale, torch.where(rows == k, -k * scale, torch.zeros((), dtype=dtype, device=device))
    )
    return basis


def simplex_etf(
    num_features: int,
    num_classes: int,
    seed: int | None = None,
    dtype: torch.dtype = torch.float32,
    device=None,
) -> torch.Tensor:
    """A simplex ETF in closed form: (D, C) unit columns with pairwise inner products -1/(C-1).

    W = sqrt(C / (C-1)) U (I - 11^T / C), where U (D, C) is:
    - for D >= C, U has orthonormal columns: the Q of the QR decomposition of a (D, C) Gaussian matrix;
    - for D = C - 1 no (D, C) matrix has orthonormal columns; then U = Q V^T with Q from a (D, D)
      Gaussian matrix and V (C, C-1) an orthonormal basis of the vectors orthogonal to the all-ones
      vector (provided: _helmert_basis), which is all the centring needs.
    Either way W^T W = C/(C-1) (I - 11^T/C) = etf_gram_target(C). Multiplying by I - 11^T/C centres each
    row of U (subtract its mean over the C columns). The Gaussian matrix is drawn in float64, whatever dtype
    is, with a torch.Generator seeded by seed (the global generator when seed is None), which gives the ETF
    a random orientation, the same for every dtype. Computed in float64 (on the CPU) and returned in dtype,
    on device. (The checks test W^T W and that a seed repeats its W, so they accept a draw in another
    dtype.) D < C - 1 is a ValueError: no simplex ETF exists.
    """
    _check_num_classes(num_classes)
    if num_features < num_classes - 1:
        raise ValueError(
            f"no simplex ETF of C = {num_classes} classes exists in D = {num_features} dimensions: its C vectors "
            f"sum to zero and span a (C - 1)-dimensional space, so D must be at least C - 1 = {num_classes - 1}"
        )
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    D, C = num_features, num_classes
    ### BEGIN SOLUTION
    Q, _ = torch.linalg.qr(torch.randn(D, min(D, C), generator=generator, dtype=torch.float64))
    U = Q if D >= C else Q @ _helmert_basis(C, torch.float64, "cpu").t()
    W = math.sqrt(C / (C - 1)) * (U - U.mean(dim=1, keepdim=True))
    ### END SOLUTION
    return W.to(dtype=dtype, device=device)


class ETFClassifier(nn.Module):
    """A classifier head whose weight is a fixed simplex ETF: logits = scale * h @ weight.

    weight (D, C) is a registered buffer, never a parameter: it moves with .to() and is saved in the
    state dict, but no optimizer can change it. It holds the ETF simplex_etf makes for these sizes and seed,
    in simplex_etf's default float32 or in float64 (forward casts it to the features' dtype). With
    normalize_features, h is scaled to unit norm first.
    """

    def __init__(
        self,
        num_features: int,
        num_classes: int,
        scale: float = 1.0,
        normalize_features: bool = False,
        seed: int = 0,
    ):
        super().__init__()
        self.scale, self.normalize_features = scale, normalize_features
        ### BEGIN SOLUTION
        self.register_buffer("weight", simplex_etf(num_features, num_classes, seed=seed))
        ### END SOLUTION

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if self.normalize_features:
            features = F.normalize(features, dim=1)
        return self.scale * features @ self.weight.to(features.dtype)


# --------------------------------------------------------------------------------------
# Losses for a fixed ETF head
# --------------------------------------------------------------------------------------
def _check_features(features: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor | None = None) -> None:
    if features.dim() != 2:
        raise ValueError(f"features should be (N, D); got shape {tuple(features.shape)}")
    if labels.shape != (features.shape[0],):
        raise ValueError(
            f"labels should be ({features.shape[0]},), one per feature row; got {tuple(labels.shape)}"
        )
    if weight is not None:
        if weight.dim() != 2 or weight.shape[0] != features.shape[1]:
            raise ValueError(
                f"weight should be (D, C) with D = {features.shape[1]}; got {tuple(weight.shape)}"
            )
        if labels.numel() and (labels.min() < 0 or labels.max() >= weight.shape[1]):
            raise ValueError(
                f"labels should lie in [0, {weight.shape[1]}); got {labels.min().item()} to {labels.max().item()}"
            )


def dot_regression_loss(features: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Yang et al. (NeurIPS 2022): 1/2 mean over the batch of (cos(h_i, w_{y_i}) - 1)^2, with the
    features h (N, D) and the columns of weight (D, C) normalized to unit length."""
    _check_features(features, labels, weight)
    ### BEGIN SOLUTION
    cosine = (F.normalize(features, dim=1) * F.normalize(weight, dim=0)[:, labels].t()).sum(dim=1)
    loss = 0.5 * ((cosine - 1) ** 2).mean()
    ### END SOLUTION
    return loss


def center_collapse_loss(features: torch.Tensor, labels: torch.Tensor, head: ETFClassifier) -> torch.Tensor:
    """The center-collapse regularizer of Zhong et al. (2023) in its classification form: the mean feature
    of every class present in the batch is classified by the fixed ETF head, and the loss is the
    cross-entropy of those means against their classes (averaged over the classes present)."""
    _check_features(features, labels, head.weight)
    present = labels.unique()
    one_hot = (labels.unsqueeze(1) == present.unsqueeze(0)).to(features.dtype)  # (N, P)
    means = (one_hot.t() @ features) / one_hot.sum(dim=0, keepdim=True).t()
    return F.cross_entropy(head(means), present)


# --------------------------------------------------------------------------------------
# Measuring neural collapse
# --------------------------------------------------------------------------------------
def class_means(features: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(C, D) per-class means of features (N, D); ValueError naming a class with no sample."""
    counts = torch.bincount(labels, minlength=num_classes)
    if (counts == 0).any():
        missing = (counts == 0).nonzero().flatten().tolist()
        raise ValueError(
            f"classes {missing} have no samples: every class needs at least one to measure collapse"
        )
    sums = torch.zeros(num_classes, features.shape[1], dtype=features.dtype, device=features.device)
    return sums.index_add_(0, labels, features) / counts.unsqueeze(1).to(features.dtype)


def neural_collapse_metrics(
    features: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor | None = None
) -> dict[str, float]:
    """The neural-collapse measurements of Papyan, Han and Donoho (2020) on features (N, D) with labels (N,).

    With mu_G the global mean, the plain mean of all N features (on long-tailed data it weights each class
    by its size: no extra weighting), mu_c the class means and C the number of classes (weight's columns,
    else labels.max() + 1); every std below is torch.std's (with Bessel's correction):
    - nc1: tr(Sigma_W pinv(Sigma_B)) / C, where Sigma_W = average over all samples of
      (h - mu_y)(h - mu_y)^T and Sigma_B = average over classes of (mu_c - mu_G)(mu_c - mu_G)^T
      (as in Papyan et al. and the public reference code of Zhu et al., NeurIPS 2021);
    - nc2_equinorm: std / mean of the norms ||mu_c - mu_G||;
    - nc2_equiangularity: std of the C(C-1) off-diagonal entries of the cosine matrix of the centred means;
    - nc2_etf_distance: ||G / ||G||_F - T / ||T||_F||_F, G the Gram matrix of the centred class means
      and T = etf_gram_target(C) (the ETF distance of Zhu et al.'s code);
    and only when weight (D, C) is given (without it, "nc3" and "nc4" are left out of the dict):
    - nc3: ||W / ||W||_F - M / ||M||_F||_F with M (D, C) the centred class means as columns;
    - nc4: the fraction of samples on which the classifier, argmax_c h @ W, disagrees with the nearest
      class mean, argmin_c ||h - mu_c|| (a float32 mean of the disagreements is accepted: the checks
      allow 1e-6 there).
    A class with no sample is a ValueError. Computed in float64; returns a dict of Python floats.
    """
    _check_features(features, labels, weight)
    num_classes = weight.shape[1] if weight is not None else int(labels.max()) + 1
    _check_num_classes(num_classes)
    h = features.detach().double()
    means = class_means(h, labels, num_classes)  # (C, D)
    ### BEGIN SOLUTION
    global_mean = h.mean(dim=0)
    centred = means - global_mean  # (C, D)
    within = h - means[labels]
    sigma_w = within.t() @ within / h.shape[0]
    sigma_b = centred.t() @ centred / num_classes
    nc1 = torch.trace(sigma_w @ torch.linalg.pinv(sigma_b)).item() / num_classes

    norms = centred.norm(dim=1)
    unit = centred / norms.unsqueeze(1)
    cosines = unit @ unit.t()
    off_diagonal = cosines[~torch.eye(num_classes, dtype=torch.bool, device=cosines.device)]
    gram = centred @ centred.t()
    target = etf_gram_target(num_classes, device=gram.device)
    metrics = {
        "nc1": nc1,
        "nc2_equinorm": (norms.std() / norms.mean()).item(),
        "nc2_equiangularity": off_diagonal.std().item(),
        "nc2_etf_distance": (gram / gram.norm() - target / target.norm()).norm().item(),
    }
    if weight is not None:
        W = weight.detach().double()
        M = centred.t()
        metrics["nc3"] = (W / W.norm() - M / M.norm()).norm().item()
        classifier = (h @ W).argmax(dim=1)
        nearest_mean = torch.cdist(h, means).argmin(dim=1)
        metrics["nc4"] = (classifier != nearest_mean).double().mean().item()
    ### END SOLUTION
    return metrics


# --------------------------------------------------------------------------------------
# Long-tailed data
# --------------------------------------------------------------------------------------
def long_tailed_counts(num_per_class: int, num_classes: int, imbalance_ratio: float) -> list[int]:
    """The exponential profile of CIFAR-10-LT (Cao et al., 2019): class c keeps
    int(num_per_class * imbalance_ratio ** (c / (C - 1))) samples, from num_per_class for class 0 down to
    num_per_class * imbalance_ratio for class C - 1. Compute it in Python floats (float64): int() truncates,
    so a float32 computation can give a class one sample less. Returns a list of C Python ints."""
    if not 0 < imbalance_ratio <= 1:
        raise ValueError(
            f"imbalance_ratio should lie in (0, 1] (smallest / largest class); got {imbalance_ratio}"
        )
    _check_num_classes(num_classes)
    ### BEGIN SOLUTION
    counts = [int(num_per_class * imbalance_ratio ** (c / (num_classes - 1))) for c in range(num_classes)]
    ### END SOLUTION
    return counts


def long_tailed_indices(labels: torch.Tensor, imbalance_ratio: float, seed: int = 0) -> torch.Tensor:
    """Indices of a long-tailed subset of a dataset with labels (N,): class c keeps a seeded random
    long_tailed_counts(n_max, C, imbalance_ratio)[c] of its samples, where n_max is the size of the
    smallest class (so every class has enough). Returned sorted."""
    num_classes = int(labels.max()) + 1
    available = torch.bincount(labels, minlength=num_classes)
    counts = long_tailed_counts(int(available.min()), num_classes, imbalance_ratio)
    gen = torch.Generator().manual_seed(seed)
    picks = []
    for c, count in enumerate(counts):
        members = (labels == c).nonzero().flatten()
        picks.append(members[torch.randperm(len(members), generator=gen)[:count]])
    return torch.cat(picks).sort().values


# --------------------------------------------------------------------------------------
# The unconstrained-features model
# --------------------------------------------------------------------------------------
class UnconstrainedFeatures(NamedTuple):
    features: torch.Tensor  # (N, D), the learned free features
    labels: torch.Tensor  # (N,), class c repeated counts[c] times
    weight: torch.Tensor  # (D, C), the learned or fixed classifier
    history: list[dict[str, float]]  # step, objective and neural_collapse_metrics every metrics_every steps


def train_unconstrained_features(
    counts: list[int],
    num_features: int,
    head: str = "linear",
    steps: int = 4000,
    lr: float = 1.0,
    weight_decay: float = 5e-3,
    seed: int = 0,
    metrics_every: int = 100,
) -> UnconstrainedFeatures:
    """The unconstrained-features model (Mixon et al., 2020; Zhu et al., NeurIPS 2021): a network so
    expressive that its last-layer features are free variables. counts[c] features h_i of class c and the
    classifier W (D, C) minimize, by full-batch gradient descent with momentum 0.9 in float64,
        mean_i CE(h_i W, y_i) + weight_decay / 2 * (mean_i ||h_i||^2 + ||W||_F^2);
    every global minimizer is a neural collapse (Zhu et al.). head="etf" fixes W to simplex_etf (seeded by
    seed) and learns only the features, without W's penalty. Seeded Gaussian start of scale 0.1."""
    if head not in ("linear", "etf"):
        raise ValueError(f"head should be 'linear' or 'etf'; got {head!r}")
    gen = torch.Generator().manual_seed(seed)
    labels = torch.cat([torch.full((n,), c) for c, n in enumerate(counts)])
    H = (0.1 * torch.randn(len(labels), num_features, generator=gen, dtype=torch.float64)).requires_grad_()
    learn_head = head == "linear"
    if learn_head:
        W = 0.1 * torch.randn(num_features, len(counts), generator=gen, dtype=torch.float64)
        W.requires_grad_()
    else:
        W = simplex_etf(num_features, len(counts), seed=seed, dtype=torch.float64)
    optimizer = torch.optim.SGD([H, W] if learn_head else [H], lr=lr, momentum=0.9)
    history = []
    for step in range(1, steps + 1):
        penalty = (H * H).sum(dim=1).mean() + ((W * W).sum() if learn_head else 0.0)
        objective = F.cross_entropy(H @ W, labels) + weight_decay / 2 * penalty
        optimizer.zero_grad()
        objective.backward()
        optimizer.step()
        if step % metrics_every == 0 or step == steps:
            metrics = neural_collapse_metrics(H.detach(), labels, W.detach())
            history.append({"step": step, "objective": objective.item(), **metrics})
    return UnconstrainedFeatures(H.detach(), labels, W.detach(), history)


# --------------------------------------------------------------------------------------
# The experiment: a network with a learnable or a fixed ETF head on long-tailed data
# --------------------------------------------------------------------------------------
class FeatureNet(nn.Module):
    """An MLP backbone giving D-dimensional features and a classifier head on them.

    The backbone is depth blocks of Linear, BatchNorm and ReLU (hidden units each), then a Linear layer to
    the D features and a BatchNorm on them. The features are not passed through a ReLU: they can centre on
    zero, as the centred class means of a simplex ETF do.
    head: "linear" (a learnable linear layer without bias) or "etf" (ETFClassifier, fixed).
    forward(x) with x (N, in_features) returns (logits (N, C), features (N, D)); classifier_weight is
    the head's (D, C) weight, learnable or not.
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        num_features: int = 32,
        hidden: int = 128,
        head: str = "linear",
        seed: int = 0,
        depth: int = 2,
    ):
        super().__init__()
        if head not in ("linear", "etf"):
            raise ValueError(f"head should be 'linear' or 'etf'; got {head!r}")
        layers, width = [], in_features
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.BatchNorm1d(hidden), nn.ReLU()]
            width = hidden
        self.backbone = nn.Sequential(*layers, nn.Linear(width, num_features), nn.BatchNorm1d(num_features))
        self.head = (
            nn.Linear(num_features, num_classes, bias=False)
            if head == "linear"
            else ETFClassifier(num_features, num_classes, seed=seed)
        )

    @property
    def classifier_weight(self) -> torch.Tensor:
        return self.head.weight.t() if isinstance(self.head, nn.Linear) else self.head.weight

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.backbone(x)
        return self.head(features), features


def _schedule(optimizer: torch.optim.Optimizer, kind: str, total_steps: int):
    """The learning-rate schedule of Papyan et al.'s terminal-phase runs, stepped once a batch: "step" divides
    the rate by 10 at 1/3 and 2/3 of training, "cosine" anneals it to zero, "constant" keeps it."""
    if kind == "step":
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, [total_steps // 3, 2 * total_steps // 3], 0.1)
    if kind == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, total_steps)
    if kind == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    raise ValueError(f"lr_schedule should be 'step', 'cosine' or 'constant'; got {kind!r}")


def train_feature_net(
    model: FeatureNet,
    X: torch.Tensor,
    y: torch.Tensor,
    loss: str = "ce",
    epochs: int = 200,
    batch_size: int = 64,
    lr: float = 0.05,
    weight_decay: float = 5e-4,
    seed: int = 0,
    metrics_every: int = 10,
    desc: str = "training",
    center_weight: float = 0.0,
    lr_schedule: str = "cosine",
) -> list[dict[str, float]]:
    """SGD with momentum 0.9 on (X, y) with cross-entropy ("ce") on the logits or dot-regression ("dr")
    against the head's weight, plus center_weight times center_collapse_loss (which needs the ETF head),
    the learning rate following lr_schedule ("cosine", "step" or "constant"; see _schedule).
    Every metrics_every epochs (and after the last), records the epoch, the training loss, the training
    error (the fraction of X misclassified, in eval mode) and neural_collapse_metrics of the training
    features with the head's weight."""
    if loss not in ("ce", "dr"):
        raise ValueError(f"loss should be 'ce' or 'dr'; got {loss!r}")
    if center_weight and not isinstance(model.head, ETFClassifier):
        raise ValueError(
            "center_weight > 0 needs the fixed ETF head (head='etf'): the class means are classified by it"
        )
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    scheduler = _schedule(optimizer, lr_schedule, epochs * math.ceil(len(X) / batch_size))
    gen = torch.Generator().manual_seed(seed)
    history = []
    for epoch in tqdm(range(1, epochs + 1), desc=desc, mininterval=1.0):
        model.train()
        total = 0.0
        for batch in torch.randperm(len(X), generator=gen).split(batch_size):
            if len(batch) < 2:  # BatchNorm needs two samples; the one left over joins the next epoch's
                continue
            logits, features = model(X[batch])
            value = (
                F.cross_entropy(logits, y[batch])
                if loss == "ce"
                else dot_regression_loss(features, y[batch], model.classifier_weight)
            )
            if center_weight:
                value = value + center_weight * center_collapse_loss(features, y[batch], model.head)
            optimizer.zero_grad()
            value.backward()
            optimizer.step()
            scheduler.step()
            total += value.item() * len(batch)
        if epoch % metrics_every == 0 or epoch == epochs:
            model.eval()
            with torch.no_grad():
                logits, features = model(X)
            metrics = neural_collapse_metrics(features, y, model.classifier_weight.detach())
            train_error = (logits.argmax(dim=1) != y).double().mean().item()
            history.append({"epoch": epoch, "loss": total / len(X), "train_error": train_error, **metrics})
    return history


def first_zero_error_epoch(history: list[dict[str, float]]) -> int | None:
    """The first recorded epoch with zero training error (the start of the terminal phase), or None."""
    return next((row["epoch"] for row in history if row["train_error"] == 0), None)


@torch.no_grad()
def per_class_accuracy(model: FeatureNet, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(C,) accuracy of the model on each class of (X, y), the prediction being argmax_c logits."""
    model.eval()
    logits, _ = model(X)
    correct = (logits.argmax(dim=1) == y).double()
    num_classes = logits.shape[1]
    return torch.zeros(num_classes, dtype=torch.float64).index_add_(0, y, correct) / torch.bincount(
        y, minlength=num_classes
    )
