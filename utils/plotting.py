"""Figures the notebooks show."""
from __future__ import annotations

import math
from typing import Dict, Sequence, Tuple

import matplotlib.pyplot as plt
import torch


def _to_hwc(image: torch.Tensor):
    """(C, H, W) tensor in [0, 1] -> an array imshow takes (gray for one channel)."""
    image = image.detach().cpu().float()
    return image[0].numpy() if image.shape[0] == 1 else image.permute(1, 2, 0).clamp(0, 1).numpy()


def show_images(X: torch.Tensor, y: torch.Tensor, classes: Sequence[str], per_class: int = 7, seed: int = 0) -> None:
    """A grid of random examples: one column per class, per_class rows. X: (N, C, H, W) in [0, 1]; y: (N,)."""
    gen = torch.Generator().manual_seed(seed)
    fig, axes = plt.subplots(per_class, len(classes), figsize=(len(classes), per_class), squeeze=False)
    for c, name in enumerate(classes):
        members = (y == c).nonzero().flatten()
        picks = members[torch.randperm(members.numel(), generator=gen)[:per_class]]
        for row in range(per_class):
            ax = axes[row, c]
            ax.axis("off")
            if row < picks.numel():
                ax.imshow(_to_hwc(X[picks[row]]), cmap="gray")
        axes[0, c].set_title(name)
    plt.tight_layout()
    plt.show()


def plot_loss_history(loss_history: Sequence[float], title: str = "Training loss") -> None:
    """The loss at every SGD step."""
    plt.figure(figsize=(7, 3.5))
    plt.plot(loss_history)
    plt.xlabel("iteration")
    plt.ylabel("loss")
    plt.title(title)
    plt.show()


def plot_search_results(results: Dict[Tuple[float, float], Tuple[float, float]], title: str) -> None:
    """Heat maps of train and val accuracy over the (learning rate, regularization) grid."""
    lrs = sorted({lr for lr, _ in results})
    regs = sorted({reg for _, reg in results})
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for ax, which, label in [(axes[0], 0, "train accuracy"), (axes[1], 1, "val accuracy")]:
        grid = torch.full((len(lrs), len(regs)), float("nan"))
        for (lr, reg), accs in results.items():
            grid[lrs.index(lr), regs.index(reg)] = accs[which]
        im = ax.imshow(grid.numpy(), cmap="viridis", aspect="auto")
        for i in range(len(lrs)):
            for j in range(len(regs)):
                ax.text(j, i, f"{grid[i, j]:.3f}", ha="center", va="center", color="w", fontsize=8)
        ax.set_xticks(range(len(regs)), [f"{r:g}" for r in regs])
        ax.set_yticks(range(len(lrs)), [f"{lr:g}" for lr in lrs])
        ax.set_xlabel("regularization strength")
        ax.set_ylabel("learning rate")
        ax.set_title(f"{title}: {label}")
        fig.colorbar(im, ax=ax)
    plt.tight_layout()
    plt.show()


def show_class_templates(W: torch.Tensor, image_shape: Sequence[int], classes: Sequence[str], title: str) -> None:
    """Each column of W (bias row dropped) drawn as an image, rescaled to [0, 1] per class."""
    num_pixels = math.prod(image_shape)
    templates = W[:num_pixels].detach().cpu().t().reshape(len(classes), *image_shape)
    fig, axes = plt.subplots(1, len(classes), figsize=(1.2 * len(classes), 1.6))
    for ax, template, name in zip(axes, templates, classes):
        low, high = template.min(), template.max()
        ax.imshow(_to_hwc((template - low) / (high - low + 1e-12)), cmap="gray")
        ax.set_title(name)
        ax.axis("off")
    fig.suptitle(title)
    plt.show()
