"""utils/data.py, utils/loaders.py and utils/generated.py: splits, file formats, offline errors,
preprocessing, the generated shapes and canvases.

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
import torch.nn.functional as F
import torchvision
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from utils.data import dev_subset, load_dataset, preprocess
from utils.generated import (
    SHAPE_CLASSES,
    load_digit_canvas_splits,
    load_shapes_splits,
    make_digit_canvas,
    make_shapes,
)
from utils.loaders import load_cifar10, load_digits_splits, load_mnist

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
# shapes (generated)
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shapes() -> dict:
    return make_shapes(2000, seed=0)


def _mean_colours(images: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The (N, 3) mean colours of each image inside and outside its (N, H, W) mask."""
    inside, outside = masks[:, None].float(), (~masks[:, None]).float()
    return (images * inside).sum((2, 3)) / inside.sum((2, 3)), (images * outside).sum((2, 3)) / outside.sum(
        (2, 3)
    )


def test_shapes_types_and_ranges(shapes):
    assert shapes["images"].shape == (2000, 3, 32, 32) and shapes["images"].dtype == torch.float32
    assert shapes["images"].min() >= 0 and shapes["images"].max() <= 1
    assert shapes["labels"].shape == (2000,) and shapes["labels"].dtype == torch.int64
    assert shapes["masks"].shape == (2000, 32, 32) and shapes["masks"].dtype == torch.bool
    assert (
        shapes["classes"]
        == SHAPE_CLASSES
        == [
            "circle",
            "ring",
            "triangle",
            "square",
            "pentagon",
            "star",
            "cross",
            "crescent",
            "ellipse",
            "heart",
        ]
    )
    big = make_shapes(3, image_size=48, clutter=False)
    assert big["images"].shape == (3, 3, 48, 48) and big["masks"].shape == (3, 48, 48)
    assert make_shapes(0)["images"].shape == (0, 3, 32, 32)


def test_shapes_labels_balanced_and_shuffled(shapes):
    assert torch.bincount(shapes["labels"], minlength=10).tolist() == [200] * 10
    assert torch.bincount(make_shapes(23)["labels"], minlength=10).tolist() == [3, 3, 3] + [2] * 7
    assert not torch.equal(shapes["labels"], torch.arange(2000) % 10)


def test_shapes_seeded_and_global_rng_untouched():
    state = torch.random.get_rng_state()
    a, b, c = make_shapes(50, seed=1), make_shapes(50, seed=1), make_shapes(50, seed=2)
    assert torch.equal(torch.random.get_rng_state(), state)
    for key in ("images", "labels", "masks"):
        assert torch.equal(a[key], b[key])
    assert not torch.equal(a["images"], c["images"]) and not torch.equal(a["masks"], c["masks"])


def test_shapes_masks_cover_the_visible_object(shapes):
    area = shapes["masks"].float().mean(dim=(1, 2))
    assert area.min() > 0.02 and area.max() < 0.7  # the largest circle covers pi * 0.45^2 = 64%
    inside, outside = _mean_colours(shapes["images"], shapes["masks"])
    contrast = (inside - outside).abs().sum(dim=1)  # L1 in RGB; the colours are drawn >= 0.6 apart
    assert contrast.min() > 0.4


def test_shapes_clutter_stays_off_the_object(shapes):
    clean = make_shapes(2000, seed=0, clutter=False)
    assert torch.equal(clean["labels"], shapes["labels"]) and torch.equal(clean["masks"], shapes["masks"])
    masks = shapes["masks"][:, None].float()
    # The pixels whose 3x3 neighbourhood is all object (the image's border counts as background).
    interior = (F.avg_pool2d(masks, 3, stride=1, padding=1) == 1).expand_as(shapes["images"])
    change = (shapes["images"] - clean["images"]).abs()
    assert change[interior].max() < 0.2  # pixel noise of std 0.03 only
    assert (change[~interior] > 0.3).any(dim=0).sum() > 0  # the clutter is there, on the background
    assert change[~interior].mean() > change[interior].mean()


