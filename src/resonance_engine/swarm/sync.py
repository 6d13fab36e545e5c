"""Complexity synchronization (CS): how alike the agents' complexity series move.

Two measures:

1. **Windowed Pearson CS** (:class:`RunningCorrelation`): the mean pairwise Pearson
   correlation of the agents' series (CI, or D) over the last ``window`` ticks. It is
   updated incrementally from running sums (sum x_i and sum x_i x_j over the window), so a
   tick costs O(agents^2) whatever the window length. The sums are taken about a fixed
   shift (the first sample) and recomputed exactly every 16 windows, which bounds the
   rounding drift of the add-new/subtract-old updates (amortized cost still O(agents^2)).

2. **MDEA-based CS** (:func:`mdea_synchronization`), after the complexity-synchronization
   literature (Mahmoodi, West & Grigolini; Culbreth, West & Grigolini, "Entropic approach to
   the detection of crucial events", 2019): each agent's series is turned into crucial
   events (the series crossing from one stripe of its range to another), the events into a
   diffusion trajectory (rule 1: the walker steps +1 at each event), and the Shannon entropy
   of the displacement distribution over windows of length l grows as S(l) = A + delta ln l.
   The scaling index delta is measured in sliding windows of each agent's series, and CS is
   the mean pairwise Pearson correlation of the agents' delta series. (For events of a
   renewal process with waiting-time index mu in (2, 3), delta = 1 / (mu - 1); Poisson-like
   events give delta = 1/2.)

MDEA parameters and their defaults (:class:`MDEAConfig`), chosen against renewal theory
(tests/swarm/test_sync.py): ``stripe`` = 0.1 (stripe width as a fraction of the series'
range), rule 1 (the walker steps +1 at each event), the Shannon entropy of the integer
displacements over all overlapping windows of length l, and a least-squares fit of
S(l) = A + delta ln l over ``n_lengths`` = 20 lengths log-spaced from ``min_length`` = 10
to ``max_fraction`` = 5 % of the series. Below about 10 samples S(l) has not reached its
scaling regime (a window holds zero or one event); above a few percent of the series the
overlapping windows are too few independent samples and S(l) bends down. With these
defaults, 50,000-sample renewal signals (psi(t) = (mu-1) T^(mu-1) / (T+t)^mu, T = 1 sample)
of mu = 2.2, 2.5, 2.8 give delta = 0.80, 0.70, 0.62 (median of 3 series; theory 0.83,
0.67, 0.56) and white noise 0.50 +- 0.02. Processes whose waiting times are never shorter
than one sample (Pareto, minimum 1) reach the scaling regime later: the same estimator
gives 0.66, 0.68, 0.63 for them at 50,000 samples (not ordered): MDEA needs long series.

The fit range is one decade [10, 100] only from ``window`` = 2000 samples on, the
default of the sliding windows (moved by ``hop`` = 500) of the MDEA-CS; shorter windows
make delta noisy. The peer implementation, pymdea, does not install here (every release
requires ``typing>=3.10``, which does not exist on PyPI), so the estimator is checked
against renewal theory instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from resonance_engine.errors import ConfigError, MetricError

__all__ = [
    "RunningCorrelation",
    "mean_pairwise_correlation",
    "MDEAConfig",
    "MDEAResult",
    "MDEASync",
    "mdea_delta",
    "mdea_delta_series",
    "mdea_synchronization",
    "series_cs",
    "surrogate_test",
    "SurrogateTest",
]


_TINY = float(np.finfo(float).tiny)


def _correlation_from_sums(
    count: int, sums: np.ndarray, products: np.ndarray
) -> np.ndarray:
    """Pearson matrix from n, sum x_i and sum x_i x_j (NaN where a series is constant)."""
    cov = count * products - np.multiply.outer(sums, sums)
    var = np.diagonal(cov).copy()
    scale = count * np.abs(np.diagonal(products))
    var[var <= 1e-10 * np.maximum(scale, np.finfo(float).tiny)] = np.nan
    std = np.sqrt(var)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.multiply.outer(std, std)
    return np.clip(corr, -1.0, 1.0)


def mean_pairwise_correlation(corr: np.ndarray) -> float:
    """Mean of the defined (finite) off-diagonal entries i < j of a correlation matrix;
    NaN when there is none."""
    n = corr.shape[0]
    upper = corr[np.triu_indices(n, 1)]
    upper = upper[np.isfinite(upper)]
    return float(upper.mean()) if upper.size else math.nan


class RunningCorrelation:
    """Pearson correlations of ``n`` series over their last ``window`` samples.

    Parameters
    ----------
    n : int
        Number of series (agents), >= 2.
    window : int
        Samples kept, >= 3.
    recompute_every : int, optional
        Pushes between exact recomputations of the sums from the window (default: 16
        windows), which bound the drift of the add/subtract updates; amortized, it adds
        O(window n^2 / recompute_every) per tick.
    groups : int, optional
        Track ``groups`` independent sets of n series at once (e.g. the agents' CI and
        their D): samples then have shape (groups, n), :meth:`mean` returns shape
        (groups,) and :meth:`matrix` (groups, n, n). One set of array operations serves
        every group, which matters when n is small.

    Examples
    --------
    >>> rc = RunningCorrelation(2, window=4)
    >>> for x in ([0, 0], [1, 2], [2, 4], [3, 6], [4, 8]):
    ...     rc.push(np.array(x, dtype=float))
    >>> round(rc.mean(), 6)
    1.0
    """

    def __init__(
        self, n: int, window: int, recompute_every: int | None = None,
        groups: int | None = None,
    ) -> None:
        if n < 2:
            raise ConfigError(f"correlation needs at least 2 series, got n = {n}")
        if window < 3:
            raise ConfigError(f"correlation window must be >= 3 samples, got {window}")
        if groups is not None and groups < 1:
            raise ConfigError(f"groups must be None or >= 1, got {groups}")
        self.n = int(n)
        self.window = int(window)
        self.groups = groups
        self.recompute_every = int(recompute_every or 16 * self.window)
        if self.recompute_every < 1:
            raise ConfigError(f"recompute_every must be >= 1, got {recompute_every}")
        g = groups or 1
        self._shape = (self.n,) if groups is None else (g, self.n)
        self._buf = np.zeros((self.window, g, self.n))
        self._shift: np.ndarray | None = None
        self._sums = np.zeros((g, self.n))
        self._products = np.zeros((g, self.n, self.n))
        # a view: _products is only ever updated in place
        self._diag = np.diagonal(self._products, axis1=1, axis2=2)
        self._outer = np.empty((g, self.n, self.n))
        self._pair = np.zeros((g, 2, self.n))  # rows: new sample, minus the leaving one
        self._pair_t = np.zeros((g, self.n, 2))  # columns: new sample, leaving sample
        self._xs = np.zeros((g, self.n))
        self._pos = 0
        self.count = 0
        self.pushed = 0

    def push(self, x: np.ndarray) -> None:
        """Add one sample of every series (shape (n,), or (groups, n)); the oldest leaves a
        full window.

        Cost O(n^2): the products change by the rank-2 term x x^T - old old^T, applied as
        one (n, 2) @ (2, n) product per group.
        """
        x = np.asarray(x, dtype=np.float64)
        if x.shape != self._shape:
            raise MetricError(f"expected a sample of shape {self._shape}, got {x.shape}")
        x = x.reshape(self._xs.shape)
        if self._shift is None:
            self._shift = np.where(np.isfinite(x), x, 0.0)
        xs = self._xs
        np.subtract(x, self._shift, out=xs)
        pair, pair_t = self._pair, self._pair_t
        if self.count == self.window:
            old = self._buf[self._pos]
            self._sums += xs
            self._sums -= old
            pair_t[:, :, 1] = old
            np.negative(old, out=pair[:, 1])
        else:
            self.count += 1
            self._sums += xs
            pair[:, 1] = 0.0
            pair_t[:, :, 1] = 0.0
        pair[:, 0] = xs
        pair_t[:, :, 0] = xs
        np.matmul(pair_t, pair, out=self._outer)
        self._products += self._outer
        self._buf[self._pos] = xs
        self._pos = (self._pos + 1) % self.window
        self.pushed += 1
        if self.pushed % self.recompute_every == 0:  # exact sums: bound the rounding drift
            window = self._buf[: self.count]
            self._sums[:] = window.sum(axis=0)
            np.matmul(window.transpose(1, 2, 0), window.transpose(1, 0, 2), out=self._products)

    def matrix(self) -> np.ndarray:
        """The (n, n) correlation matrix over the window (NaN for constant series);
        (groups, n, n) with groups."""
        g = self._sums.shape[0]
        if self.count < 3:
            out = np.full((g, self.n, self.n), np.nan)
        else:
            out = np.stack([
                _correlation_from_sums(self.count, self._sums[k], self._products[k])
                for k in range(g)
            ])
        return out[0] if self.groups is None else out

    def mean(self) -> Any:
        """Mean pairwise correlation over i < j (the CS score); NaN before 3 samples. A
        float, or an array of shape (groups,) with groups.

        Computed without forming the matrix: with C = n Q - S S^T and s_i = 1/sqrt(C_ii)
        over the non-constant series, sum_ij r_ij = s^T C s = n s^T Q s - (s . S)^2, so the
        mean over pairs is (s^T C s - m) / (m (m - 1)) for m valid series: one O(n^2)
        matrix-vector product per group.
        """
        g = self._sums.shape[0]
        if self.count < 3:
            return math.nan if self.groups is None else np.full(g, np.nan)
        count = self.count
        sums = self._sums
        diag = self._diag
        var = count * diag - sums * sums
        valid = var > 1e-10 * count * np.abs(diag) + _TINY
        m = np.count_nonzero(valid, axis=1)
        s = np.where(valid, 1.0 / np.sqrt(np.maximum(var, _TINY)), 0.0)
        quad = np.matmul(self._products, s[:, :, None])[:, :, 0]
        total = count * np.einsum("gi,gi->g", s, quad) - np.einsum("gi,gi->g", s, sums) ** 2
        with np.errstate(invalid="ignore", divide="ignore"):
            result = np.where(m >= 2, (total - m) / (m * (m - 1.0)), np.nan)
        return float(result[0]) if self.groups is None else result

    def per_series(self) -> np.ndarray:
        """Mean correlation of each series with the others: shape (n,), or (groups, n)."""
        corr = self.matrix()
        corr = corr[None] if self.groups is None else corr.copy()
        idx = np.arange(self.n)
        corr[:, idx, idx] = np.nan
        defined = np.isfinite(corr)
        count = defined.sum(axis=2)
        total = np.where(defined, corr, 0.0).sum(axis=2)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        return out[0] if self.groups is None else out

    def window_values(self) -> np.ndarray:
        """The samples in the window, oldest first: shape (count, n), or (count, groups, n)."""
        shift = self._shift if self._shift is not None else 0.0
        if self.count < self.window:
            values = self._buf[: self.count] + shift
        else:
            values = np.roll(self._buf, -self._pos, axis=0) + shift
        return values[:, 0] if self.groups is None else values


# ---------------------------------------------------------------------------- MDEA
@dataclass(frozen=True)
class MDEAConfig:
    """Parameters of the MDEA scaling index (see the module docstring)."""

    stripe: float = 0.1
    min_length: int = 10
    max_fraction: float = 0.05
    n_lengths: int = 20
    window: int = 2000
    hop: int = 500

    def __post_init__(self) -> None:
        if not 0 < self.stripe <= 1:
            raise ConfigError(f"MDEA stripe must be in (0, 1] of the range, got {self.stripe}")
        if self.min_length < 1 or self.n_lengths < 3:
            raise ConfigError("MDEA needs min_length >= 1 and n_lengths >= 3")
        if not 0 < self.max_fraction <= 0.5:
            raise ConfigError(f"MDEA max_fraction must be in (0, 0.5], got {self.max_fraction}")
        if self.window < 16 or self.hop < 1:
            raise ConfigError(
                f"MDEA window must be >= 16 and hop >= 1, got {self.window}, {self.hop}"
            )


@dataclass(frozen=True)
class MDEAResult:
    """The scaling index of one series: delta, the fit's R^2, and the S(l) curve."""

    delta: float
    r2: float
    events: int
    lengths: np.ndarray
    entropy: np.ndarray


