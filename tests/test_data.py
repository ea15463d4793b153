"""Tests for utils/data.py: splits, file formats, offline errors, preprocessing.

CIFAR-10 and MNIST are faked with tiny files in their real on-disk formats; the network is never used.
"""
from __future__ import annotations

import pickle
import struct
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from sklearn.datasets import load_digits

from utils.data import dev_subset, load_cifar10, load_dataset, load_digits_splits, load_mnist, preprocess

SPLITS = ("train", "val", "test")
CIFAR_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _rows(data: dict) -> list[tuple[int, ...]]:
    """Every (pixels * 16, label) row of a digits dict, over all splits, sorted."""
    rows = []
    for split in SPLITS:
        pixels = (data[f"X_{split}"].reshape(-1, 64) * 16).round().long()
        rows += [(*p, label) for p, label in zip(pixels.tolist(), data[f"y_{split}"].tolist())]
    return sorted(rows)


# --------------------------------------------------------------------------------------
# digits
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits() -> dict:
    return load_digits_splits()


def test_digits_shapes_dtypes_and_range(digits):
    sizes = {"train": 1197, "val": 200, "test": 400}
    for split, n in sizes.items():
        X, y = digits[f"X_{split}"], digits[f"y_{split}"]
        assert X.shape == (n, 1, 8, 8) and X.dtype == torch.float32
        assert y.shape == (n,) and y.dtype == torch.int64
        assert X.min() >= 0 and X.max() <= 1
        assert y.min() >= 0 and y.max() <= 9
    assert digits["X_train"].max() == 1
    assert digits["classes"] == [str(i) for i in range(10)]


def test_digits_splits_partition_the_dataset(digits):
    images, labels = load_digits(return_X_y=True)
    expected = sorted((*p, label) for p, label in zip(images.astype(int).tolist(), labels.tolist()))
    assert _rows(digits) == expected


def test_digits_seed_is_deterministic():
    a, b, c = load_digits_splits(seed=3), load_digits_splits(seed=3), load_digits_splits(seed=4)
    for split in SPLITS:
        assert torch.equal(a[f"X_{split}"], b[f"X_{split}"]) and torch.equal(a[f"y_{split}"], b[f"y_{split}"])
    assert not torch.equal(a["X_train"], c["X_train"])


def test_digits_custom_sizes():
    data = load_digits_splits(num_val=0, num_test=1796)
    assert [data[f"X_{s}"].shape[0] for s in SPLITS] == [1, 0, 1796]


@pytest.mark.parametrize("num_val, num_test", [(-1, 400), (200, -1), (1000, 797), (1797, 0)])
def test_digits_bad_sizes_raise(num_val, num_test):
    with pytest.raises(ValueError, match="num_val"):
        load_digits_splits(num_val=num_val, num_test=num_test)


# --------------------------------------------------------------------------------------
# CIFAR-10 (fake files in the official pickle format)
# --------------------------------------------------------------------------------------
PATTERN = np.arange(3072) % 256  # channel-major: pixel (c, h, w) is row[c * 1024 + h * 32 + w]


def _cifar_image(k: int) -> np.ndarray:
    """The 3072 bytes of fake image number k (train images 0..19, test images 100..102)."""
    return ((PATTERN + k) % 256).astype(np.uint8)


def _dump(path: Path, obj: dict) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f)


@pytest.fixture
def fake_cifar(tmp_path: Path) -> Path:
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for b in range(5):
        ks = range(4 * b, 4 * b + 4)
        data = np.stack([_cifar_image(k) for k in ks])
        _dump(folder / f"data_batch_{b + 1}", {b"data": data, b"labels": [k % 10 for k in ks], b"batch_label": b"x"})
    test = np.stack([_cifar_image(100), _cifar_image(101), _cifar_image(102)])
    test[0, :1024], test[0, 1024:2048], test[0, 2048:] = 255, 0, 51  # red, green, blue planes
    _dump(folder / "test_batch", {b"data": test, b"labels": [7, 1, 2]})
    _dump(folder / "batches.meta", {b"label_names": [n.encode() for n in CIFAR_NAMES], b"num_vis": 3072})
    return tmp_path


