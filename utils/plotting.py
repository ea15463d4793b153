"""Figures the notebooks show."""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch


def _to_hwc(image: torch.Tensor):
    """(C, H, W) tensor in [0, 1] -> an array imshow takes (gray for one channel)."""
    image = image.detach().cpu().float()
    return image[0].numpy() if image.shape[0] == 1 else image.permute(1, 2, 0).clamp(0, 1).numpy()


def show_images(
    X: torch.Tensor, y: torch.Tensor, classes: Sequence[str], per_class: int = 7, seed: int = 0
) -> None:
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


def plot_search_results(results: dict[tuple[float, float], tuple[float, float]], title: str) -> None:
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


def show_class_templates(
    W: torch.Tensor, image_shape: Sequence[int], classes: Sequence[str], title: str
) -> None:
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


def show_augmentations(
    images: Sequence, transform, mean: Sequence[float], std: Sequence[float], views: int = 6
) -> None:
    """Each row: an original PIL image, then `views` augmented views of it (un-normalized for display)."""
    mean_t, std_t = torch.tensor(mean).view(3, 1, 1), torch.tensor(std).view(3, 1, 1)
    fig, axes = plt.subplots(
        len(images), views + 1, figsize=(1.3 * (views + 1), 1.3 * len(images)), squeeze=False
    )
    for row, image in enumerate(images):
        axes[row, 0].imshow(image)
        for col in range(1, views + 1):
            axes[row, col].imshow(_to_hwc(transform(image) * std_t + mean_t))
        for ax in axes[row]:
            ax.axis("off")
    axes[0, 0].set_title("original")
    axes[0, 1].set_title("views")
    plt.tight_layout()
    plt.show()


def plot_accuracy_vs_labels(
    labels_per_class: Sequence[int], accuracies: dict[str, Sequence[float]], title: str
) -> None:
    """Test accuracy against the number of labels per class, one line per method."""
    plt.figure(figsize=(6, 3.5))
    for name, values in accuracies.items():
        plt.plot(labels_per_class, values, marker="o", label=name)
    plt.xscale("log")
    plt.xticks(labels_per_class, [str(k) for k in labels_per_class])
    plt.xlabel("labels per class")
    plt.ylabel("test accuracy")
    plt.title(title)
    plt.legend()
    plt.show()


def plot_embeddings_2d(
    embeddings: dict[str, torch.Tensor], labels: torch.Tensor, classes: Sequence[str]
) -> None:
    """Each (N, 2) embedding as a scatter plot coloured by class, side by side."""
    fig, axes = plt.subplots(1, len(embeddings), figsize=(5 * len(embeddings), 4.2), squeeze=False)
    for ax, (name, points) in zip(axes[0], embeddings.items()):
        for c, class_name in enumerate(classes):
            members = labels == c
            ax.scatter(points[members, 0], points[members, 1], s=5, label=class_name)
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, -1].legend(markerscale=3, fontsize=8, bbox_to_anchor=(1.02, 1), loc="upper left")
    plt.tight_layout()
    plt.show()


def show_maps(
    images: torch.Tensor,
    maps: dict[str, torch.Tensor],
    titles: Sequence[str],
    masks: torch.Tensor | None = None,
) -> None:
    """A column per image: the image (with its mask's outline when given), then each named (N, S, S) map in
    [0, 1] laid over it as a heat map, one row per map. images: (N, C, S, S) in [0, 1]."""
    rows = 1 + len(maps)
    fig, axes = plt.subplots(rows, len(images), figsize=(1.6 * len(images), 1.7 * rows), squeeze=False)
    for col, image in enumerate(images):
        shown = _to_hwc(image)
        axes[0, col].imshow(shown, cmap="gray")
        if masks is not None:
            axes[0, col].contour(masks[col].cpu().float().numpy(), levels=[0.5], colors="lime", linewidths=1)
        axes[0, col].set_title(titles[col], fontsize=9)
        for row, (name, values) in enumerate(maps.items(), start=1):
            axes[row, col].imshow(shown, cmap="gray")
            axes[row, col].imshow(
                values[col].detach().cpu().float().numpy(), cmap="jet", alpha=0.5, vmin=0, vmax=1
            )
            if col == 0:
                axes[row, col].set_ylabel(name, fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    plt.tight_layout()
    plt.show()


def plot_training_curves(
    histories: dict[str, Sequence[dict[str, float]]], keys: Sequence[str] = ("ce", "cam"), smooth: int = 20
) -> None:
    """Each run's per-step losses (moving averages over `smooth` steps), one panel per key."""
    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 3.3), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for name, history in histories.items():
            values = torch.tensor([step[key] for step in history])
            window = max(1, min(smooth, len(values)))
            averaged = values.unfold(0, window, 1).mean(dim=1)
            ax.plot(torch.arange(window - 1, len(values)).numpy(), averaged.numpy(), label=name)
        ax.set_xlabel("step")
        ax.set_title({"ce": "cross-entropy", "cam": "L_cam", "total": "total loss"}.get(key, key))
        ax.legend()
    plt.tight_layout()
    plt.show()


