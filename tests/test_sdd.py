"""The Spectral Distribution Distance (CSDM eq. 6): Monte Carlo convergence to the closed-form
kernel MMD (Gaussian and Laplace kernels) and proposition A.5 (any alpha in (0, 1) vanishes only
for identical samples)."""

import pytest
import torch

from distillers._discrepancy import sample_gaussian_frequencies, sample_multivariate_cauchy_frequencies, sdd

F64 = torch.float64


def sample(*shape, seed=0, shift=0.0, scale=1.0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen, dtype=F64) * scale + shift


def closed_form_mmd2(kernel, x, y):
    """Biased squared MMD from the kernel matrix: mean k(x, x') + mean k(y, y') - 2 mean k(x, y)."""
    def pair_mean(a, b):
        return kernel(torch.cdist(a, b)).mean()

    return pair_mean(x, x) + pair_mean(y, y) - 2 * pair_mean(x, y)


KERNELS = {
    # name: (kernel of the Euclidean distance, spectral sampler), bandwidth 1.5
    "gaussian": (lambda r: torch.exp(-r**2 / (2 * 1.5**2)), lambda k, d, g: sample_gaussian_frequencies(
        k, d, 1.5, generator=g, dtype=F64)),
    "laplace": (lambda r: torch.exp(-r / 1.5), lambda k, d, g: sample_multivariate_cauchy_frequencies(
        k, d, 1.5, generator=g, dtype=F64)),
}


@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_sdd_converges_to_the_closed_form_kernel_mmd(kernel):
    fn, sampler = KERNELS[kernel]
    x, y = sample(30, 4, seed=0), sample(25, 4, seed=1, shift=0.4, scale=1.3)
    exact = closed_form_mmd2(fn, x, y).item()
    assert exact > 0.01

    def mean_error(k, draws=8):
        errors = [abs(sdd(x, y, sampler(k, 4, torch.Generator().manual_seed(s))).item() - exact)
                  for s in range(draws)]
        return sum(errors) / draws

    coarse, fine = mean_error(100), mean_error(100_000)
    assert fine < coarse / 5  # Monte Carlo error shrinks like 1/sqrt(k): about 30x here
    assert fine < 0.03 * exact


def test_sdd_alpha_half_is_the_full_cf_distance_and_alpha_is_per_batch_entry():
    x, y = sample(3, 20, 5, seed=2), sample(3, 15, 5, seed=3, shift=0.3)
    t = sample_gaussian_frequencies(64, 5, generator=torch.Generator().manual_seed(4), dtype=F64)
    alphas = torch.tensor([0.1, 0.5, 0.9], dtype=F64)
    batched = sdd(x, y, t, alphas)
    assert batched.shape == (3,)
    for b in range(3):
        assert torch.allclose(batched[b], sdd(x[b], y[b], t, alphas[b].item()))
    # alpha = 1/2 is E_t |Phi_x - Phi_y|^2 written with complex numbers
    proj_x, proj_y = torch.exp(1j * (x[0] @ t.T)).mean(0), torch.exp(1j * (y[0] @ t.T)).mean(0)
    assert torch.allclose(sdd(x[0], y[0], t), ((proj_x - proj_y).abs() ** 2).mean())


ALPHAS = [0.01, 0.25, 0.5, 0.75, 0.99]


@pytest.mark.parametrize("alpha", ALPHAS)
def test_sdd_is_zero_only_for_identical_samples(alpha):
    """Proposition A.5: with alpha in (0, 1), a difference only in phase (a translation: equal CF
    moduli) or only in amplitude (symmetric samples of different spread: real, positive CFs near
    the origin) is still detected; identical samples give zero."""
    t = sample_gaussian_frequencies(512, 3, sigma=4.0, generator=torch.Generator().manual_seed(5), dtype=F64)
    x = sample(40, 3, seed=6)
    symmetric = torch.cat([x, -x])
    phase_only, amplitude_only = x + 0.5, 1.5 * symmetric
    assert sdd(x, x, t, alpha).abs().item() < 1e-12
    assert sdd(x, phase_only, t, alpha).item() > 1e-4
    assert sdd(symmetric, amplitude_only, t, alpha).item() > 1e-4
    # the endpoints are blind to one part, which is why proposition A.5 needs the open interval
    assert sdd(x, phase_only, t, 1.0).item() < 1e-12
    assert sdd(symmetric, amplitude_only, t, 0.0).item() < 1e-6


def test_sdd_gradient_is_finite_for_identical_samples():
    x = sample(10, 3, seed=7).requires_grad_(True)
    t = sample_gaussian_frequencies(32, 3, generator=torch.Generator().manual_seed(8), dtype=F64)
    sdd(x, x.detach(), t, 0.3).backward()
    assert torch.isfinite(x.grad).all()


def test_padded_classes_with_weights_match_each_class_alone():
    """Real classes of different sizes padded into one tensor give each class's own SDD."""
    sizes = [7, 3, 5]
    real = [sample(n, 4, seed=10 + i) for i, n in enumerate(sizes)]
    syn = sample(3, 2, 4, seed=20)
    padded = torch.full((3, max(sizes), 4), 123.0, dtype=F64)  # padding rows must not count
    weights = torch.zeros(3, max(sizes), dtype=F64)
    for i, r in enumerate(real):
        padded[i, :len(r)], weights[i, :len(r)] = r, 1.0 / len(r)
    t = sample_gaussian_frequencies(50, 4, generator=torch.Generator().manual_seed(9), dtype=F64)
    alphas = torch.tensor([0.2, 0.5, 0.8], dtype=F64)
    batched = sdd(padded, syn, t, alphas, x_weights=weights)
    for i, r in enumerate(real):
        assert torch.allclose(batched[i], sdd(r, syn[i], t, alphas[i].item()))
