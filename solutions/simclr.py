"""Assignment 2: self-supervised learning with SimCLR (Chen et al., 2020).

Conventions, as in CS231n's SimCLR question:
- ``out_left`` and ``out_right`` are (N, D) projections z of two augmented views of the same N
  images: row k of out_left and row k of out_right are a positive pair.
- ``out = torch.cat([out_left, out_right])`` is (2N, D): the positive of row k is row k + N and
  the positive of row k + N is row k.
- The NT-Xent loss is the mean over all 2N anchors i of
  -log( exp(sim(z_i, z_pos(i)) / tau) / sum_{k != i} exp(sim(z_i, z_k) / tau) ).
- Unless a docstring says otherwise, compute in the inputs' dtype and on their device: the checks hold
  float64 inputs to float64's precision and float32 inputs to float32's.

Fill in the code between the TODO markers only; everything else is provided.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms
from torchvision.transforms.functional import to_pil_image
from tqdm.auto import tqdm

CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)


def hello_simclr() -> str:
    """Says hello: the notebook calls it to check that the module imports."""
    return "Hello from utils/simclr.py!"


# --------------------------------------------------------------------------------------
# Data augmentation
# --------------------------------------------------------------------------------------
def compute_train_transform(
    seed: int = 123456,
    image_size: int = 32,
    mean: Sequence[float] = CIFAR10_MEAN,
    std: Sequence[float] = CIFAR10_STD,
) -> transforms.Compose:
    """The SimCLR augmentation for PIL images, as a torchvision Compose, in this order:

    1. RandomResizedCrop to image_size x image_size;
    2. RandomHorizontalFlip with probability 0.5;
    3. RandomApply([ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8);
    4. RandomGrayscale with probability 0.2;
    5. ToTensor;
    6. Normalize with the given per-channel mean and std (the dataset's statistics).

    Seeds Python's and torch's random generators with seed first, so that a transform made with
    the same seed produces the same first views.
    """
    random.seed(seed)
    torch.random.manual_seed(seed)
    ### BEGIN SOLUTION
    color_jitter = transforms.ColorJitter(0.4, 0.4, 0.4, 0.1)
    train_transform = transforms.Compose(
        [
            transforms.RandomResizedCrop(image_size),
            transforms.RandomHorizontalFlip(p=0.5),
            transforms.RandomApply([color_jitter], p=0.8),
            transforms.RandomGrayscale(p=0.2),
            transforms.ToTensor(),
            transforms.Normalize(mean, std),
        ]
    )
    ### END SOLUTION
    return train_transform


def compute_test_transform(
    mean: Sequence[float] = CIFAR10_MEAN, std: Sequence[float] = CIFAR10_STD
) -> transforms.Compose:
    """ToTensor and Normalize only: what evaluation sees."""
    return transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean, std)])


class ImageDataset(Dataset):
    """(image, label) pairs from tensors, with each image as a PIL image, as torchvision's datasets give them.

    images: (N, 3, H, W) float in [0, 1]; labels: (N,) int64.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        if images.dim() != 4 or images.shape[0] != labels.shape[0]:
            raise ValueError(
                f"images must be (N, C, H, W) with N = len(labels); got {tuple(images.shape)} and {tuple(labels.shape)}"
            )
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int):
        return to_pil_image(self.images[index]), int(self.labels[index])


class PairDataset(Dataset):
    """Wraps any (image, label) dataset and returns (x_i, x_j, y): two independent augmented views."""

    def __init__(self, base: Dataset, transform: Callable):
        self.base, self.transform = base, transform

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int):
        image, label = self.base[index]
        return self.transform(image), self.transform(image), label


# --------------------------------------------------------------------------------------
# The NT-Xent loss
# --------------------------------------------------------------------------------------
def _check_pair(out_left: torch.Tensor, out_right: torch.Tensor, tau: float) -> None:
    """Raises ValueError naming the problem when the projections or tau are unusable."""
    if out_left.dim() != 2 or out_left.shape != out_right.shape:
        raise ValueError(
            f"out_left and out_right must both be (N, D); got {tuple(out_left.shape)} and {tuple(out_right.shape)}"
        )
    if out_left.shape[0] < 2:
        raise ValueError(
            f"the loss needs N >= 2 pairs (negatives come from the other pairs); got N = {out_left.shape[0]}"
        )
    if not tau > 0:
        raise ValueError(f"tau must be positive; got {tau}")


