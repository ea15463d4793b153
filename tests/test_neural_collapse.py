"""The neural-collapse reference (solutions/neural_collapse.py) against oracles that share no code with it:
the Gram matrix itself, autograd and gradcheck, numpy loops for the covariances, scikit-learn's
NearestCentroid for NC4's nearest-mean rule, and CIFAR-10-LT's published class sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from scipy.sparse.linalg import svds
from sklearn.neighbors import NearestCentroid

from solutions import neural_collapse as nc


def target(C):
    return torch.full((C, C), -1 / (C - 1), dtype=torch.float64).fill_diagonal_(1.0)


@pytest.mark.parametrize("C", [2, 3, 7, 100])
def test_gram_target(C):
    torch.testing.assert_close(nc.etf_gram_target(C), target(C), rtol=0, atol=0)


@pytest.mark.parametrize("D,C", [(5, 4), (2, 6), (9, 1 + 1)])
def test_objectives_against_autograd(D, C):
    W = torch.randn(D, C, dtype=torch.float64, generator=torch.Generator().manual_seed(D * C))
    leaf = W.clone().requires_grad_(True)
    expected = ((leaf.t() @ leaf - target(C)) ** 2).sum()
    (expected_grad,) = torch.autograd.grad(expected, leaf)
    for objective in (nc.etf_objective_naive, nc.etf_objective):
        loss, grad = objective(W)
        torch.testing.assert_close(loss, expected.detach())
        torch.testing.assert_close(grad, expected_grad)


def test_gradient_descent_reaches_tol_and_warns_when_it_cannot():
    result = nc.etf_by_gradient_descent(16, 5, lr=0.05, tol=1e-8, max_iters=50000, seed=1)
    assert result.losses[-1] <= 1e-8 < result.losses[-2] and len(result.losses) == result.iterations + 1
    assert (result.weight.t() @ result.weight - target(5)).abs().max() < 1e-3
    with pytest.warns(RuntimeWarning, match="raise max_iters"):
        short = nc.etf_by_gradient_descent(16, 5, max_iters=3)
    assert short.iterations == 3
    with pytest.raises(ValueError, match="C - 1"):
        nc.etf_by_gradient_descent(3, 6)


@pytest.mark.parametrize("D,C", [(1, 2), (2, 3), (9, 10), (10, 10), (64, 10), (511, 512), (300, 7)])
def test_simplex_etf_is_exact_for_every_d_at_least_c_minus_one(D, C):
    W = nc.simplex_etf(D, C, seed=3, dtype=torch.float64)
    assert W.shape == (D, C) and W.dtype == torch.float64
    torch.testing.assert_close(W.t() @ W, target(C), rtol=0, atol=1e-12)
    torch.testing.assert_close(W.sum(dim=1), torch.zeros(D, dtype=torch.float64), rtol=0, atol=1e-12)


def test_simplex_etf_float32_large_and_seeded():
    W = nc.simplex_etf(2048, 1000, seed=0)
    assert W.dtype == torch.float32
    assert (W.double().t() @ W.double() - target(1000)).abs().max() < 1e-5
    assert torch.equal(nc.simplex_etf(20, 5, seed=1), nc.simplex_etf(20, 5, seed=1))
    assert not torch.allclose(nc.simplex_etf(20, 5, seed=1), nc.simplex_etf(20, 5, seed=2))


@pytest.mark.parametrize("D,C,words", [(3, 5, "D must be at least C - 1 = 4"), (10, 1, "at least 2 classes")])
def test_simplex_etf_rejects_impossible_sizes(D, C, words):
    with pytest.raises(ValueError, match=words):
        nc.simplex_etf(D, C)


def test_etf_classifier_weight_is_a_buffer_that_follows_the_module_and_never_trains():
    head = nc.ETFClassifier(8, 4, scale=3.0, normalize_features=True)
    assert "weight" in dict(head.named_buffers()) and not list(head.parameters())
    assert "weight" in head.state_dict()
    assert head.double().weight.dtype == torch.float64
    model = nn.Sequential(nn.Linear(5, 8), head.float())
    before = head.weight.clone()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    for _ in range(3):
        optimizer.zero_grad()
        F.cross_entropy(model(torch.randn(6, 5)), torch.arange(6) % 4).backward()
        optimizer.step()
    assert torch.equal(head.weight, before)
    h = torch.randn(3, 8)
    torch.testing.assert_close(head(h), 3.0 * F.normalize(h, dim=1) @ before)


def test_dot_regression_against_cosine_similarity_and_gradcheck():
    gen = torch.Generator().manual_seed(0)
    h = torch.randn(6, 4, dtype=torch.float64, generator=gen, requires_grad=True)
    w = torch.randn(4, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    y = torch.tensor([0, 1, 2, 2, 1, 0])
    expected = 0.5 * ((F.cosine_similarity(h, w.t()[y], dim=1) - 1) ** 2).mean()
    torch.testing.assert_close(nc.dot_regression_loss(h, y, w), expected)
    assert torch.autograd.gradcheck(lambda a, b: nc.dot_regression_loss(a, y, b), (h, w))
    aligned = nc.simplex_etf(4, 3, seed=0, dtype=torch.float64)
    assert nc.dot_regression_loss(2.5 * aligned.t()[y], y, aligned).item() < 1e-15


def test_center_collapse_loss_against_a_loop_over_classes():
    gen = torch.Generator().manual_seed(1)
    head = nc.ETFClassifier(5, 4, scale=2.0).double()
    h = torch.randn(9, 5, dtype=torch.float64, generator=gen)
    y = torch.tensor([0, 0, 2, 2, 2, 3, 0, 3, 2])  # class 1 absent from the batch
    losses = [
        F.cross_entropy(head(h[y == c].mean(dim=0, keepdim=True)), torch.tensor([c])) for c in (0, 2, 3)
    ]
    torch.testing.assert_close(nc.center_collapse_loss(h, y, head), torch.stack(losses).mean())


def metrics_oracle(features, labels, weight):
    """NC1 and NC4 in numpy with explicit loops over samples, and scikit-learn's nearest centroid."""
    h, y = features.numpy(), labels.numpy()
    C = weight.shape[1]
    mu_g = h.mean(axis=0)
    means = np.stack([h[y == c].mean(axis=0) for c in range(C)])
    sigma_w = sum(np.outer(x - means[c], x - means[c]) for x, c in zip(h, y)) / len(h)
    sigma_b = sum(np.outer(m - mu_g, m - mu_g) for m in means) / C
    nc1 = np.trace(sigma_w @ np.linalg.pinv(sigma_b)) / C
    nearest = NearestCentroid().fit(h, y).predict(h)
    nc4 = np.mean((h @ weight.numpy()).argmax(axis=1) != nearest)
    return nc1, nc4


