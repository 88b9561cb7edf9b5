import math

import pytest
import torch

from grok_interp import fourier


@pytest.mark.parametrize("p", [7, 8, 113])
def test_basis_is_orthonormal(p):
    b = fourier.basis(p, torch.float64)
    torch.testing.assert_close(b @ b.T, torch.eye(p, dtype=torch.float64))
    assert len(fourier.labels(p)) == p


def test_known_frequency_is_recovered():
    p, k = 31, 7
    x = torch.arange(p, dtype=torch.float64)
    w = torch.stack([3 * torch.cos(2 * math.pi * k * x / p), torch.sin(2 * math.pi * k * x / p)], 1)
    norms = fourier.freq_norms(fourier.dft(w, 0))
    assert norms.argmax() == k
    assert norms[k] ** 2 == pytest.approx(w.square().sum().item())  # Parseval
    assert norms.sum() - norms[k] < 1e-9


def test_dft2_of_product_wave():
    p, k = 13, 4
    a = torch.arange(p, dtype=torch.float64)
    grid = torch.cos(2 * math.pi * k * (a[:, None] + a[None, :]) / p)  # cos a cos b - sin a sin b
    c = fourier.dft2(grid)
    big = (c.abs() > 1e-9).nonzero().tolist()
    assert sorted(big) == [[2 * k - 1, 2 * k - 1], [2 * k, 2 * k]]
    assert c[2 * k - 1, 2 * k - 1] == pytest.approx(-c[2 * k, 2 * k])


def test_gini():
    assert fourier.gini(torch.ones(10)) == pytest.approx(0.0)
    spike = torch.zeros(100)
    spike[3] = 1
    assert fourier.gini(spike) == pytest.approx(0.99)
    assert fourier.gini(torch.zeros(5)) == 0.0