def _events(series: np.ndarray, stripe: float) -> np.ndarray:
    lo, hi = float(series.min()), float(series.max())
    if not hi > lo:
        return np.zeros(series.size, dtype=bool)
    width = stripe * (hi - lo)
    level = np.minimum(np.floor((series - lo) / width), math.ceil(1 / stripe) - 1)
    events = np.zeros(series.size, dtype=bool)
    events[1:] = level[1:] != level[:-1]
    return events


def mdea_delta(series: np.ndarray, config: MDEAConfig | None = None) -> MDEAResult:
    """MDEA scaling index delta of one series.

    Parameters
    ----------
    series : ndarray, shape (T,)
        The signal (e.g. an agent's CI per tick); T >= 16, finite.
    config : MDEAConfig, optional
        ``stripe``, ``min_length``, ``max_fraction`` and ``n_lengths`` are used.

    Returns
    -------
    MDEAResult
        ``delta`` is NaN when the series has no events (constant) or too few lengths.

    Examples
    --------
    Poisson-like events (white noise crossing stripes) diffuse normally, delta = 1/2:

    >>> x = np.random.default_rng(0).normal(size=20000)
    >>> round(mdea_delta(x).delta, 1)
    0.5
    """
    cfg = config or MDEAConfig()
    x = np.asarray(series, dtype=np.float64)
    if x.ndim != 1 or x.size < 16:
        raise MetricError(f"MDEA needs a 1-D series of >= 16 samples, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise MetricError("MDEA series holds NaN or inf; drop or fill them first")
    events = _events(x, cfg.stripe)
    trajectory = np.concatenate(([0], np.cumsum(events)))
    top = max(cfg.min_length + 2, int(cfg.max_fraction * x.size))
    lengths = np.unique(np.geomspace(cfg.min_length, top, cfg.n_lengths).astype(int))
    entropy = np.empty(lengths.size)
    for k, length in enumerate(lengths):
        jumps = trajectory[length:] - trajectory[:-length]
        p = np.bincount(jumps) / jumps.size
        p = p[p > 0]
        entropy[k] = -float(np.sum(p * np.log(p)))
    n_events = int(events.sum())
    if n_events == 0 or lengths.size < 3:
        return MDEAResult(math.nan, math.nan, n_events, lengths, entropy)
    logl = np.log(lengths)
    slope, intercept = np.polyfit(logl, entropy, 1)
    resid = entropy - (slope * logl + intercept)
    total = float(np.sum((entropy - entropy.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / total if total > 0 else math.nan
    return MDEAResult(float(slope), r2, n_events, lengths, entropy)


def mdea_delta_series(series: np.ndarray, config: MDEAConfig | None = None) -> np.ndarray:
    """delta of ``series`` in sliding windows (``config.window`` long, ``config.hop`` apart).

    Returns
    -------
    ndarray, shape (m,)
        One delta per window start 0, hop, 2 hop, ... (m = 1 + (T - window) // hop).
    """
    cfg = config or MDEAConfig()
    x = np.asarray(series, dtype=np.float64)
    if x.size < cfg.window:
        raise MetricError(
            f"MDEA sliding windows need a series of >= {cfg.window} samples, got {x.size}; "
            "run more ticks or lower MDEAConfig.window"
        )
    starts = range(0, x.size - cfg.window + 1, cfg.hop)
    return np.array([mdea_delta(x[s : s + cfg.window], cfg).delta for s in starts])


@dataclass(frozen=True)
class MDEASync:
    """MDEA-based complexity synchronization of a set of series.

    Attributes
    ----------
    score : float
        Mean pairwise Pearson correlation of the delta series (NaN if undefined).
    deltas : ndarray, shape (m, n)
        delta of each of the n series in each of the m sliding windows.
    mean_delta : ndarray, shape (n,)
        delta of each whole series.
    """

    score: float
    deltas: np.ndarray
    mean_delta: np.ndarray


def mdea_synchronization(series: np.ndarray, config: MDEAConfig | None = None) -> MDEASync:
    """MDEA-CS of ``series`` of shape (T, n): correlate the agents' sliding-window deltas.

    At least 3 windows are needed (T >= window + 2 hop).
    """
    cfg = config or MDEAConfig()
    x = np.asarray(series, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < 2:
        raise MetricError(f"MDEA-CS needs series of shape (T, n >= 2), got {x.shape}")
    if x.shape[0] < cfg.window + 2 * cfg.hop:
        raise MetricError(
            f"MDEA-CS needs >= window + 2 hop = {cfg.window + 2 * cfg.hop} samples, got "
            f"{x.shape[0]}; run more ticks or lower MDEAConfig.window/hop"
        )
    deltas = np.stack([mdea_delta_series(x[:, i], cfg) for i in range(x.shape[1])], axis=1)
    whole = np.array([mdea_delta(x[:, i], cfg).delta for i in range(x.shape[1])])
    ok = np.isfinite(deltas).all(axis=1)
    rows = deltas[ok]
    if rows.shape[0] < 3:
        return MDEASync(math.nan, deltas, whole)
    sums = rows.sum(axis=0)
    products = rows.T @ rows
    score = mean_pairwise_correlation(_correlation_from_sums(rows.shape[0], sums, products))
    return MDEASync(score, deltas, whole)


# ---------------------------------------------------------------------------- surrogates
@dataclass(frozen=True)
class SurrogateTest:
    """Significance of a CS score against circularly shifted surrogates.

    Attributes
    ----------
    observed : float
        Mean pairwise Pearson correlation of the series as measured.
    p_value : float
        (1 + #{surrogates >= observed}) / (1 + n_surrogates): the chance of a score this
        high if the agents' series had no common timing.
    surrogates : ndarray, shape (n_surrogates,)
        Scores of the surrogates.
    """

    observed: float
    p_value: float
    surrogates: np.ndarray

    @property
    def quantile95(self) -> float:
        """95th percentile of the surrogate scores."""
        return float(np.quantile(self.surrogates, 0.95)) if self.surrogates.size else math.nan


def series_cs(series: np.ndarray) -> float:
    """Mean pairwise Pearson correlation of the columns of ``series`` (T, n)."""
    x = np.asarray(series, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 3 or x.shape[1] < 2:
        raise MetricError(f"CS needs series of shape (T >= 3, n >= 2), got {x.shape}")
    x = x - x.mean(axis=0)
    return mean_pairwise_correlation(_correlation_from_sums(x.shape[0], x.sum(0), x.T @ x))


def surrogate_test(
    series: np.ndarray, n_surrogates: int = 200, seed: int = 0, min_shift: int = 1
) -> SurrogateTest:
    """Test a CS score against surrogates that shift each agent's series circularly by an
    independent random lag (in [min_shift, T - min_shift]).

    A circular shift keeps each series' own distribution and autocorrelation and destroys
    only the alignment between agents, which is what synchronization is about. Slow common
    trends survive partly (a shifted trend still correlates), so drop warm-up transients
    before testing.
    """
    x = np.asarray(series, dtype=np.float64)
    observed = series_cs(x)
    t = x.shape[0]
    if not 1 <= min_shift <= t // 2:
        raise ConfigError(f"min_shift must be in [1, T/2 = {t // 2}], got {min_shift}")
    rng = np.random.default_rng(seed)
    columns = np.arange(x.shape[1])
    rows = np.arange(t)
    values = np.empty(n_surrogates)
    for k in range(n_surrogates):
        shifts = rng.integers(min_shift, t - min_shift + 1, size=x.shape[1])
        shifted = x[(rows[:, None] - shifts[None, :]) % t, columns[None, :]]
        values[k] = series_cs(shifted)
    finite = values[np.isfinite(values)]
    exceed = int(np.sum(finite >= observed)) if math.isfinite(observed) else finite.size
    p = (1 + exceed) / (1 + finite.size)
    return SurrogateTest(observed, p, finite)
