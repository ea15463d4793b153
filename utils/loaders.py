"""Loaders of the real datasets: scikit-learn's bundled digits (offline), CIFAR-10 and MNIST (downloaded
into datasets/ when online; offline with no copy present they raise a FileNotFoundError that says how
to get them, never a silent substitute). Each returns the dict utils/data.py describes."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits

from utils.course import REPO_ROOT

DATASETS_DIR = REPO_ROOT / "datasets"

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]
MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
MNIST_FILES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]
DIGIT_CLASSES = [str(i) for i in range(10)]


def _permutation(n: int, seed: int) -> torch.Tensor:
    """A seeded random permutation of range(n), independent of the global RNG state."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))


def _train_val_split(X: torch.Tensor, y: torch.Tensor, num_val: int, seed: int) -> dict:
    """Splits (N, ...) images X and (N,) labels y into train and val after a seeded shuffle."""
    if not 0 <= num_val < X.shape[0]:
        raise ValueError(f"num_val must satisfy 0 <= num_val < {X.shape[0]} (training images); got {num_val}")
    perm = _permutation(X.shape[0], seed)
    val, train = perm[:num_val], perm[num_val:]
    return {"X_train": X[train], "y_train": y[train], "X_val": X[val], "y_val": y[val]}


def _not_found(
    name: str, path: Path, fetch_cmd: str, manual: str, error: Exception | None
) -> FileNotFoundError:
    """The error for a dataset missing at ``path``: what failed and how to get it."""
    if error is None:
        failure = "Downloading was not allowed (download=False)."
    else:
        failure = f"The download failed: {type(error).__name__}: {error}"
    return FileNotFoundError(
        f"{name} was not found at {path}. {failure}\n"
        f"To get it, run `{fetch_cmd}` on a machine with internet access, or {manual}."
    )


def _fetch_command(name: str, root: Path) -> str:
    """The command line that downloads ``name`` into ``root``."""
    cmd = f"python -m utils.data {name}"
    return cmd if root.resolve() == DATASETS_DIR else f"{cmd} --root {root}"


def load_digits_splits(num_val: int = 200, num_test: int = 400, seed: int = 0) -> dict:
    """scikit-learn's bundled handwritten digits (1797 images), split into train, val and test.

    The split is a seeded random permutation: the first num_test images are the test split,
    the next num_val the val split, the rest (1197 by default) the train split.

    Returns a dict with X_train, X_val, X_test: float32 (N, 1, 8, 8) in [0, 1];
    y_train, y_val, y_test: int64 (N,); classes: ["0", ..., "9"].
    """
    images, labels = load_digits(return_X_y=True)
    num_total = images.shape[0]
    if num_val < 0 or num_test < 0 or num_val + num_test > num_total - 1:
        raise ValueError(
            f"need num_val >= 0, num_test >= 0 and num_val + num_test <= {num_total - 1} "
            f"(at least one training image); got num_val={num_val}, num_test={num_test}"
        )
    X = torch.from_numpy(images).float().reshape(-1, 1, 8, 8) / 16  # pixels are integers 0..16
    y = torch.as_tensor(labels, dtype=torch.int64)
    perm = _permutation(num_total, seed)
    test, val, train = perm[:num_test], perm[num_test : num_test + num_val], perm[num_test + num_val :]
    return {
        "X_train": X[train],
        "y_train": y[train],
        "X_val": X[val],
        "y_val": y[val],
        "X_test": X[test],
        "y_test": y[test],
        "classes": list(DIGIT_CLASSES),
    }


def _read_cifar_batch(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """One CIFAR-10 pickle batch as uint8 images (N, 3, 32, 32) and int64 labels (N,)."""
    with open(path, "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    # Each row holds 3072 bytes, channel-major: 1024 red, 1024 green, 1024 blue, each row by row.
    images = torch.from_numpy(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
    return images, torch.as_tensor(batch[b"labels"], dtype=torch.int64)


def load_cifar10(
    root: str | Path = DATASETS_DIR, num_val: int = 1000, seed: int = 0, download: bool = True
) -> dict:
    """CIFAR-10 from the official python batches in ``root/cifar-10-batches-py``.

    When the folder is missing and download is True, torchvision downloads and extracts it
    into root; when that fails (or download is False), raises FileNotFoundError saying how
    to get it. The val split is num_val images taken at random (seeded) from the training
    images; the official test batch is the test split.

    Returns a dict with X_train, X_val, X_test: float32 (N, 3, 32, 32) in [0, 1];
    y_train, y_val, y_test: int64 (N,); classes: the 10 label names.
    """
    root = Path(root)
    folder = root / CIFAR10_FOLDER
    if not all((folder / name).is_file() for name in CIFAR10_FILES):
        how = (_fetch_command("cifar10", root), f"download {CIFAR10_URL} and extract it into {root}")
        if not download:
            raise _not_found("CIFAR-10", folder, *how, None)
        import torchvision  # here, not at the top: its import is over a second, and digits never need it

        try:
            torchvision.datasets.CIFAR10(root=str(root), train=True, download=True)
        except Exception as exc:  # offline machines fail in many ways: URLError, OSError, RuntimeError...
            raise _not_found("CIFAR-10", folder, *how, exc) from exc

    train = [_read_cifar_batch(folder / f"data_batch_{i}") for i in range(1, 6)]
    X_test, y_test = _read_cifar_batch(folder / "test_batch")
    with open(folder / "batches.meta", "rb") as f:
        classes = [name.decode("utf-8") for name in pickle.load(f, encoding="bytes")[b"label_names"]]

    X_train = torch.cat([images for images, _ in train]).float() / 255
    y_train = torch.cat([labels for _, labels in train])
    data = _train_val_split(X_train, y_train, num_val, seed)
    data.update(X_test=X_test.float() / 255, y_test=y_test, classes=classes)
    return data


def load_mnist(
    root: str | Path = DATASETS_DIR, num_val: int = 5000, seed: int = 0, download: bool = True
) -> dict:
    """MNIST through torchvision, from ``root/MNIST/raw``.

    When the files are missing and download is True, torchvision downloads them; when that
    fails (or download is False), raises FileNotFoundError saying how to get them. The val
    split is num_val images taken at random (seeded) from the 60000 training images; the
    official 10000 test images are the test split.

    Returns a dict with X_train, X_val, X_test: float32 (N, 1, 28, 28) in [0, 1];
    y_train, y_val, y_test: int64 (N,); classes: ["0", ..., "9"].
    """
    import torchvision  # here, not at the top: its import is over a second, and digits never need it

    root = Path(root)
    raw = root / "MNIST" / "raw"
    if not all((raw / name).is_file() for name in MNIST_FILES):
        files = ", ".join(f"{name}.gz" for name in MNIST_FILES)
        how = (_fetch_command("mnist", root), f"download {files} from {MNIST_URL} and gunzip them into {raw}")
        if not download:
            raise _not_found("MNIST", raw, *how, None)
        try:
            torchvision.datasets.MNIST(root=str(root), train=True, download=True)  # fetches all four files
        except Exception as exc:  # offline machines fail in many ways: URLError, OSError, RuntimeError...
            raise _not_found("MNIST", raw, *how, exc) from exc

    train = torchvision.datasets.MNIST(root=str(root), train=True, download=False)
    test = torchvision.datasets.MNIST(root=str(root), train=False, download=False)
    data = _train_val_split(train.data.unsqueeze(1).float() / 255, train.targets.long(), num_val, seed)
    data.update(
        X_test=test.data.unsqueeze(1).float() / 255, y_test=test.targets.long(), classes=list(DIGIT_CLASSES)
    )
    return data