def test_cifar10_reads_the_pickle_batches(fake_cifar):
    data = load_cifar10(fake_cifar, num_val=3, download=False)
    assert data["X_train"].shape == (17, 3, 32, 32) and data["X_val"].shape == (3, 3, 32, 32)
    assert data["X_test"].shape == (3, 3, 32, 32)
    for split in SPLITS:
        assert data[f"X_{split}"].dtype == torch.float32 and data[f"y_{split}"].dtype == torch.int64
    assert data["classes"] == CIFAR_NAMES
    assert data["y_test"].tolist() == [7, 1, 2]

    red, green, blue = data["X_test"][0]
    assert (red == 1).all() and (green == 0).all() and (blue == 0.2).all()
    c, h, w = 2, 5, 7
    assert data["X_test"][1, c, h, w] == ((c * 1024 + h * 32 + w + 101) % 256) / 255


def test_cifar10_train_and_val_hold_every_training_image_once(fake_cifar):
    data = load_cifar10(fake_cifar, num_val=3, download=False)
    X = torch.cat([data["X_train"], data["X_val"]])
    y = torch.cat([data["y_train"], data["y_val"]])
    ks = (X[:, 0, 0, 0] * 255).round().long()  # image k starts with byte k
    assert sorted(ks.tolist()) == list(range(20))
    assert torch.equal(y, ks % 10)
    for k, image in zip(ks.tolist(), X):
        assert torch.equal(image, torch.from_numpy(_cifar_image(k)).reshape(3, 32, 32).float() / 255)


def test_cifar10_bad_num_val_raises(fake_cifar):
    for num_val in (-1, 20):
        with pytest.raises(ValueError, match="num_val"):
            load_cifar10(fake_cifar, num_val=num_val, download=False)


def test_cifar10_missing_without_download(tmp_path, monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("download=False must not call torchvision")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", no_download)
    with pytest.raises(FileNotFoundError) as info:
        load_cifar10(tmp_path, download=False)
    message = str(info.value)
    assert str(tmp_path / "cifar-10-batches-py") in message
    assert "python -m utils.data cifar10" in message and "cifar-10-python.tar.gz" in message


def test_cifar10_failed_download_explains(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    with pytest.raises(FileNotFoundError) as info:
        load_cifar10(tmp_path, download=True)
    message = str(info.value)
    assert str(tmp_path) in message and "download failed" in message and "offline" in message
    assert "python -m utils.data cifar10" in message


# --------------------------------------------------------------------------------------
# MNIST (fake files in the idx format that torchvision reads)
# --------------------------------------------------------------------------------------
def _write_idx(raw: Path, prefix: str, images: np.ndarray, labels: np.ndarray) -> None:
    n = images.shape[0]
    (raw / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">4i", 2051, n, 28, 28) + images.tobytes())
    (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">2i", 2049, n) + labels.tobytes())


@pytest.fixture
def fake_mnist(tmp_path: Path) -> Path:
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    pixels = np.arange(28 * 28).reshape(28, 28)
    train = np.stack([(pixels + k) % 256 for k in range(10)]).astype(np.uint8)
    _write_idx(raw, "train", train, np.arange(10, dtype=np.uint8))
    test = np.stack([np.full((28, 28), 255), pixels % 256, pixels % 256]).astype(np.uint8)
    _write_idx(raw, "t10k", test, np.array([3, 4, 5], dtype=np.uint8))
    return tmp_path