def test_shapes_class_is_geometry_not_colour(shapes):
    images, labels = shapes["images"], shapes["labels"]
    inside, _ = _mean_colours(images, shapes["masks"])
    # Colours are random: every class has about the same mean image colour and object colour
    # (200 images a class, whose mean colours have a std of about 0.22 and 0.29 a channel).
    image_colour = torch.stack([images[labels == k].mean(dim=(0, 2, 3)) for k in range(10)])
    object_colour = torch.stack([inside[labels == k].mean(dim=0) for k in range(10)])
    assert (image_colour - images.mean(dim=(0, 2, 3))).abs().max() < 0.08
    assert (object_colour - inside.mean(dim=0)).abs().max() < 0.1
    # The same radius distribution for every class: the areas follow the geometry.
    area = {name: shapes["masks"][labels == k].float().mean().item() for k, name in enumerate(SHAPE_CLASSES)}
    assert area["ring"] < area["circle"] and area["ellipse"] < area["circle"]
    assert area["triangle"] < area["square"] < area["pentagon"] < area["circle"]


def test_shapes_are_hard_for_a_linear_model_on_raw_pixels(shapes):
    # 10 labelled images a class: logistic regression on raw pixels cannot see past the nuisances.
    X, y = shapes["images"].reshape(2000, -1).numpy(), shapes["labels"].numpy()
    train = np.concatenate([np.flatnonzero(y == k)[:10] for k in range(10)])
    test = np.setdiff1d(np.arange(2000), train)[:1000]
    X = X - X[train].mean(axis=0)  # mean-centred, as preprocess does: L-BFGS converges 5x faster
    accuracy = LogisticRegression(max_iter=1000).fit(X[train], y[train]).score(X[test], y[test])
    assert accuracy < 0.5


@pytest.mark.parametrize("num_images, image_size, match", [(-1, 32, "num_images"), (10, 7, "image_size")])
def test_make_shapes_bad_input_raises(num_images, image_size, match):
    with pytest.raises(ValueError, match=match):
        make_shapes(num_images, image_size=image_size)


def test_load_shapes_splits():
    data = load_shapes_splits(num_train=30, num_val=5, num_test=7, seed=3)
    whole = make_shapes(42, seed=3)
    start = 0
    for split, n in zip(SPLITS, (30, 5, 7)):
        assert data[f"X_{split}"].shape == (n, 3, 32, 32) and data[f"y_{split}"].shape == (n,)
        assert data[f"masks_{split}"].shape == (n, 32, 32) and data[f"masks_{split}"].dtype == torch.bool
        assert torch.equal(data[f"X_{split}"], whole["images"][start : start + n])
        assert torch.equal(data[f"masks_{split}"], whole["masks"][start : start + n])
        start += n
    assert data["classes"] == SHAPE_CLASSES
    assert load_shapes_splits(num_train=1, num_val=0, num_test=0)["X_test"].shape == (0, 3, 32, 32)
    for kwargs in ({"num_train": 0}, {"num_val": -1}, {"num_test": -1}):
        with pytest.raises(ValueError, match="num_train >= 1"):
            load_shapes_splits(**kwargs)


def test_shapes_through_load_dataset_preprocess_and_dev_subset():
    data = load_dataset("shapes", num_train=40, num_val=10, num_test=20, image_size=16)
    assert data["X_train"].shape == (40, 3, 16, 16) and data["masks_test"].shape == (20, 16, 16)
    small = dev_subset(data, 8, num_val=3)
    assert [small[f"masks_{s}"].shape[0] for s in SPLITS] == [8, 3, 20]
    assert torch.equal(small["masks_train"], data["masks_train"][:8]) and torch.equal(
        small["y_val"], data["y_val"][:3]
    )
    out = preprocess(data)
    assert out["X_train"].shape == (40, 3 * 16 * 16 + 1)
    for split in SPLITS:
        assert out[f"masks_{split}"] is data[f"masks_{split}"]


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


