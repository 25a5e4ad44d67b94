"""Distribution discrepancies between two samples of features (or flattened images), for use in
your own code: to compare two sets, or a set with the real data. The same functions the
distillers match with (re-exported from :mod:`distillers._discrepancy`, not copies); each one's
docstring gives its equation and shapes.

Samples are rows, x [n, d] and y [m, d] (leading batch dimensions broadcast: x [B, n, d] gives [B]);
frequencies t [k, d]. Phi_x(t) = 1/n sum_i exp(j <t, x_i>) is the empirical characteristic function (CF).

* ``empirical_cf(x, t)``: (Re Phi_x(t), Im Phi_x(t)), each [k] (NCFM eq. 5).
* ``cf_amplitude_phase(x, y, t)``: amplitude (|Phi_x| - |Phi_y|)^2 and phase
  2 |Phi_x| |Phi_y| (1 - cos(arg Phi_x - arg Phi_y)) per frequency; they sum to |Phi_x - Phi_y|^2 (NCFM eq. 7).
* ``ncfd(x, y, t, alpha)``: mean over t of sqrt(alpha amplitude + (1 - alpha) phase), NCFM's CF
  discrepancy (eq. 8), with t drawn from the frequency distribution (``sample_gaussian_frequencies``).
* ``sdd(x, y, t, alpha)``: mean over t of 2 (alpha amplitude + (1 - alpha) phase), CSDM's spectral
  distribution distance (eq. 6): at alpha = 1/2 the Monte Carlo estimate of the squared kernel MMD
  whose kernel has t's spectral measure.
* ``energy_distance(x, y)``: 2 E|X - Y| - E|X - X'| - E|Y - Y'| (V-statistic, Euclidean).
* ``mmd_gaussian(x, y, sigma)``: E k(x, x') + E k(y, y') - 2 E k(x, y), k(x, y) = exp(-|x - y|^2 / (2 sigma^2))
  (biased V-statistic of the squared MMD).
* ``mmd_linear(x, y)``: |mean_i x_i - mean_j y_j|^2, the linear-kernel squared MMD (DM's loss per class).
* ``sample_gaussian_frequencies(k, d, sigma)``: t ~ N(0, sigma^-2 I), the Gaussian kernel's spectral measure;
  ``sample_multivariate_cauchy_frequencies(k, d, scale)``: the Euclidean Laplace kernel's
  exp(-|x - y| / scale); ``sample_cauchy_frequencies(k, d, scale)``: the product (L1) Laplace kernel's.

Example (a set against the real images of the same dataset, in the normalised space)::

    from distillers.discrepancy import energy_distance, ncfd, sample_gaussian_frequencies
    x, y = real.flatten(1), synthetic.flatten(1)          # [n, d], [m, d]
    t = sample_gaussian_frequencies(1024, x.shape[1], sigma=x.shape[1] ** 0.5)
    print(float(energy_distance(x, y)), float(ncfd(x, y, t)))
"""

from distillers._discrepancy import (
    cf_amplitude_phase,
    empirical_cf,
    energy_distance,
    mmd_gaussian,
    mmd_linear,
    ncfd,
    sample_cauchy_frequencies,
    sample_gaussian_frequencies,
    sample_multivariate_cauchy_frequencies,
    sdd,
)

__all__ = ["cf_amplitude_phase", "empirical_cf", "energy_distance", "mmd_gaussian", "mmd_linear", "ncfd",
           "sample_cauchy_frequencies", "sample_gaussian_frequencies", "sample_multivariate_cauchy_frequencies", "sdd"]