def test_mnist_reads_the_idx_files(fake_mnist):
    data = load_mnist(fake_mnist, num_val=2, download=False)
    assert data["X_train"].shape == (8, 1, 28, 28) and data["X_val"].shape == (2, 1, 28, 28)
    assert data["X_test"].shape == (3, 1, 28, 28)
    for split in SPLITS:
        assert data[f"X_{split}"].dtype == torch.float32 and data[f"y_{split}"].dtype == torch.int64
    assert data["y_test"].tolist() == [3, 4, 5]
    assert (data["X_test"][0] == 1).all()
    assert data["X_test"][1, 0, 3, 5] == (3 * 28 + 5) / 255
    assert sorted(torch.cat([data["y_train"], data["y_val"]]).tolist()) == list(range(10))
    assert data["classes"] == [str(i) for i in range(10)]


def test_mnist_missing_raises(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(tmp_path, download=False)
    assert str(tmp_path / "MNIST" / "raw") in str(info.value) and "python -m utils.data mnist" in str(info.value)
    with pytest.raises(FileNotFoundError, match="download failed.*Error downloading"):
        load_mnist(tmp_path, download=True)


# --------------------------------------------------------------------------------------
# preprocess, dev_subset, load_dataset
# --------------------------------------------------------------------------------------
def test_preprocess_centres_flattens_and_appends_bias(digits):
    before = {k: v.clone() for k, v in digits.items() if isinstance(v, torch.Tensor)}
    out = preprocess(digits)
    for split in SPLITS:
        n = digits[f"X_{split}"].shape[0]
        assert out[f"X_{split}"].shape == (n, 65) and out[f"X_{split}"].dtype == torch.float32
        assert (out[f"X_{split}"][:, -1] == 1).all()
        assert torch.equal(out[f"y_{split}"], digits[f"y_{split}"])
    assert out["X_train"][:, :-1].double().mean(dim=0).abs().max() < 1e-6
    assert out["mean_image"].shape == (1, 8, 8)
    assert torch.allclose(out["X_val"][:, :-1].reshape(-1, 1, 8, 8) + out["mean_image"], digits["X_val"], atol=1e-6)
    assert out["classes"] == digits["classes"]
    for key, value in before.items():  # the input is untouched
        assert torch.equal(digits[key], value)
    assert "mean_image" not in digits


def test_preprocess_float32_and_float64_agree(digits):
    single = preprocess(digits, dtype=torch.float32)
    double = preprocess(digits, dtype=torch.float64)
    assert double["X_train"].dtype == torch.float64
    for split in SPLITS:
        assert torch.allclose(single[f"X_{split}"].double(), double[f"X_{split}"], atol=1e-6)


def test_preprocess_without_flatten_keeps_image_shape(digits):
    out = preprocess(digits, flatten=False, bias_trick=False)
    assert out["X_test"].shape == (400, 1, 8, 8)
    assert out["X_train"].mean(dim=0).abs().max() < 1e-6
    with pytest.raises(ValueError, match="flatten"):
        preprocess(digits, flatten=False, bias_trick=True)


def test_dev_subset(digits):
    small = dev_subset(digits, 50, num_val=10)
    assert small["X_train"].shape[0] == 50 and small["X_val"].shape[0] == 10 and small["X_test"].shape[0] == 400
    assert torch.equal(small["X_train"], digits["X_train"][:50]) and torch.equal(small["y_val"], digits["y_val"][:10])
    assert small["classes"] == digits["classes"]
    for kwargs in ({"num_train": 1198}, {"num_train": 5, "num_test": 401}, {"num_train": -1}):
        with pytest.raises(ValueError, match="num_"):
            dev_subset(digits, **kwargs)


def test_load_dataset_dispatch(fake_cifar):
    assert load_dataset("digits", num_val=100)["X_val"].shape[0] == 100
    assert load_dataset("cifar10", root=fake_cifar, num_val=2, download=False)["X_val"].shape[0] == 2
    with pytest.raises(ValueError, match="digits.*cifar10.*mnist"):
        load_dataset("imagenet")