def test_digit_canvas_places_each_digit_inside_its_box():
    digits = load_digits_splits()
    clean = make_digit_canvas(digits["X_train"], digits["y_train"], 50, seed=3, clutter=False)
    noisy = make_digit_canvas(digits["X_train"], digits["y_train"], 50, seed=3)
    assert clean["images"].shape == (50, 1, 32, 32) and clean["images"].dtype == torch.float32
    assert clean["masks"].shape == (50, 32, 32) and clean["masks"].dtype == torch.bool
    assert torch.equal(clean["labels"], noisy["labels"]) and torch.equal(clean["masks"], noisy["masks"])
    assert 0 <= noisy["images"].min() and noisy["images"].max() <= 1
    for image, mask in zip(clean["images"][:, 0], clean["masks"]):
        ink = image >= 0.5
        rows, cols = ink.any(dim=1).nonzero().flatten(), ink.any(dim=0).nonzero().flatten()
        box = torch.zeros_like(mask)
        box[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1] = True
        assert torch.equal(mask, box)  # the tight box of the ink
        assert mask.sum() <= 16 * 16 and image[~mask].max() < 0.5


def test_digit_canvas_draws_the_digit_it_labels():
    """Each clean canvas, cropped around its box's 16x16 square, is the upsampled digit of its label."""
    digits = load_digits_splits()
    pool, labels = digits["X_test"][:3], digits["y_test"][:3]
    canvas = make_digit_canvas(pool, labels, 30, seed=1, clutter=False)
    glyphs = F.interpolate(pool, scale_factor=2, mode="bilinear", align_corners=False)[:, 0].clamp(0, 1)
    for image, label in zip(canvas["images"][:, 0], canvas["labels"]):
        found = [
            i
            for i, g in enumerate(glyphs)
            for r in range(17)
            for c in range(17)
            if torch.allclose(image[r : r + 16, c : c + 16], g)
            and image.sum().item() == pytest.approx(g.sum().item(), rel=1e-5)
        ]
        assert found and all(labels[i] == label for i in found)


def test_digit_canvas_splits_are_seeded_and_draw_from_disjoint_digits():
    a, b = load_digit_canvas_splits(200, 20, 50, seed=4), load_digit_canvas_splits(200, 20, 50, seed=4)
    assert all(torch.equal(a[k], b[k]) for k in a if k != "classes")
    assert a["X_train"].shape == (200, 1, 32, 32) and a["masks_test"].shape == (50, 32, 32)
    assert load_dataset("digit_canvas", num_train=10, num_val=0, num_test=5)["X_test"].shape == (5, 1, 32, 32)
    with pytest.raises(ValueError, match="canvas_size must be >= 16"):
        make_digit_canvas(torch.zeros(2, 1, 8, 8), torch.zeros(2, dtype=torch.long), 3, canvas_size=12)
    with pytest.raises(ValueError, match=r"\(M, 1, 8, 8\)"):
        make_digit_canvas(torch.zeros(2, 8, 8), torch.zeros(2, dtype=torch.long), 3)
    with pytest.raises(ValueError, match="num_train >= 1"):
        load_digit_canvas_splits(0)


@pytest.fixture
def fake_cifar(tmp_path: Path) -> Path:
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for b in range(5):
        ks = range(4 * b, 4 * b + 4)
        data = np.stack([_cifar_image(k) for k in ks])
        _dump(
            folder / f"data_batch_{b + 1}",
            {b"data": data, b"labels": [k % 10 for k in ks], b"batch_label": b"x"},
        )
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
    assert str(tmp_path / "MNIST" / "raw") in str(info.value) and "python -m utils.data mnist" in str(
        info.value
    )
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
    assert torch.allclose(
        out["X_val"][:, :-1].reshape(-1, 1, 8, 8) + out["mean_image"], digits["X_val"], atol=1e-6
    )
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
    assert (
        small["X_train"].shape[0] == 50 and small["X_val"].shape[0] == 10 and small["X_test"].shape[0] == 400
    )
    assert torch.equal(small["X_train"], digits["X_train"][:50]) and torch.equal(
        small["y_val"], digits["y_val"][:10]
    )
    assert small["classes"] == digits["classes"]
    for kwargs in ({"num_train": 1198}, {"num_train": 5, "num_test": 401}, {"num_train": -1}):
        with pytest.raises(ValueError, match="num_"):
            dev_subset(digits, **kwargs)


def test_load_dataset_dispatch(fake_cifar):
    assert load_dataset("digits", num_val=100)["X_val"].shape[0] == 100
    assert load_dataset("cifar10", root=fake_cifar, num_val=2, download=False)["X_val"].shape[0] == 2
    with pytest.raises(ValueError, match="digits.*shapes.*cifar10.*mnist"):
        load_dataset("imagenet")
