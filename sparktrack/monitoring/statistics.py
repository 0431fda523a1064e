"""Drift statistics between a comparison side (a baseline, or the previous window) and a window,
for one column, from summaries that Spark aggregations produce in one pass each: exact counts per
category for a categorical column, and counts per bin of one shared binning for a numeric column.
numpy only; scipy is not a runtime dependency (tests check every statistic against it).

Categorical columns (exact: the counts are exact, so these equal scipy's to rounding):

- ``chi_squared_test``: Pearson's test of homogeneity on the 2 x k table of category counts
  (categories seen on either side), as ``scipy.stats.chi2_contingency(table, correction=False)``;
  p-value from the chi-squared survival function, computed here as the regularized upper gamma
  function Q(dof/2, x/2) (series and continued fraction, relative error ~1e-14).
- ``tv_distance`` (½ Σ|p−q|), ``l_infinity_distance`` (max |p−q|) and ``js_distance`` (the square
  root of the Jensen-Shannon divergence in bits, as ``scipy.spatial.distance.jensenshannon(p, q,
  base=2)``), over the categories' proportions among non-null values; and the
  ``population_stability_index`` over the same proportions, floored as for a numeric column.

Numeric columns, from counts on shared bins (approximate; each row carries its own bound):

- The bins' edges are quantiles of all the values being compared (``percentile_approx``), so each
  bin holds about 1/bins of the values, and each quantile q also bounds a bin ``[q, next float
  after q)`` that holds the value q alone, so point masses (ties, discrete columns) are counted
  exactly. Bin i is ``[e_i, e_i+1)``; the counts are exact.
- ``ks_test``: the statistic is max |F1 − F2| over the edges, where the empirical CDFs are exact;
  it is a lower bound of the true statistic D. Inside a bin each CDF stays between its values at
  the bin's ends, so D ≤ max_i max(F1(e_i+1) − F2(e_i), F2(e_i+1) − F1(e_i)) (for a one-value
  bin, |F1(e_i+1) − F2(e_i+1)|: a discrete column's statistic is exact). The row's
  ``bounds.ks_statistic`` is that upper bound less the statistic (at most the largest bin mass of
  either side, ~1/bins when the sides look like the pool). The p-value is Kolmogorov's limiting
  distribution at sqrt(nm/(n+m))·D (``scipy.stats.kstwobign.sf``), the asymptotic p-value.
- ``wasserstein_distance``: ∫|F1 − F2| with each CDF interpolated linearly inside a bin (values
  spread evenly across it). The true distance lies between Σ width_i · (the least |F1 − F2| the
  bin's end values allow) and Σ width_i · (the most); ``bounds.wasserstein_distance`` is the
  larger gap from the estimate to either.
- ``population_stability_index``: Σ (q−p) ln(q/p) over the pooled deciles (every
  ``bins/10``-th shared edge), with each proportion floored at ``PSI_FLOOR`` (not renormalized);
  exact for those bins.

``p`` is the comparison side (baseline or previous window), ``q`` the window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

#: Floor of a bin's proportion in the PSI, so that an empty bin does not make it infinite.
PSI_FLOOR = 1e-4
#: Bins the PSI groups the shared bins into (pooled deciles).
PSI_BINS = 10


@dataclass(frozen=True)
class TestResult:
    statistic: float
    pvalue: float


# -- categorical --------------------------------------------------------------------------------

def _aligned(baseline: Mapping[str, int], window: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
    keys = sorted(set(baseline) | set(window), key=str)
    return (np.array([baseline.get(k, 0) for k in keys], dtype=float),
            np.array([window.get(k, 0) for k in keys], dtype=float))


def _proportions(baseline: Mapping[str, int], window: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray] | None:
    p, q = _aligned(baseline, window)
    if p.sum() == 0 or q.sum() == 0:
        return None
    return p / p.sum(), q / q.sum()


def chi_squared_test(baseline: Mapping[str, int], window: Mapping[str, int]) -> TestResult | None:
    """Pearson's chi-squared test that both sides' category counts come from one distribution
    (None when a side has no values, or only one category is seen)."""
    p, q = _aligned(baseline, window)
    table = np.vstack([p, q])
    total = table.sum()
    if p.sum() == 0 or q.sum() == 0 or table.shape[1] < 2:
        return None
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / total
    statistic = float(((table - expected) ** 2 / expected).sum())
    dof = table.shape[1] - 1
    return TestResult(statistic, chi2_sf(statistic, dof))


def tv_distance(baseline: Mapping[str, int], window: Mapping[str, int]) -> float | None:
    found = _proportions(baseline, window)
    return None if found is None else float(0.5 * np.abs(found[0] - found[1]).sum())


def l_infinity_distance(baseline: Mapping[str, int], window: Mapping[str, int]) -> float | None:
    found = _proportions(baseline, window)
    return None if found is None else float(np.abs(found[0] - found[1]).max())


def js_distance(baseline: Mapping[str, int], window: Mapping[str, int]) -> float | None:
    """Jensen-Shannon distance, base 2 (0 for equal distributions, 1 for disjoint ones)."""
    found = _proportions(baseline, window)
    if found is None:
        return None
    p, q = found
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        kept = a > 0
        return float((a[kept] * np.log2(a[kept] / m[kept])).sum())

    return math.sqrt(max(0.0, (kl(p) + kl(q)) / 2))


# -- numeric, on shared bins ------------------------------------------------------------------

@dataclass(frozen=True)
class Binned:
    """Counts of one column's non-null values per shared bin: ``counts[i]`` values in
    ``[edges[i], edges[i+1])`` (``len(counts) == len(edges) - 1``; the last edge is above every
    value)."""

    edges: np.ndarray
    counts: np.ndarray

    @property
    def n(self) -> int:
        return int(self.counts.sum())


@dataclass(frozen=True)
class Approximation:
    value: float
    bound: float  # the true value is within ±bound (or, for the KS statistic, in [value, value + bound])


def _cdfs(baseline: Binned, window: Binned) -> tuple[np.ndarray, np.ndarray]:
    """Each side's empirical CDF at the edges: F(e_i) = share of values below e_i."""
    f1 = np.concatenate([[0.0], np.cumsum(baseline.counts)]) / baseline.n
    f2 = np.concatenate([[0.0], np.cumsum(window.counts)]) / window.n
    return f1, f2


