"""Discrepancy measures against slow, explicit reference implementations (loops, complex numbers)."""

import cmath
import math

import numpy as np
import pytest
import torch

from distillers.discrepancy import (
    cf_amplitude_phase,
    empirical_cf,
    energy_distance,
    mmd_gaussian,
    mmd_linear,
    ncfd,
    sample_cauchy_frequencies,
    sample_gaussian_frequencies,
)

F64 = torch.float64


def sample(*shape, seed=0, shift=0.0, scale=1.0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen, dtype=F64) * scale + shift


def freqs(k, d, seed=1):
    return sample_gaussian_frequencies(k, d, generator=torch.Generator().manual_seed(seed), dtype=F64)


# --- slow references ---------------------------------------------------------------------------

def ref_cf(x, t):
    """Phi_x(t_k) = 1/n sum_i exp(j <t_k, x_i>), one complex number per frequency."""
    return [sum(cmath.exp(1j * float(tk @ xi)) for xi in x) / len(x) for tk in t]


def ref_amplitude_phase(x, y, t):
    """The eq. 7 parts written with moduli and angles of the complex CFs."""
    amp, phase = [], []
    for px, py in zip(ref_cf(x, t), ref_cf(y, t)):
        amp.append((abs(px) - abs(py)) ** 2)
        phase.append(2 * abs(px) * abs(py) * (1 - math.cos(cmath.phase(px) - cmath.phase(py))))
    return np.array(amp), np.array(phase)


def ref_ncfd(x, y, t, alpha):
    amp, phase = ref_amplitude_phase(x, y, t)
    return float(np.mean(np.sqrt(alpha * amp + (1 - alpha) * phase)))


def ref_pair_mean(kernel, a, b):
    return sum(kernel(ai - bj) for ai in a.numpy() for bj in b.numpy()) / (len(a) * len(b))


def ref_mmd(kernel, x, y):
    return ref_pair_mean(kernel, x, x) + ref_pair_mean(kernel, y, y) - 2 * ref_pair_mean(kernel, x, y)


def ref_energy(x, y):
    return ref_mmd(lambda u: -np.linalg.norm(u), x, y)


def gaussian_kernel(sigma):
    return lambda u: math.exp(-float(u @ u) / (2 * sigma**2))


# All measures as f(x, y), for the properties every one of them must have.
MEASURES = {
    "ncfd": lambda x, y: ncfd(x, y, freqs(64, x.shape[-1])),
    "ncfd_alpha0.2": lambda x, y: ncfd(x, y, freqs(64, x.shape[-1]), alpha=0.2),
    "mmd_linear": mmd_linear,
    "mmd_gaussian": lambda x, y: mmd_gaussian(x, y, sigma=1.3),
    "energy_distance": energy_distance,
}


# --- agreement with the references -------------------------------------------------------------

def test_empirical_cf_matches_complex_reference():
    x, t = sample(9, 4), freqs(6, 4)
    re, im = empirical_cf(x, t)
    expected = np.array(ref_cf(x, t))
    assert re.shape == im.shape == (6,)
    np.testing.assert_allclose(re.numpy(), expected.real, atol=1e-12)
    np.testing.assert_allclose(im.numpy(), expected.imag, atol=1e-12)


def test_amplitude_phase_match_polar_form_and_sum_to_squared_cf_difference():
    x, y, t = sample(9, 3), sample(7, 3, seed=2, shift=0.3), freqs(20, 3)
    amplitude, phase = cf_amplitude_phase(x, y, t)
    ref_amp, ref_phase = ref_amplitude_phase(x, y, t)
    np.testing.assert_allclose(amplitude.numpy(), ref_amp, atol=1e-12)
    np.testing.assert_allclose(phase.numpy(), ref_phase, atol=1e-12)
    squared_diff = np.abs(np.array(ref_cf(x, t)) - np.array(ref_cf(y, t))) ** 2
    np.testing.assert_allclose((amplitude + phase).numpy(), squared_diff, atol=1e-12)
    assert (phase > 1e-3).any() and (amplitude > 1e-4).any()  # both parts are exercised


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.5, 1.0])
def test_ncfd_matches_reference(alpha):
    x, y, t = sample(9, 3), sample(7, 3, seed=2, shift=0.3, scale=1.5), freqs(20, 3)
    assert ncfd(x, y, t, alpha=alpha).item() == pytest.approx(ref_ncfd(x, y, t, alpha), abs=1e-10)


