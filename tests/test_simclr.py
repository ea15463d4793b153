"""The reference solutions/simclr.py against independent oracles: cross-entropy over the masked
similarity matrix (torch.nn.functional), autograd, and two peer libraries' NTXentLoss
(pytorch-metric-learning and lightly, test-only dependencies)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from lightly.loss import NTXentLoss as LightlyNTXent
from pytorch_metric_learning.losses import NTXentLoss as PMLNTXent

import solutions.simclr as simclr
from utils.checks.simclr import nt_xent_oracle
from utils.gradcheck import rel_error


def pairs(seed: int, n: int, d: int, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    left = torch.randn(n, d, generator=gen, dtype=dtype)
    return left, left + torch.randn(n, d, generator=gen, dtype=dtype)


@pytest.mark.parametrize("n,d,tau", [(2, 3, 0.5), (5, 8, 0.1), (16, 32, 1.0), (7, 4, 0.05)])
def test_naive_vectorized_and_oracle_agree(n, d, tau):
    left, right = pairs(n * d, n, d)
    naive = simclr.simclr_loss_naive(left, right, tau)
    vectorized = simclr.simclr_loss_vectorized(left, right, tau)
    expected = nt_xent_oracle(left, right, tau)
    assert rel_error(naive, expected) < 1e-12 and rel_error(vectorized, expected) < 1e-12


@pytest.mark.parametrize("n,tau", [(4, 0.5), (32, 0.1), (64, 0.07)])
def test_matches_peer_libraries(n, tau):
    left, right = pairs(n, n, 16)
    ours = simclr.simclr_loss_vectorized(left, right, tau)
    labels = torch.arange(n).repeat(2)  # row k and row k + N share a label: they are the positive pair
    pml = PMLNTXent(temperature=tau)(torch.cat([left, right]), labels)
    lightly = LightlyNTXent(temperature=tau)(left, right)
    assert rel_error(ours, pml) < 1e-10
    assert rel_error(ours, lightly) < 1e-10


def test_gradients_match_autograd_of_the_oracle():
    left, right = pairs(1, 6, 5)
    a = [t.clone().requires_grad_(True) for t in (left, right)]
    b = [t.clone().requires_grad_(True) for t in (left, right)]
    simclr.simclr_loss_vectorized(*a, 0.2).backward()
    nt_xent_oracle(*b, 0.2).backward()
    assert all(rel_error(x.grad, y.grad) < 1e-10 for x, y in zip(a, b))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_stable_in_low_precision_at_small_tau(dtype):
    left, right = pairs(2, 64, 32)
    reference = nt_xent_oracle(left, right, 0.05)
    loss = simclr.simclr_loss_vectorized(left.to(dtype), right.to(dtype), 0.05)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    assert abs(loss.item() - reference.item()) < 4 * torch.finfo(dtype).eps / 0.05


def test_pieces_match_cosine_similarity():
    left, right = pairs(3, 5, 7)
    out = torch.cat([left, right])
    assert rel_error(simclr.sim(left[0], right[0]), F.cosine_similarity(left[0], right[0], dim=0)) < 1e-14
    assert (
        rel_error(simclr.sim_positive_pairs(left, right), F.cosine_similarity(left, right).unsqueeze(1))
        < 1e-14
    )
    expected = F.cosine_similarity(out.unsqueeze(1), out.unsqueeze(0), dim=2)
    assert rel_error(simclr.compute_sim_matrix(out), expected) < 1e-14


@pytest.mark.parametrize("loss", [simclr.simclr_loss_naive, simclr.simclr_loss_vectorized])
@pytest.mark.parametrize(
    "args,match",
    [
        ((torch.zeros(4, 3), torch.zeros(4, 2), 0.5), r"both be \(N, D\); got \(4, 3\) and \(4, 2\)"),
        ((torch.zeros(1, 3), torch.zeros(1, 3), 0.5), r"N >= 2 pairs.*N = 1"),
        ((torch.ones(4, 3), torch.ones(4, 3), 0.0), r"tau must be positive; got 0.0"),
        ((torch.ones(4, 3), torch.ones(4, 3), -1.0), r"tau must be positive; got -1.0"),
        ((torch.ones(4), torch.ones(4), 0.5), r"both be \(N, D\)"),
    ],
)
def test_bad_input_is_rejected(loss, args, match):
    with pytest.raises(ValueError, match=match):
        loss(*args)


def test_device_follows_the_inputs():
    left, right = pairs(4, 4, 3, torch.float32)
    assert simclr.simclr_loss_vectorized(left, right, 0.5, device="cpu").device.type == "cpu"
    with pytest.raises(ValueError, match="differs from the inputs' device"):
        simclr.simclr_loss_vectorized(left, right, 0.5, device="cuda")


def test_pair_dataset_gives_two_different_views_and_the_label():
    images = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    pairs_ = simclr.PairDataset(
        simclr.ImageDataset(images, torch.tensor([4, 5, 6])), simclr.compute_train_transform(seed=0)
    )
    x_i, x_j, y = pairs_[1]
    assert x_i.shape == x_j.shape == (3, 32, 32) and y == 5 and not torch.equal(x_i, x_j)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        simclr.ImageDataset(images[0], torch.tensor([1]))


def test_test_transform_only_normalizes():
    image = torch.rand(3, 8, 8, generator=torch.Generator().manual_seed(1))
    pil, _ = simclr.ImageDataset(image.unsqueeze(0), torch.tensor([0]))[0]
    out = simclr.compute_test_transform(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))(pil)
    # to_pil_image stores floor(255 x); ToTensor divides by 255 again.
    assert (out - ((image * 255).floor() / 255 * 2 - 1)).abs().max() < 1e-6


def test_evaluation_helpers_on_separable_features():
    gen = torch.Generator().manual_seed(2)
    labels = torch.arange(200) % 4
    features = F.one_hot(labels, 4).double() * 5 + 0.1 * torch.randn(
        200, 4, generator=gen, dtype=torch.float64
    )
    picks = simclr.few_labels(labels, per_class=3, seed=0)
    assert picks.numel() == 12 and torch.equal(labels[picks].bincount(), torch.tensor([3, 3, 3, 3]))
    assert (
        simclr.linear_probe_accuracy(features[picks].float(), labels[picks], features.float(), labels) == 1.0
    )
    assert simclr.knn_accuracy(features[picks], labels[picks], features, labels, k=3) == 1.0
    with pytest.raises(ValueError, match="fewer than per_class"):
        simclr.few_labels(labels, per_class=51)


def test_model_returns_representation_and_projection():
    model = simclr.SimCLRModel(feature_dim=32, projection_dim=8)
    h, z = model(torch.randn(5, 3, 32, 32))
    assert h.shape == (5, 32) and z.shape == (5, 8)
