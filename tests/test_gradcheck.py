"""utils/gradcheck.py against autograd."""

import pytest
import torch

from utils.gradcheck import compute_numeric_gradient, grad_check_sparse, rel_error


def test_rel_error_is_zero_for_two_zeros_and_symmetric():
    assert rel_error(0.0, 0.0) == 0.0
    assert rel_error(torch.zeros(3), torch.zeros(3)) == 0.0
    assert rel_error(1.0, 3.0) == rel_error(3.0, 1.0) == pytest.approx(0.5)


def test_rel_error_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(2,\) and \(3,\)"):
        rel_error(torch.zeros(2), torch.zeros(3))


def f(x):
    return (x.sin() * x).sum() + (x**2).prod()


def test_numeric_gradient_matches_autograd_and_restores_x():
    x = torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    before = x.clone()
    numeric = compute_numeric_gradient(f, x)
    (autograd,) = torch.autograd.grad(f(y := x.clone().requires_grad_(True)), y)
    assert torch.equal(x, before)
    assert rel_error(numeric, autograd) < 1e-6


def test_grad_check_sparse_flags_a_wrong_gradient():
    x = torch.randn(20, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    (good,) = torch.autograd.grad(f(y := x.clone().requires_grad_(True)), y)
    assert grad_check_sparse(f, x, good, num_checks=8, verbose=False) < 1e-6
    assert grad_check_sparse(f, x, 2 * good, num_checks=8, verbose=False) > 0.3