def test_metrics_on_random_imbalanced_features_against_numpy_and_sklearn():
    gen = torch.Generator().manual_seed(2)
    labels = torch.tensor([0] * 30 + [1] * 12 + [2] * 5 + [3] * 3)
    features = torch.randn(4, 6, dtype=torch.float64, generator=gen)[labels] + 0.8 * torch.randn(
        50, 6, dtype=torch.float64, generator=gen
    )
    weight = torch.randn(6, 4, dtype=torch.float64, generator=gen)
    metrics = nc.neural_collapse_metrics(features, labels, weight)
    nc1, nc4 = metrics_oracle(features, labels, weight)
    assert metrics["nc1"] == pytest.approx(nc1, rel=1e-10)
    assert metrics["nc4"] == pytest.approx(nc4, abs=0)
    # Every measurement is invariant to scaling the features and the classifier.
    scaled = nc.neural_collapse_metrics(7 * features, labels, 0.1 * weight)
    assert all(scaled[k] == pytest.approx(metrics[k], rel=1e-9, abs=1e-12) for k in metrics)


def test_nc1_keeps_the_near_singular_directions_of_sigma_b_as_papyan_et_al_do():
    """Class means spread over C - 1 = 4 directions with between-class variances 1 down to 1e-10 of the
    largest, as a network's means that fold into fewer dimensions than an ETF needs. NC1 is Papyan et al.'s
    tr(Sigma_W Sigma_B^-1) / C on Sigma_B's top C - 1 singular directions (their code: scipy's svds,
    k = C - 1): the smallest directions dominate it, and a pseudo-inverse with a coarse cut-off (rcond 1e-6,
    or a float32 pinv) would drop them and report a number 1e4 times smaller."""
    rng = np.random.default_rng(0)
    C, D, n = 5, 8, 6
    ones_free = np.linalg.qr(np.eye(C) - 1 / C)[0][
        :, : C - 1
    ]  # orthonormal, orthogonal to the all-ones vector
    means = np.linalg.qr(rng.standard_normal((D, C - 1)))[0] @ np.diag([1, 0.3, 1e-3, 1e-5]) @ ones_free.T
    noise = 0.01 * rng.standard_normal((C, n, D))
    features = means.T[:, None, :] + noise - noise.mean(axis=1, keepdims=True)  # (C, n, D), exact class means
    h, labels = features.reshape(-1, D), np.repeat(np.arange(C), n)

    sigma_w = sum(np.outer(d, d) for d in (features - means.T[:, None, :]).reshape(-1, D)) / (C * n)
    sigma_b = means @ means.T / C
    u, s, _ = svds(sigma_b, k=C - 1)
    expected = np.trace(sigma_w @ u @ np.diag(1 / s) @ u.T) / C
    coarse = np.trace(sigma_w @ np.linalg.pinv(sigma_b, rcond=1e-6)) / C

    nc1 = nc.neural_collapse_metrics(torch.from_numpy(h), torch.from_numpy(labels))["nc1"]
    assert nc1 == pytest.approx(expected, rel=1e-6)
    assert expected > 1e4 * coarse


