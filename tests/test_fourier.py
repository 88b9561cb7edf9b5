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


def test_even_p_keeps_the_cosine_only_frequency_p_over_2():
    # Varma et al. App. B: k = 1..K, K = ceil((p-1)/2), so p/2 for even p (cos(pi x) only)
    assert [fourier.n_freqs(p) for p in (7, 8, 113)] == [3, 4, 56]
    assert fourier.freq_rows(8, 4) == [7] and fourier.freq_rows(8, 3) == [5, 6]
    assert fourier.labels(8)[-1] == "cos p/2" and fourier.labels(7)[-1] == "sin 3"
    x = torch.arange(8, dtype=torch.float64)
    signal = torch.stack([2 * torch.cos(math.pi * x), torch.cos(math.pi * x / 2)], 1)
    norms = fourier.freq_norms(fourier.dft(signal, 0))
    assert len(norms) == 5 and norms.square().sum() == pytest.approx(signal.square().sum().item())
    assert norms[4] ** 2 == pytest.approx(32.0) and norms[2] ** 2 == pytest.approx(4.0)
    with pytest.raises(ValueError, match="not in 1..4"):
        fourier.freq_rows(8, 5)


def test_single_wave_fit_finds_p_over_2():
    from grok_interp.analyses.attention import _wave_fit

    x = torch.arange(10, dtype=torch.float64)
    k, cos_coef, sin_coef, fve, _ = _wave_fit(0.5 + 0.3 * torch.cos(math.pi * x))
    assert k == 5 and cos_coef == pytest.approx(0.3) and sin_coef == 0.0
    assert fve == pytest.approx(1.0)


def test_removing_the_sum_wave_of_p_over_2_removes_exactly_it():
    from grok_interp.analyses.ablations import remove_sum_waves

    p = 8
    a = torch.arange(p, dtype=torch.float64)
    wave = torch.cos(math.pi * (a[:, None] + a[None, :])).reshape(-1, 1)  # (64, 1)
    rest = torch.randn(p * p, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    rest -= wave @ (wave.T @ rest) / (p * p)  # no component along the wave
    x = rest + wave * torch.tensor([[2.0, -1.0, 0.5]], dtype=torch.float64)
    torch.testing.assert_close(remove_sum_waves(x, p, [4]), rest)