def show_gram_matrices(matrices: dict[str, torch.Tensor], vmin: float = -1.0, vmax: float = 1.0) -> None:
    """Each named (C, C) matrix as a heat map, side by side, on one colour scale."""
    fig, axes = plt.subplots(1, len(matrices), figsize=(3.6 * len(matrices), 3.2), squeeze=False)
    for ax, (name, matrix) in zip(axes[0], matrices.items()):
        image = ax.imshow(matrix.detach().cpu().double().numpy(), cmap="RdBu_r", vmin=vmin, vmax=vmax)
        ax.set_title(name, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8)
    plt.show()


def _panels(count: int):
    """A grid of count axes, three to a row, the spare ones hidden."""
    columns = min(3, count)
    rows = math.ceil(count / columns)
    _, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3.1 * rows), squeeze=False)
    for ax in axes.flat[count:]:
        ax.axis("off")
    return axes


def _show_panels(axes, keys: Sequence[str], x: str) -> None:
    for ax, key in zip(axes.flat, keys):
        ax.set_title(key, fontsize=10)
        ax.set_xlabel(x)
    axes[0, 0].legend(fontsize=8)
    plt.tight_layout()
    plt.show()


def plot_metric_curves(
    histories: dict[str, Sequence[dict[str, float]]], keys: Sequence[str], x: str = "epoch"
) -> None:
    """One panel per metric key: its value against x for each named run (log scale where all are positive)."""
    axes = _panels(len(keys))
    for ax, key in zip(axes.flat, keys):
        for name, history in histories.items():
            ax.plot([row[x] for row in history], [row[key] for row in history], marker=".", label=name)
        if all(row[key] > 0 for history in histories.values() for row in history):
            ax.set_yscale("log")
    _show_panels(axes, keys, x)


def plot_bars(values: dict[str, Sequence[float]], labels: Sequence[str], title: str, ylabel: str) -> None:
    """Grouped bars: one group per label, one bar per named series."""
    width = 0.8 / len(values)
    plt.figure(figsize=(max(6, 0.6 * len(labels) * len(values)), 3.2))
    for i, (name, series) in enumerate(values.items()):
        plt.bar([k + i * width for k in range(len(labels))], list(series), width=width, label=name)
    plt.xticks([k + 0.4 - width / 2 for k in range(len(labels))], labels)
    plt.ylabel(ylabel)
    plt.title(title)
    if len(values) > 1:
        plt.legend(fontsize=8)
    plt.show()


def plot_collapse_curves(
    histories: dict[str, Sequence[dict[str, float]]],
    keys: Sequence[str],
    x: str = "epoch",
    marks: dict[str, float] | None = None,
) -> None:
    """One panel per metric key against x, both axes on log scales (the NC curves of Papyan et al.), with a
    dashed vertical line at each named x in marks (such as the epoch of zero training error)."""
    axes = _panels(len(keys))
    for ax, key in zip(axes.flat, keys):
        for name, history in histories.items():
            points = [(row[x], row[key]) for row in history if row[key] > 0]  # a log axis cannot show 0
            if points:
                ax.plot(*zip(*points), label=name)
        if not ax.lines:  # every value 0 (NC4 when the head and the nearest-mean rule agree on every sample)
            ax.text(
                0.5,
                0.5,
                f"{key} = 0 at every {x}\n(a log axis cannot show 0)",
                ha="center",
                va="center",
                transform=ax.transAxes,
                fontsize=9,
                color="grey",
            )
        for label, position in (marks or {}).items():
            ax.axvline(position, color="grey", linestyle="--", linewidth=1, label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
    _show_panels(axes, keys, x)