def sim(z_i: torch.Tensor, z_j: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of two (D,) vectors: z_i . z_j / (||z_i|| ||z_j||), a 0-dim tensor."""
    ### BEGIN SOLUTION
    norm_dot_product = torch.dot(z_i, z_j) / (torch.linalg.norm(z_i) * torch.linalg.norm(z_j))
    ### END SOLUTION
    return norm_dot_product


def simclr_loss_naive(out_left: torch.Tensor, out_right: torch.Tensor, tau: float) -> torch.Tensor:
    """NT-Xent with loops over the 2N anchors and, for each, over the 2N candidates.

    Inputs: out_left, out_right: (N, D) projections of the two views; tau: temperature > 0.
    Returns the mean loss over the 2N anchors, a 0-dim tensor.
    """
    _check_pair(out_left, out_right, tau)
    N = out_left.shape[0]
    out = torch.cat([out_left, out_right], dim=0)
    ### BEGIN SOLUTION
    total_loss = 0
    for i in range(2 * N):
        positive = i + N if i < N else i - N
        numerator = torch.exp(sim(out[i], out[positive]) / tau)
        denominator = 0
        for k in range(2 * N):
            if k != i:
                denominator = denominator + torch.exp(sim(out[i], out[k]) / tau)
        total_loss = total_loss - torch.log(numerator / denominator)
    total_loss = total_loss / (2 * N)
    ### END SOLUTION
    return total_loss


def sim_positive_pairs(out_left: torch.Tensor, out_right: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of every positive pair, without loops.

    Inputs: out_left, out_right: (N, D). Returns pos_pairs: (N, 1), pos_pairs[k] = sim(out_left[k], out_right[k]).
    """
    ### BEGIN SOLUTION
    pos_pairs = F.cosine_similarity(out_left, out_right, dim=1).unsqueeze(1)
    ### END SOLUTION
    return pos_pairs


def compute_sim_matrix(out: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of every pair of rows, without loops.

    Input: out: (2N, D). Returns sim_matrix: (2N, 2N), sim_matrix[i, k] = sim(out[i], out[k]).
    """
    ### BEGIN SOLUTION
    out_norm = out / out.norm(dim=1, keepdim=True)
    sim_matrix = out_norm @ out_norm.t()
    ### END SOLUTION
    return sim_matrix


def simclr_loss_vectorized(
    out_left: torch.Tensor, out_right: torch.Tensor, tau: float, device: torch.device | str | None = None
) -> torch.Tensor:
    """NT-Xent without loops; same inputs and value as simclr_loss_naive.

    Stay numerically stable for tau down to 0.05 and for float16/bfloat16 inputs: exp(1 / 0.05) is
    about 4.9e8, far past float16's largest number (65504), and a mask of -1e9 is -inf in float16.
    Compute half-precision inputs in float32 and prefer torch.logsumexp to exponentiating similarities
    yourself. The loss may come back in float32 (the dtype the computation ran in) or in the inputs' half
    dtype: the checks compare it with the float64 loss within 4 eps / tau (eps: the half dtype's).
    device: accepted for compatibility with CS231n's signature; the computation follows the inputs.
    """
    _check_pair(out_left, out_right, tau)
    if device is not None and torch.device(device).type != out_left.device.type:
        raise ValueError(
            f"device {device} differs from the inputs' device {out_left.device}; move the inputs instead"
        )
    N = out_left.shape[0]
    ### BEGIN SOLUTION
    dtype = torch.promote_types(out_left.dtype, torch.float32)
    out = torch.cat([out_left, out_right], dim=0).to(dtype)
    logits = compute_sim_matrix(out).div_(tau)  # in place: the product's backward does not need its output
    logits.fill_diagonal_(float("-inf"))  # k = i leaves the denominator
    log_denominator = torch.logsumexp(logits, dim=1)
    positives = sim_positive_pairs(out[:N], out[N:]).squeeze(1) / tau
    loss = (log_denominator - positives.repeat(2)).mean()
    ### END SOLUTION
    return loss


# --------------------------------------------------------------------------------------
# The model and its training
# --------------------------------------------------------------------------------------
def conv_block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)
    )


class SimCLRModel(nn.Module):
    """Encoder f (a small CNN, global average pooling) and projection head g (an MLP).

    forward(x) with x: (B, 3, H, W) returns (h, z): the representation h = f(x), (B, feature_dim),
    used downstream, and the projection z = g(h), (B, projection_dim), fed to the loss.
    """

    def __init__(self, feature_dim: int = 128, projection_dim: int = 64, in_channels: int = 3):
        super().__init__()
        self.f = nn.Sequential(
            conv_block(in_channels, 32, 1),
            conv_block(32, 64, 2),
            conv_block(64, 128, 2),
            conv_block(128, feature_dim, 2),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.g = nn.Sequential(
            nn.Linear(feature_dim, feature_dim), nn.ReLU(inplace=True), nn.Linear(feature_dim, projection_dim)
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.f(x)
        return h, self.g(h)


def simclr_train_step(
    model: nn.Module, optimizer: torch.optim.Optimizer, x_i: torch.Tensor, x_j: torch.Tensor, tau: float
) -> float:
    """One SimCLR step on a batch of view pairs: projections of both views, the vectorized loss,
    a gradient step. Returns the loss as a Python float.

    x_i, x_j: (B, 3, H, W), the two views of the same B images. Feed them through the model in one batch of
    2B images (torch.cat) or one view at a time: both are accepted (with BatchNorm in training mode they
    normalize with different batch statistics, so their steps differ slightly).
    """
    model.train()
    ### BEGIN SOLUTION
    _, z = model(torch.cat([x_i, x_j], dim=0))
    z_i, z_j = z.chunk(2, dim=0)
    loss = simclr_loss_vectorized(z_i, z_j, tau)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    ### END SOLUTION
    return loss.item()


def train_simclr(
    model: nn.Module,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    tau: float,
    max_steps: int,
    time_budget: float | None = None,
    device: torch.device | str = "cpu",
) -> list[float]:
    """Runs simclr_train_step over the loader's (x_i, x_j, y) batches (labels unused) for max_steps
    steps or until time_budget seconds have passed; returns the loss of every step."""
    if len(loader) == 0:
        raise ValueError(
            "the loader yields no batch: is the dataset smaller than the batch size with drop_last?"
        )
    history, start = [], time.perf_counter()
    # Refreshed at most once a second: a notebook kernel sends every refresh as a message.
    with tqdm(total=max_steps, desc="SimCLR training", mininterval=1.0) as progress:
        while len(history) < max_steps:
            for x_i, x_j, _ in loader:
                history.append(simclr_train_step(model, optimizer, x_i.to(device), x_j.to(device), tau))
                progress.update(1)
                progress.set_postfix(loss=f"{history[-1]:.3f}", refresh=False)
                out_of_time = time_budget is not None and time.perf_counter() - start > time_budget
                if len(history) >= max_steps or out_of_time:
                    return history
    return history


# --------------------------------------------------------------------------------------
# Evaluation with few labels
# --------------------------------------------------------------------------------------
@torch.no_grad()
def extract_features(encoder: nn.Module, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """encoder(images) in evaluation mode, batch by batch: (N, D) on the CPU.

    images: (N, C, H, W), already normalized as the test transform does.
    """
    was_training = encoder.training
    encoder.eval()
    device = next(encoder.parameters()).device
    features = torch.cat(
        [encoder(images[s : s + batch_size].to(device)).cpu() for s in range(0, len(images), batch_size)]
    )
    encoder.train(was_training)
    return features


def few_labels(labels: torch.Tensor, per_class: int, seed: int = 0) -> torch.Tensor:
    """Indices of per_class random examples of every class (seeded), for few-label evaluation."""
    gen = torch.Generator().manual_seed(seed)
    picks = []
    for c in labels.unique().tolist():
        members = (labels == c).nonzero().flatten()
        if members.numel() < per_class:
            raise ValueError(f"class {c} has {members.numel()} examples, fewer than per_class = {per_class}")
        picks.append(members[torch.randperm(members.numel(), generator=gen)[:per_class]])
    return torch.cat(picks)


def linear_probe_accuracy(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    test_labels: torch.Tensor,
    C: float = 1.0,
) -> float:
    """Accuracy of a logistic regression (scikit-learn, standardized features) fit on the frozen
    train features and evaluated on the test features."""
    scaler = StandardScaler().fit(train_features.numpy())
    probe = LogisticRegression(C=C, max_iter=2000).fit(
        scaler.transform(train_features.numpy()), train_labels.numpy()
    )
    return float(probe.score(scaler.transform(test_features.numpy()), test_labels.numpy()))


def knn_accuracy(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    test_labels: torch.Tensor,
    k: int = 5,
) -> float:
    """Accuracy of a k-nearest-neighbour vote under cosine similarity (the usual SimCLR monitor)."""
    similarity = F.normalize(test_features, dim=1) @ F.normalize(train_features, dim=1).t()
    neighbours = similarity.topk(min(k, len(train_labels)), dim=1).indices
    votes = F.one_hot(train_labels[neighbours], int(train_labels.max()) + 1).sum(dim=1)
    return (votes.argmax(dim=1) == test_labels).double().mean().item()
