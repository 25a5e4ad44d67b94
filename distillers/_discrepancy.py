"""Distribution discrepancy measures between feature samples, for distribution-matching distillers.

Samples are rows: x [n, d] and y [m, d]. Every function also accepts leading batch dimensions
(x [B, n, d], y [B, m, d], frequencies [k, d] shared or [B, k, d] per batch entry; they broadcast)
and then returns one value per batch entry, so all classes can be matched in one call. Nothing
loops over samples or frequencies in Python, and everything is differentiable on any device.

Square roots go through ``_safe_sqrt``: sqrt(clamp(v, min=EPS)). Below EPS the value is
sqrt(EPS) = 1e-6 and the gradient is zero, so the gradient stays finite (at most
1/(2 sqrt(EPS)) times that of v) where the argument is zero, e.g. when x and y coincide.
"""

from __future__ import annotations

import torch

EPS = 1e-12


def _safe_sqrt(v: torch.Tensor) -> torch.Tensor:
    return v.clamp(min=EPS).sqrt()


def _sq_dists(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """|a_i - b_j|^2 for all pairs, [..., n, m], from one matmul (clamped at >= 0)."""
    sq_a = (a * a).sum(-1).unsqueeze(-1)
    sq_b = (b * b).sum(-1).unsqueeze(-2)
    return (sq_a + sq_b - 2 * a @ b.transpose(-1, -2)).clamp(min=0)


def euclidean_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """|a_i - b_j| for all pairs, [..., n, m] (``_safe_sqrt`` of the squared distances)."""
    return _safe_sqrt(_sq_dists(a, b))


def _pair_mean(pairwise, a: torch.Tensor, b: torch.Tensor, a_weights: torch.Tensor | None = None,
               b_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over all pairs (i, j) of the matrix ``pairwise(a, b)`` [..., n, m]; weights ([..., n],
    [..., m], each row summing to 1, zero on padding rows) replace the uniform means."""
    m = pairwise(a, b)
    m = m.mean(-1) if b_weights is None else (m * b_weights.unsqueeze(-2).to(m.dtype)).sum(-1)
    return m.mean(-1) if a_weights is None else (m * a_weights.to(m.dtype)).sum(-1)


def empirical_cf(x: torch.Tensor, t: torch.Tensor,
                 weights: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Empirical characteristic function Phi_x(t) = 1/n sum_i exp(j <t, x_i>) (NCFM eq. 5).

    x [n, d], t [k, d] -> (Re, Im), each [k]: Re = mean_i cos(<t, x_i>), Im = mean_i sin(<t, x_i>).
    Batched: x [B, n, d] with t [k, d] (shared) or [B, k, d] -> [B, k] each. ``weights`` ([n] or
    [B, n], each row summing to 1) replaces the mean by a weighted sum: with zero weight on
    padding rows, batch entries of different sample sizes share one padded tensor.
    """
    proj = x @ t.transpose(-1, -2)  # [..., n, k], computed once for cos and sin
    if weights is None:
        return proj.cos().mean(-2), proj.sin().mean(-2)
    w = weights.unsqueeze(-1).to(proj.dtype)
    return (w * proj.cos()).sum(-2), (w * proj.sin()).sum(-2)


def cf_amplitude_phase(x: torch.Tensor, y: torch.Tensor, t: torch.Tensor,
                       x_weights: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Amplitude and phase parts of |Phi_x(t) - Phi_y(t)|^2 per frequency (NCFM eq. 7).

    amplitude = (|Phi_x| - |Phi_y|)^2
    phase     = 2 |Phi_x| |Phi_y| (1 - cos(a_x - a_y)), computed as
                2 (|Phi_x| |Phi_y| - Re_x Re_y - Im_x Im_y) clamped at >= 0,
    so amplitude + phase = |Phi_x - Phi_y|^2. (Eq. 7 labels the amplitude term
    |Phi_x - Phi_y|^2, which is the sum, not this part.) Shapes as ``empirical_cf``: [k] or [B, k];
    ``x_weights`` are ``empirical_cf``'s weights for x.
    """
    re_x, im_x = empirical_cf(x, t, x_weights)
    re_y, im_y = empirical_cf(y, t)
    mod_x = _safe_sqrt(re_x**2 + im_x**2)
    mod_y = _safe_sqrt(re_y**2 + im_y**2)
    amplitude = (mod_x - mod_y) ** 2
    phase = (2 * (mod_x * mod_y - re_x * re_y - im_x * im_y)).clamp(min=0)
    return amplitude, phase


def ncfd(x: torch.Tensor, y: torch.Tensor, t: torch.Tensor, alpha: float = 0.5,
         x_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Characteristic function discrepancy (NCFM eq. 8) with frequencies t as samples of F_T.

    mean over t of sqrt(alpha * amplitude(t) + (1 - alpha) * phase(t)), parts from
    ``cf_amplitude_phase``. The square root is ``_safe_sqrt`` (see the module docstring): the
    value for identical samples is sqrt(EPS) = 1e-6, and gradients there are finite (zero).
    Returns a scalar, or [B] for batched inputs. Invariant to translating x and y together.
    ``x_weights`` as in ``empirical_cf`` (real classes of different sizes, padded).
    """
    amplitude, phase = cf_amplitude_phase(x, y, t, x_weights)
    return _safe_sqrt(alpha * amplitude + (1 - alpha) * phase).mean(-1)


def mmd_linear(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Linear-kernel MMD^2: |mean_i x_i - mean_j y_j|^2. Scalar, or [B] for batched inputs."""
    return ((x.mean(-2) - y.mean(-2)) ** 2).sum(-1)


def mmd_gaussian(x: torch.Tensor, y: torch.Tensor, sigma: float,
                 x_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Biased (V-statistic) Gaussian-kernel MMD^2: E k(x, x') + E k(y, y') - 2 E k(x, y).

    k(x, y) = exp(-|x - y|^2 / (2 sigma^2)); every expectation is the mean over all pairs,
    i = j included. By Bochner's theorem this equals E_t |Phi_x(t) - Phi_y(t)|^2 with
    t ~ ``sample_gaussian_frequencies(k, d, sigma)``. ``x_weights`` ([n] or [B, n], rows summing
    to 1, zero on padding) weight the x sample (padded real classes of different sizes). Scalar, or
    [B] for batched inputs.
    """
    def kernel(a, b):
        return torch.exp(-_sq_dists(a, b) / (2 * sigma**2))

    return (_pair_mean(kernel, x, x, x_weights, x_weights) + _pair_mean(kernel, y, y)
            - 2 * _pair_mean(kernel, x, y, x_weights))


def energy_distance(x: torch.Tensor, y: torch.Tensor, include_real_term: bool = True,
                    x_weights: torch.Tensor | None = None, distance=euclidean_distances) -> torch.Tensor:
    """Energy distance 2 E d(X, Y) - E d(X, X') - E d(Y, Y') (V-statistic), d Euclidean by default.

    Every expectation is the mean over all pairs, i = j included; Euclidean distances use
    ``_safe_sqrt``, so the gradient is finite at zero distance (the zero self-distances count
    sqrt(EPS) = 1e-6, lowering the value by 1e-6 (1/n + 1/m)). x is the real sample: with
    ``include_real_term=False`` the E d(X, X') term (no gradient for y, and O(n^2) cost) is
    skipped, giving 2 E d(X, Y) - E d(Y, Y'), which has the same gradient in y but is not itself
    a distance. ``x_weights`` ([n] or [B, n], rows summing to 1, zero on padding) weight the x
    sample. ``distance(a, b)`` -> [..., n, m] replaces the per-pair distance (e.g. a characteristic-
    function distance). Scalar, or [B] for batched inputs.
    """
    value = 2 * _pair_mean(distance, x, y, x_weights) - _pair_mean(distance, y, y)
    if include_real_term:
        value = value - _pair_mean(distance, x, x, x_weights, x_weights)
    return value


def sample_gaussian_frequencies(k: int, d: int, sigma: float = 1.0, generator: torch.Generator | None = None,
                                device=None, dtype: torch.dtype | None = None) -> torch.Tensor:
    """t ~ N(0, sigma^-2 I), [k, d]: the spectral measure of the Gaussian kernel
    exp(-|x - y|^2 / (2 sigma^2)), i.e. E_t cos(<t, x - y>) equals that kernel.
    ``generator`` must be on ``device``."""
    return torch.randn(k, d, generator=generator, device=device, dtype=dtype) / sigma


def sample_cauchy_frequencies(k: int, d: int, scale: float = 1.0, generator: torch.Generator | None = None,
                              device=None, dtype: torch.dtype | None = None) -> torch.Tensor:
    """t with independent Cauchy(0, 1/scale) coordinates, [k, d]: the spectral measure of the
    product Laplace kernel exp(-|x - y|_1 / scale) (L1 norm), since E cos(t_i u) = exp(-|u| / scale)
    per coordinate. (The spherical multivariate Cauchy would instead give exp(-|x - y|_2 / scale).)
    ``generator`` must be on ``device``."""
    return torch.empty(k, d, device=device, dtype=dtype).cauchy_(0.0, 1.0 / scale, generator=generator)


def sample_multivariate_cauchy_frequencies(k: int, d: int, scale: float = 1.0,
                                           generator: torch.Generator | None = None, device=None,
                                           dtype: torch.dtype | None = None) -> torch.Tensor:
    """t ~ multivariate Cauchy (Student t, 1 degree of freedom) with scale 1/scale, [k, d]: the
    spectral measure of the Laplace kernel exp(-|x - y|_2 / scale) (Euclidean norm), since
    E cos(<t, u>) = exp(-|u|_2 / scale). Drawn as g / |z| with g ~ N(0, scale^-2 I), z ~ N(0, 1).
    ``generator`` must be on ``device``."""
    g = torch.randn(k, d, generator=generator, device=device, dtype=dtype) / scale
    z = torch.randn(k, 1, generator=generator, device=device, dtype=dtype)
    return g / z.abs().clamp(min=EPS)


def sdd(x: torch.Tensor, y: torch.Tensor, t: torch.Tensor, alpha: float | torch.Tensor = 0.5,
        x_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Spectral Distribution Distance (CSDM eq. 6) with the class-aware split (CSDM sec. 4.2.4).

    mean over t of 2 (alpha * amplitude(t) + (1 - alpha) * phase(t)), parts from
    ``cf_amplitude_phase``. With t drawn from a shift-invariant kernel's normalised spectral
    measure (``sample_gaussian_frequencies`` for the Gaussian kernel,
    ``sample_multivariate_cauchy_frequencies`` for the Laplace kernel) this is the Monte Carlo
    estimate of E_t |Phi_x(t) - Phi_y(t)|^2, i.e. of the biased squared kernel MMD (Bochner,
    CSDM theorem 4.3); the factor 2 makes alpha = 1/2 exactly that estimate (amplitude + phase
    = |Phi_x - Phi_y|^2). No square root, unlike ``ncfd``: an L2 rather than L1 norm of the CF
    difference (CSDM appendix A.3). Any alpha in (0, 1) keeps it zero only when the CFs agree
    (proposition A.5). ``alpha`` is a float or one value per batch entry ([B], e.g. one per
    class). ``x_weights`` as in ``empirical_cf`` (real classes of different sizes, padded).
    Returns a scalar, or [B] for batched inputs.
    """
    amplitude, phase = cf_amplitude_phase(x, y, t, x_weights)
    alpha = torch.as_tensor(alpha, dtype=amplitude.dtype, device=amplitude.device).unsqueeze(-1)
    return 2 * (alpha * amplitude + (1 - alpha) * phase).mean(-1)