def test_mmd_linear_and_gaussian_match_double_loop_references():
    x, y = sample(12, 3), sample(9, 3, seed=2, shift=0.4)
    expected_linear = float(np.sum((x.numpy().mean(0) - y.numpy().mean(0)) ** 2))
    assert mmd_linear(x, y).item() == pytest.approx(expected_linear, rel=1e-12)
    expected_gauss = ref_mmd(gaussian_kernel(1.3), x, y)
    assert mmd_gaussian(x, y, sigma=1.3).item() == pytest.approx(expected_gauss, rel=1e-9)


def test_energy_distance_matches_double_loop_reference():
    x, y = sample(12, 3), sample(9, 3, seed=2, shift=0.4, scale=2.0)
    # self-pairs (i = j) count sqrt(EPS) = 1e-6 instead of 0: a bias of 1e-6 * (1/12 + 1/9)
    assert energy_distance(x, y).item() == pytest.approx(ref_energy(x, y), abs=2e-7)


def test_energy_distance_without_real_term_keeps_synthetic_gradient():
    x, y = sample(12, 3), sample(9, 3, seed=2, shift=0.4).requires_grad_(True)
    full, partial = energy_distance(x, y), energy_distance(x, y, include_real_term=False)
    real_term = ref_pair_mean(lambda u: np.linalg.norm(u), x, x)
    assert (partial - full).item() == pytest.approx(real_term, abs=1e-7)  # 1e-6 / 12 self-pair floor
    (grad_full,) = torch.autograd.grad(full, y)
    (grad_partial,) = torch.autograd.grad(partial, y)
    torch.testing.assert_close(grad_partial, grad_full)


# --- Bochner: kernel MMD == mean over the kernel's spectral measure of |Phi_x - Phi_y|^2 ------

def cf_form(x, y, t):
    """Per-frequency |Phi_x(t) - Phi_y(t)|^2, with its Monte Carlo mean and 5 standard errors."""
    (re_x, im_x), (re_y, im_y) = empirical_cf(x, t), empirical_cf(y, t)
    values = (re_x - re_y) ** 2 + (im_x - im_y) ** 2
    return values.mean().item(), 5 * values.std().item() / math.sqrt(len(values))


def test_mmd_gaussian_equals_cf_form_with_gaussian_frequencies():
    sigma = 1.5
    x, y = sample(40, 3), sample(30, 3, seed=2, shift=0.5, scale=1.3)
    gen = torch.Generator().manual_seed(3)
    t = sample_gaussian_frequencies(200_000, 3, sigma=sigma, generator=gen, dtype=F64)
    estimate, tolerance = cf_form(x, y, t)
    exact = mmd_gaussian(x, y, sigma).item()
    assert tolerance < 0.02 * exact
    assert estimate == pytest.approx(exact, abs=tolerance)


def test_cauchy_frequencies_give_product_laplace_kernel_mmd():
    scale = 4.0
    x, y = sample(30, 3), sample(25, 3, seed=2, shift=0.5, scale=1.3)
    gen = torch.Generator().manual_seed(4)
    t = sample_cauchy_frequencies(200_000, 3, scale=scale, generator=gen, dtype=F64)
    estimate, tolerance = cf_form(x, y, t)
    exact = ref_mmd(lambda u: math.exp(-np.abs(u).sum() / scale), x, y)
    assert tolerance < 0.02 * exact
    assert estimate == pytest.approx(exact, abs=tolerance)


def test_frequency_samplers_are_reproducible_and_shaped():
    for sampler in (sample_gaussian_frequencies, sample_cauchy_frequencies):
        a = sampler(5, 7, generator=torch.Generator().manual_seed(0))
        b = sampler(5, 7, generator=torch.Generator().manual_seed(0))
        assert a.shape == (5, 7) and a.dtype == torch.get_default_dtype()
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert sample_gaussian_frequencies(4, 2, dtype=F64).dtype == F64


