"""Datasets for the notebooks: offline defaults and the real ones.

Every loader returns a dict with the keys ``X_train, y_train, X_val, y_val, X_test, y_test``
(images as float32 tensors of shape (N, C, H, W) scaled to [0, 1], labels as int64 tensors
of shape (N,)) and ``classes`` (the class names, index = label).

- ``digits``: scikit-learn's bundled 8x8 handwritten digits; works offline.
- ``shapes``: seeded, generated 32x32 RGB images of 10 shapes (``make_shapes``) whose colour,
  position, scale, rotation and background clutter are random; works offline. Its dict also
  holds ``masks_train, masks_val, masks_test``: bool (N, H, W), True on the object's pixels.
- ``digit_canvas``: those digits drawn 16x16 at random positions on cluttered 32x32 canvases
  (``make_digit_canvas``), with ``masks_*`` True inside each digit's bounding box; works offline.
- ``cifar10`` and ``mnist``: downloaded into ``datasets/`` when online
  (``python -m utils.data cifar10``); offline with no copy present they raise a
  FileNotFoundError that says how to get them, never a silent substitute.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from utils.generated import load_digit_canvas_splits, load_shapes_splits
from utils.loaders import DATASETS_DIR, load_cifar10, load_digits_splits, load_mnist

LOADERS = {
    "digits": load_digits_splits,
    "digit_canvas": load_digit_canvas_splits,
    "shapes": load_shapes_splits,
    "cifar10": load_cifar10,
    "mnist": load_mnist,
}


def load_dataset(name: str, **kwargs) -> dict:
    """Loads the dataset called ``name`` ("digits", "shapes", "cifar10" or "mnist"); kwargs go to its loader."""
    if name not in LOADERS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(LOADERS)}")
    return LOADERS[name](**kwargs)


def preprocess(
    data: dict,
    flatten: bool = True,
    bias_trick: bool = True,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> dict:
    """Mean-centres the images (and optionally flattens them and appends a bias column), as in EECS 498.

    The mean image of the training split is subtracted from every split.

    Inputs:
    - data: a dict from a loader, with X_* of shape (N, *S) and y_* of shape (N,).
    - flatten: reshape every X_* to (N, D) with D = prod(S).
    - bias_trick: append a column of ones, giving (N, D + 1); requires flatten.
    - dtype, device: where the images go; labels go to device and stay int64.

    Returns a new dict (the input is not modified) with the processed X_* and y_*, the other
    keys of data as they are (such as classes and masks_*) and mean_image: the subtracted mean,
    shape S, in dtype.
    """
    if bias_trick and not flatten:
        raise ValueError("bias_trick=True needs flatten=True: the bias column is appended to (N, D) rows")
    if data["X_train"].shape[0] == 0:
        raise ValueError("X_train has no rows: the mean image is taken over the training split")
    # The mean is accumulated in float64 so that float32 and float64 results agree.
    mean_image = data["X_train"].to(device).mean(dim=0, dtype=torch.float64).to(dtype)
    out = dict(data)
    for split in ("train", "val", "test"):
        X = data[f"X_{split}"].to(device=device, dtype=dtype) - mean_image
        if flatten:
            X = X.reshape(X.shape[0], -1)
        if bias_trick:
            X = torch.cat([X, torch.ones(X.shape[0], 1, dtype=dtype, device=X.device)], dim=1)
        out[f"X_{split}"] = X
        out[f"y_{split}"] = data[f"y_{split}"].to(device)
    out["mean_image"] = mean_image
    return out


def dev_subset(data: dict, num_train: int, num_val: int | None = None, num_test: int | None = None) -> dict:
    """The first rows of each split, for quick experiments.

    Keeps the first num_train training rows, and the first num_val val / num_test test rows
    when given (None keeps the whole split), of X_*, y_* and masks_* (when present). The kept
    rows are copies, so the full dataset can be freed. Other keys (classes, mean_image) are
    kept as they are.
    """
    out = dict(data)
    for split, size in (("train", num_train), ("val", num_val), ("test", num_test)):
        if size is None:
            continue
        available = data[f"X_{split}"].shape[0]
        if not 0 <= size <= available:
            raise ValueError(
                f"num_{split} must satisfy 0 <= num_{split} <= {available} ({split} rows); got {size}"
            )
        out[f"X_{split}"] = data[f"X_{split}"][:size].clone()
        out[f"y_{split}"] = data[f"y_{split}"][:size].clone()
        if f"masks_{split}" in data:
            out[f"masks_{split}"] = data[f"masks_{split}"][:size].clone()
    return out


def main(argv: list[str] | None = None) -> None:
    """``python -m utils.data NAME [--root DIR]``: downloads CIFAR-10 or MNIST and prints the split sizes."""
    parser = argparse.ArgumentParser(description="Download a dataset for the losslab notebooks.")
    parser.add_argument("name", choices=["cifar10", "mnist"], help="the dataset to download")
    parser.add_argument(
        "--root", type=Path, default=DATASETS_DIR, help=f"where it goes (default: {DATASETS_DIR})"
    )
    args = parser.parse_args(argv)
    try:
        data = load_dataset(args.name, root=args.root, download=True)
    except FileNotFoundError as exc:
        parser.exit(1, f"{exc}\n")
    print(f"{args.name} is in {args.root.resolve()}")
    for split in ("train", "val", "test"):
        X = data[f"X_{split}"]
        print(f"  {split}: {X.shape[0]} images of shape {tuple(X.shape[1:])}")


if __name__ == "__main__":
    main()