def ks_test(baseline: Binned, window: Binned) -> tuple[TestResult, float] | None:
    """The two-sample Kolmogorov-Smirnov test and the bound of its statistic (see the module's
    docstring); None when a side has no values."""
    if baseline.n == 0 or window.n == 0:
        return None
    f1, f2 = _cdfs(baseline, window)
    statistic = float(np.abs(f1 - f2).max())
    within = np.maximum(f1[1:] - f2[:-1], f2[1:] - f1[:-1])
    point = baseline.edges[1:] == np.nextafter(baseline.edges[:-1], np.inf)  # bins holding one value
    upper = float(np.where(point, np.abs(f1[1:] - f2[1:]), within).max())
    upper = max(upper, statistic)
    en = baseline.n * window.n / (baseline.n + window.n)
    return TestResult(statistic, kolmogorov_sf(math.sqrt(en) * statistic)), upper - statistic


def wasserstein_distance(baseline: Binned, window: Binned) -> Approximation | None:
    """The first Wasserstein distance, with its bound (see the module's docstring)."""
    if baseline.n == 0 or window.n == 0:
        return None
    f1, f2 = _cdfs(baseline, window)
    widths = np.diff(baseline.edges.astype(float))
    finite = np.isfinite(widths)
    widths = np.where(finite, widths, 0.0)  # open outer bins hold no values (edges span both sides)
    a, b = f1[:-1] - f2[:-1], f1[1:] - f2[1:]  # the difference at each bin's ends
    estimate = float((widths * _mean_abs_linear(a, b)).sum())
    low = widths * np.maximum.reduce([np.zeros_like(a), f1[:-1] - f2[1:], f2[:-1] - f1[1:]])
    high = widths * np.maximum(np.abs(f1[1:] - f2[:-1]), np.abs(f2[1:] - f1[:-1]))
    low_sum, high_sum = float(low.sum()), float(high.sum())
    return Approximation(estimate, max(estimate - low_sum, high_sum - estimate, 0.0))