def test_metrics_vanish_under_perfect_collapse_onto_an_etf():
    W = nc.simplex_etf(12, 6, seed=4, dtype=torch.float64)
    labels = torch.arange(6).repeat(5)
    metrics = nc.neural_collapse_metrics(3 * W.t()[labels], labels, W)
    assert all(abs(v) < 1e-9 for v in metrics.values()), metrics
    # Shifted features: NC1 to NC3 use centred means only (NC4's classifier has no bias, so the shift matters there).
    shifted = nc.neural_collapse_metrics(3 * W.t()[labels] + 1.5, labels, W)
    assert all(abs(shifted[k]) < 1e-9 for k in shifted if k != "nc4"), shifted


@pytest.mark.parametrize(
    "features,labels,weight,words",
    [
        (torch.zeros(4, 3), torch.zeros(3, dtype=torch.long), None, "one per feature row"),
        (torch.zeros(4, 3), torch.tensor([0, 0, 2, 2]), None, r"classes \[1\] have no samples"),
        (torch.zeros(4, 3), torch.tensor([0, 1, 0, 1]), torch.zeros(3, 3), r"classes \[2\] have no samples"),
        (
            torch.zeros(4, 3),
            torch.tensor([0, 1, 0, 1]),
            torch.zeros(2, 2),
            r"weight should be \(D, C\) with D = 3",
        ),
        (torch.zeros(4), torch.tensor([0, 1, 0, 1]), None, r"features should be \(N, D\)"),
    ],
)
def test_metrics_reject_bad_input(features, labels, weight, words):
    with pytest.raises(ValueError, match=words):
        nc.neural_collapse_metrics(features, labels, weight)


@pytest.mark.parametrize(
    "ratio,counts",
    [
        # CIFAR-10-LT (Cao et al., 2019): 12,406 training images at ratio 0.01 and 20,431 at 0.1.
        (0.01, [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]),
        (0.1, [5000, 3871, 2997, 2320, 1796, 1391, 1077, 834, 645, 500]),
    ],
)
def test_long_tailed_profile_matches_cifar10_lt(ratio, counts):
    assert sum(counts) == {0.01: 12406, 0.1: 20431}[ratio]
    assert nc.long_tailed_counts(5000, 10, ratio) == counts