# --- properties ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", MEASURES)
def test_zero_for_identical_samples(name):
    x = sample(20, 5)
    permuted = x[torch.randperm(20, generator=torch.Generator().manual_seed(5))]
    for y in (x, permuted):
        assert abs(MEASURES[name](x, y).item()) <= 2e-6  # ncfd's floor is sqrt(EPS) = 1e-6
    assert MEASURES[name](x, sample(20, 5, seed=2, shift=0.5)).item() > 1e-3


@pytest.mark.parametrize("name", MEASURES)
def test_symmetric(name):
    x, y = sample(20, 5), sample(13, 5, seed=2, shift=0.3, scale=1.4)
    assert MEASURES[name](x, y).item() == pytest.approx(MEASURES[name](y, x).item(), rel=1e-10)


def test_ncfd_invariant_to_common_translation():
    x, y, t = sample(20, 5), sample(13, 5, seed=2, shift=0.3, scale=1.4), freqs(64, 5)
    shift = sample(5, seed=3, scale=3.0)
    assert ncfd(x + shift, y + shift, t).item() == pytest.approx(ncfd(x, y, t).item(), rel=1e-9)


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_finite_gradients_where_samples_coincide(dtype):
    x = sample(16, 6).to(dtype).requires_grad_(True)
    y = x.detach().clone().requires_grad_(True)
    t = freqs(128, 6).to(dtype)
    for value in (ncfd(x, y, t), energy_distance(x, y)):
        grads = torch.autograd.grad(value, (x, y))
        assert all(torch.isfinite(g).all() for g in grads)
        if dtype == F64:  # a minimum: the gradient vanishes
            assert all(g.abs().max() < 1e-6 for g in grads)


@pytest.mark.parametrize("name", ["ncfd", "energy_distance"])
def test_gradients_match_finite_differences(name):
    x, y = sample(6, 3), sample(5, 3, seed=2, shift=0.3).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda y: MEASURES[name](x, y), (y,))


# --- batched (class-batched) forms -----------------------------------------------------------

def test_empirical_cf_batched_equals_per_class_loop():
    x = sample(3, 10, 4)
    for t in (freqs(8, 4), sample(3, 8, 4, seed=6)):
        re, im = empirical_cf(x, t)
        assert re.shape == im.shape == (3, 8)
        for b in range(3):
            re_b, im_b = empirical_cf(x[b], t if t.dim() == 2 else t[b])
            torch.testing.assert_close(re[b], re_b)
            torch.testing.assert_close(im[b], im_b)


BATCHED_MEASURES = {**MEASURES, "energy_distance_without_real_term":
                    lambda x, y: energy_distance(x, y, include_real_term=False)}


@pytest.mark.parametrize("name", BATCHED_MEASURES)
def test_batched_measures_equal_per_class_loop(name):
    measure = BATCHED_MEASURES[name]
    x, y = sample(3, 10, 4), sample(3, 6, 4, seed=2, shift=0.3)
    batched = measure(x, y)
    assert batched.shape == (3,)
    torch.testing.assert_close(batched, torch.stack([measure(x[b], y[b]) for b in range(3)]))


def test_ncfd_with_per_class_frequencies_equals_per_class_loop():
    x, y, t = sample(3, 10, 4), sample(3, 6, 4, seed=2, shift=0.3), sample(3, 16, 4, seed=6)
    looped = torch.stack([ncfd(x[b], y[b], t[b]) for b in range(3)])
    torch.testing.assert_close(ncfd(x, y, t), looped)


def test_the_public_module_re_exports_the_measures_with_their_equations():
    """``distillers.discrepancy`` is the documented name: the same functions, not copies."""
    import distillers._discrepancy as private
    import distillers.discrepancy as public

    for name in public.__all__:
        assert getattr(public, name) is getattr(private, name) and getattr(public, name).__doc__
        assert f"``{name}(" in public.__doc__  # each named, with its equation, in the module docstring
    x, y = sample(50, 3), sample(40, 3, seed=2, shift=1.0)
    assert float(public.energy_distance(x, y)) > float(public.energy_distance(x, sample(40, 3, seed=3)))