def _mean_abs_linear(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The mean of |x| over a linear segment from a to b."""
    same = (a * b) >= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing = (a * a + b * b) / (2 * (np.abs(a) + np.abs(b)))
    return np.where(same, (np.abs(a) + np.abs(b)) / 2, np.nan_to_num(crossing))


def psi_edges(edges: np.ndarray) -> np.ndarray:
    """The PSI's edges: every (bins/10)-th shared edge, and the last one."""
    step = max(1, (len(edges) - 1) // PSI_BINS)
    picked = edges[::step]
    return picked if picked[-1] == edges[-1] else np.append(picked, edges[-1])


def population_stability_index(baseline: Binned, window: Binned) -> float | None:
    if baseline.n == 0 or window.n == 0:
        return None
    coarse = psi_edges(baseline.edges)
    index = np.searchsorted(coarse, baseline.edges[:-1], side="right") - 1
    p = np.bincount(index, weights=baseline.counts, minlength=len(coarse) - 1) / baseline.n
    q = np.bincount(index, weights=window.counts, minlength=len(coarse) - 1) / window.n
    return psi_from_proportions(p, q)


def categorical_psi(baseline: Mapping[str, int], window: Mapping[str, int]) -> float | None:
    """The PSI over the categories (seen on either side), with the same floor."""
    found = _proportions(baseline, window)
    return None if found is None else psi_from_proportions(*found)


def psi_from_proportions(p: Sequence[float], q: Sequence[float]) -> float:
    """The PSI of two proportion vectors on the same bins, with the same floor."""
    p, q = np.maximum(np.asarray(p, float), PSI_FLOOR), np.maximum(np.asarray(q, float), PSI_FLOOR)
    return float(((q - p) * np.log(q / p)).sum())


# -- distributions ----------------------------------------------------------------------------

def kolmogorov_sf(x: float) -> float:
    """P(K > x) for Kolmogorov's distribution (the limit of sqrt(n)·D_n)."""
    if x <= 0:
        return 1.0
    if x < 1.18:  # the theta-function form converges fast here
        t = math.exp(-math.pi ** 2 / (8 * x * x))
        cdf = math.sqrt(2 * math.pi) / x * sum(t ** ((2 * k - 1) ** 2) for k in range(1, 8))
        return min(1.0, max(0.0, 1.0 - cdf))
    total = sum((-1) ** (k - 1) * math.exp(-2 * k * k * x * x) for k in range(1, 101))
    return min(1.0, max(0.0, 2 * total))


def chi2_sf(x: float, dof: int) -> float:
    """P(X > x) for a chi-squared variable with ``dof`` degrees of freedom."""
    if x <= 0:
        return 1.0
    return _gammaq(dof / 2.0, x / 2.0)


def _gammaq(a: float, x: float) -> float:
    """The regularized upper incomplete gamma function Q(a, x) (Numerical Recipes' gammq)."""
    log_prefix = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1:  # series for P, then Q = 1 - P
        term = total = 1.0 / a
        ap = a
        for _ in range(10_000):
            ap += 1
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-16:
                break
        return max(0.0, 1.0 - total * math.exp(log_prefix))
    tiny = 1e-300  # Lentz's continued fraction for Q
    b = x + 1 - a
    c, d = 1 / tiny, 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-16:
            break
    return min(1.0, math.exp(log_prefix) * h)
