"""Complexity synchronization (CS): how alike the agents' complexity series move.

Two measures:

1. **Windowed Pearson CS** (:class:`RunningCorrelation`): the mean pairwise Pearson
   correlation of the agents' series (CI, or D) over the last ``window`` ticks, computed
   from the window by one compiled kernel in O(window x agents) per tick, without forming
   the agents x agents matrix.

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

from resonance_engine.backends import correlation_kernels
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
    groups : int, optional
        Track ``groups`` independent sets of n series at once (e.g. the agents' CI and
        their D): samples then have shape (groups, n), :meth:`mean` returns shape
        (groups,) and :meth:`matrix` (groups, n, n). One compiled call serves every group.

    Notes
    -----
    A push stores the sample in a ring buffer (O(n)). :meth:`mean` and
    :meth:`per_series` are computed from the window in O(window n) by one compiled
    kernel (:mod:`resonance_engine.backends.numba_cpu.correlation`, numpy reference in
    ``backends.numpy_ref``) without forming the matrix: with z_i the standardized series
    and Z = sum_i z_i, sum_ij r_ij = sum_t Z(t)^2. Means and deviations are taken in two
    passes over the window, so nothing drifts however long the run. :meth:`matrix` is
    O(window n^2) and meant for pictures and tests.

    Examples
    --------
    >>> rc = RunningCorrelation(2, window=4)
    >>> for x in ([0, 0], [1, 2], [2, 4], [3, 6], [4, 8]):
    ...     rc.push(np.array(x, dtype=float))
    >>> round(rc.mean(), 6)
    1.0
    """

    def __init__(self, n: int, window: int, groups: int | None = None) -> None:
        if n < 2:
            raise ConfigError(f"correlation needs at least 2 series, got n = {n}")
        if window < 3:
            raise ConfigError(f"correlation window must be >= 3 samples, got {window}")
        if groups is not None and groups < 1:
            raise ConfigError(f"groups must be None or >= 1, got {groups}")
        self.n = int(n)
        self.window = int(window)
        self.groups = groups
        g = groups or 1
        self._shape = (self.n,) if groups is None else (g, self.n)
        self._buf = np.zeros((self.window, g, self.n))
        self._kernels = correlation_kernels("auto")
        self._pos = 0
        self.count = 0
        self.pushed = 0

    def push(self, x: np.ndarray) -> None:
        """Add one sample of every series (shape (n,), or (groups, n)); the oldest leaves a
        full window."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape != self._shape:
            raise MetricError(f"expected a sample of shape {self._shape}, got {x.shape}")
        self._buf[self._pos] = x.reshape(self._buf.shape[1:])
        self._pos = (self._pos + 1) % self.window
        self.count = min(self.count + 1, self.window)
        self.pushed += 1

    def matrix(self) -> np.ndarray:
        """The (n, n) correlation matrix over the window (NaN for constant series);
        (groups, n, n) with groups."""
        g = self._buf.shape[1]
        if self.count < 3:
            out = np.full((g, self.n, self.n), np.nan)
        else:
            window = self._buf[: self.count]
            dev = window - window.mean(axis=0)
            ss = np.einsum("tgi,tgi->gi", dev, dev)
            valid = ss > 1e-10 * np.einsum("tgi,tgi->gi", window, window) + _TINY
            std = np.where(valid, np.sqrt(ss), np.nan)
            with np.errstate(invalid="ignore"):
                cov = np.einsum("tgi,tgj->gij", dev, dev)
                out = np.clip(cov / (std[:, :, None] * std[:, None, :]), -1.0, 1.0)
        return out[0] if self.groups is None else out

    def mean(self) -> Any:
        """Mean pairwise correlation over i < j (the CS score); NaN before 3 samples. A
        float, or an array of shape (groups,) with groups."""
        if self.count < 3:
            return math.nan if self.groups is None else np.full(self._buf.shape[1], np.nan)
        result, _ = self._kernels.window_correlation(self._buf, self.count)
        return float(result[0]) if self.groups is None else result

    def per_series(self) -> np.ndarray:
        """Mean correlation of each series with the others: shape (n,), or (groups, n)."""
        if self.count < 3:
            out = np.full(self._buf.shape[1:], np.nan)
        else:
            _, out = self._kernels.window_correlation(self._buf, self.count, True)
        return out[0] if self.groups is None else out

    def window_values(self) -> np.ndarray:
        """The samples in the window, oldest first: shape (count, n), or (count, groups, n)."""
        if self.count < self.window:
            values = self._buf[: self.count].copy()
        else:
            values = np.roll(self._buf, -self._pos, axis=0)
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
