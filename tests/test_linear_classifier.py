"""The reference solutions/linear_classifier.py against independent oracles.

Oracles: F.multi_margin_loss and F.cross_entropy for the losses, autograd and centred
differences for every gradient. Inputs are random float64 of several shapes.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import solutions.linear_classifier as lc
from utils.gradcheck import compute_numeric_gradient, rel_error

LOSSES = {
    "svm_loss_naive": lc.svm_loss_naive,
    "svm_loss_vectorized": lc.svm_loss_vectorized,
    "softmax_loss_naive": lc.softmax_loss_naive,
    "softmax_loss_vectorized": lc.softmax_loss_vectorized,
}


def svm_data_loss(scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # multi_margin_loss divides the per-sample sum over j != y by C; the course's loss does not.
    return scores.shape[1] * F.multi_margin_loss(scores, y, margin=1.0)


def oracle(name: str, W, X, y, reg):
    """(loss, dW) through torch.nn.functional and autograd."""
    W = W.detach().clone().requires_grad_(True)
    data_loss = svm_data_loss if name.startswith("svm") else F.cross_entropy
    loss = data_loss(X @ W, y) + reg * (W * W).sum()
    loss.backward()
    return loss.detach(), W.grad


def problem(seed: int, n: int, d: int, c: int, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    W = 0.3 * torch.randn(d, c, generator=gen, dtype=dtype)
    X = torch.randn(n, d, generator=gen, dtype=dtype)
    y = torch.randint(c, (n,), generator=gen)
    return W, X, y


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize(
    "seed,n,d,c,reg", [(0, 1, 3, 2, 0.0), (1, 17, 9, 4, 0.5), (2, 64, 30, 10, 1e-3), (3, 5, 2, 7, 2.0)]
)
def test_loss_and_gradient_match_oracle(name, seed, n, d, c, reg):
    W, X, y = problem(seed, n, d, c)
    loss, dW = LOSSES[name](W, X, y, reg)
    expected_loss, expected_dW = oracle(name, W, X, y, reg)
    assert loss.shape == () and dW.shape == W.shape
    assert rel_error(loss, expected_loss) < 1e-12
    assert rel_error(dW, expected_dW) < 1e-10


@pytest.mark.parametrize("name", LOSSES)
def test_gradient_matches_centred_differences(name):
    W, X, y = problem(4, 12, 6, 5)
    _, dW = LOSSES[name](W, X, y, 0.2)
    numeric = compute_numeric_gradient(lambda w: LOSSES[name](w, X, y, 0.2)[0], W.clone(), h=1e-6)
    assert rel_error(dW, numeric) < 1e-7


@pytest.mark.parametrize("name", LOSSES)
def test_float32_follows_inputs_and_agrees_with_float64(name):
    W, X, y = problem(5, 40, 20, 10)
    loss64, dW64 = LOSSES[name](W, X, y, 0.1)
    loss32, dW32 = LOSSES[name](W.float(), X.float(), y, 0.1)
    assert loss32.dtype == dW32.dtype == torch.float32
    assert rel_error(loss32, loss64) < 1e-5 and rel_error(dW32, dW64) < 1e-4


@pytest.mark.parametrize("name", ["softmax_loss_naive", "softmax_loss_vectorized"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_softmax_is_stable_for_large_scores_of_mixed_sign(name, dtype):
    gen = torch.Generator().manual_seed(6)
    W = (1 + 0.01 * torch.rand(8, 6, generator=gen, dtype=torch.float64)).to(dtype)
    X = 1e3 * (torch.rand(10, 8, generator=gen, dtype=torch.float64) + 0.5).to(dtype)
    X[::2] *= -1  # rows around -1e4 next to rows around +1e4: one global max is not enough
    y = torch.randint(6, (10,), generator=gen)
    loss, dW = LOSSES[name](W, X, y, 0.0)
    expected_loss, expected_dW = oracle(name, W.double(), X.double(), y, 0.0)
    assert torch.isfinite(loss) and torch.isfinite(dW).all()
    if dtype == torch.float64:
        assert rel_error(loss, expected_loss) < 1e-10 and rel_error(dW, expected_dW) < 1e-10
    else:  # float32 rounds scores of 1e4 by up to 1e-3 (its spacing there), which moves dW by about as much
        assert rel_error(loss, expected_loss) < 1e-4 and rel_error(dW, expected_dW) < 1e-2


def test_softmax_loss_is_log_c_for_tiny_weights():
    W, X, y = problem(7, 200, 10, 10)
    loss, _ = lc.softmax_loss_vectorized(1e-6 * W, X, y, 0.0)
    assert abs(loss.item() - torch.log(torch.tensor(10.0)).item()) < 1e-4


@pytest.mark.parametrize("name", LOSSES)
def test_losses_leave_inputs_alone(name):
    W, X, y = problem(8, 10, 5, 3)
    copies = W.clone(), X.clone(), y.clone()
    LOSSES[name](W, X, y, 0.3)
    assert all(torch.equal(a, b) for a, b in zip((W, X, y), copies))


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize(
    "make,match",
    [
        (lambda W, X, y: (W[0], X, y), r"W must have shape \(D, C\); got shape \(3,\)"),
        (lambda W, X, y: (W, X[:, :4], y), r"X must have shape \(N, D\) with D = 5.*\(10, 4\)"),
        (lambda W, X, y: (W, X, y[:9]), r"y must have shape \(N,\) with N = 10.*\(9,\)"),
        (lambda W, X, y: (W, X, y.float()), r"integer class labels.*float32"),
        (lambda W, X, y: (W, X, torch.full_like(y, 3)), r"labels in y must lie in \[0, 3\).*\[3, 3\]"),
        (lambda W, X, y: (W, X[:0], y[:0]), r"X has no rows"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(name, make, match):
    W, X, y = problem(9, 10, 5, 3)
    with pytest.raises(ValueError, match=match):
        LOSSES[name](*make(W, X, y), 0.1)


def test_sample_batch_draws_matching_rows_from_the_first_num_train():
    X = torch.arange(100.0).unsqueeze(1)
    y = torch.arange(100)
    torch.manual_seed(0)
    X_batch, y_batch = lc.sample_batch(X, y, 30, 500)
    assert X_batch.shape == (500, 1) and y_batch.shape == (500,)
    assert torch.equal(X_batch[:, 0].long(), y_batch)
    assert y_batch.max() < 30 and y_batch.unique().numel() == 30


def test_training_reduces_the_loss_and_does_not_modify_the_initial_weights():
    W, X, y = problem(10, 300, 8, 3)
    X = X + 3 * F.one_hot(y, 8)[:, :8].double()  # separable enough to learn
    W0 = torch.zeros(8, 3, dtype=torch.float64)
    torch.manual_seed(0)
    W_trained, history = lc.train_linear_classifier(lc.softmax_loss_vectorized, W0, X, y, 0.5, 1e-4, 200, 50)
    assert torch.equal(W0, torch.zeros(8, 3, dtype=torch.float64))
    assert len(history) == 200 and history[-1] < 0.5 * history[0]
    assert (lc.predict_linear_classifier(W_trained, X) == y).double().mean() > 0.9


def test_classifier_save_and_load_round_trip(tmp_path):
    W, X, y = problem(11, 50, 4, 3)
    torch.manual_seed(0)
    model = lc.LinearSVM()
    model.train(X, y, learning_rate=0.1, num_iters=20, batch_size=10)
    model.save(str(tmp_path / "svm.pt"))
    loaded = lc.LinearSVM()
    loaded.load(str(tmp_path / "svm.pt"))
    assert torch.equal(loaded.W, model.W) and torch.equal(loaded.predict(X), model.predict(X))


def test_predict_before_training_is_a_clear_error():
    with pytest.raises(ValueError, match="no weights yet"):
        lc.Softmax().predict(torch.zeros(2, 3))


def test_test_one_param_set_trains_once_for_num_iters():
    calls = []

    class Spy(lc.Softmax):
        def train(
            self, X_train, y_train, learning_rate=1e-3, reg=1e-5, num_iters=100, batch_size=200, verbose=False
        ):
            calls.append(num_iters)
            return super().train(X_train, y_train, learning_rate, reg, num_iters, batch_size, verbose)

    W, X, y = problem(12, 60, 5, 3)
    data = {"X_train": X, "y_train": y, "X_val": X[:20], "y_val": y[:20]}
    model, train_acc, val_acc = lc.test_one_param_set(Spy(), data, 0.1, 1e-3, num_iters=7)
    assert calls == [7]
    assert 0 <= train_acc <= 1 and 0 <= val_acc <= 1
    assert train_acc == (model.predict(X) == y).double().mean().item()