def test_long_tailed_indices_subset_is_seeded_sorted_and_rejects_bad_ratios():
    labels = torch.arange(5).repeat(40)
    picks = nc.long_tailed_indices(labels, 0.25, seed=0)
    assert torch.bincount(labels[picks]).tolist() == [40, 28, 20, 14, 10]
    assert torch.equal(picks, picks.sort().values) and picks.unique().numel() == picks.numel()
    assert torch.equal(picks, nc.long_tailed_indices(labels, 0.25, seed=0))
    for bad in (0.0, 1.5, -0.1):
        with pytest.raises(ValueError, match="imbalance_ratio"):
            nc.long_tailed_indices(labels, bad)


def test_training_records_metrics_and_learns_a_separable_problem():
    gen = torch.Generator().manual_seed(0)
    y = torch.arange(3).repeat(20)
    X = 3 * torch.eye(3)[y] + 0.3 * torch.randn(60, 3, generator=gen)
    torch.manual_seed(0)
    for head, loss in [("linear", "ce"), ("etf", "ce"), ("etf", "dr")]:
        model = nc.FeatureNet(3, 3, num_features=4, hidden=16, head=head)
        history = nc.train_feature_net(model, X, y, loss=loss, epochs=30, lr=0.05, metrics_every=10)
        assert [row["epoch"] for row in history] == [10, 20, 30]
        assert {"loss", "nc1", "nc3", "nc4"} <= set(history[-1])
        accuracy = nc.per_class_accuracy(model, X, y)
        assert accuracy.shape == (3,) and accuracy.min() >= 0.9, (head, loss, accuracy)
    model = nc.FeatureNet(3, 3, num_features=4, hidden=16, head="etf")
    history = nc.train_feature_net(model, X, y, epochs=30, lr=0.05, metrics_every=30, center_weight=1.0)
    assert nc.per_class_accuracy(model, X, y).min() >= 0.9 and len(history) == 1
    with pytest.raises(ValueError, match="head should be"):
        nc.FeatureNet(3, 3, head="cosine")
    with pytest.raises(ValueError, match="needs the fixed ETF head"):
        nc.train_feature_net(nc.FeatureNet(3, 3, head="linear"), X, y, epochs=1, center_weight=1.0)


def test_learning_rate_schedules_and_the_first_epoch_of_zero_error():
    def rates(kind, total=9):
        optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        scheduler = nc._schedule(optimizer, kind, total)
        seen = []
        for _ in range(total):
            seen.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
        return seen

    assert rates("step") == pytest.approx([1, 1, 1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01])
    assert rates("constant") == [1.0] * 9
    cosine = rates("cosine")
    assert cosine[0] == 1 and all(b < a for a, b in zip(cosine, cosine[1:]))
    assert cosine[-1] == pytest.approx(0.5 * (1 + np.cos(np.pi * 8 / 9)))
    with pytest.raises(ValueError, match="lr_schedule"):
        rates("linear")
    history = [{"epoch": e, "train_error": err} for e, err in [(1, 0.5), (2, 0.0), (3, 0.01), (4, 0.0)]]
    assert nc.first_zero_error_epoch(history) == 2
    assert nc.first_zero_error_epoch(history[:1]) is None


def test_unconstrained_features_collapse_and_the_fixed_head_resists_minority_collapse():
    balanced = nc.train_unconstrained_features([10] * 4, 6, steps=4000, seed=0)
    assert balanced.history[-1]["nc1"] < 1e-3 and balanced.history[-1]["nc2_etf_distance"] < 0.05
    assert [row["step"] for row in balanced.history][-1] == 4000 and balanced.features.shape == (40, 6)
    counts = nc.long_tailed_counts(100, 10, 0.01)
    learned = nc.train_unconstrained_features(counts, 16, steps=2000, seed=0).weight
    fixed = nc.train_unconstrained_features(counts, 16, head="etf", steps=2000, seed=0).weight
    torch.testing.assert_close(fixed, nc.simplex_etf(16, 10, seed=0, dtype=torch.float64))

    def tail_cosine(W):  # mean cosine between the 3 smallest classes' vectors, by numpy
        W = W.numpy()[:, 7:] / np.linalg.norm(W.numpy()[:, 7:], axis=0)
        return (W.T @ W)[~np.eye(3, dtype=bool)].mean()

    assert tail_cosine(learned) > 0 > tail_cosine(fixed) == pytest.approx(-1 / 9)
