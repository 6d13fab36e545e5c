"""Cross-frequency (phase-amplitude) coupling: the modulation index of Tort et al. (2010).

Definitions (x sampled at fs Hz):

- Band signals: a Butterworth band-pass (``order`` 4, second-order sections) applied
  forwards and backwards (``scipy.signal.sosfiltfilt``: zero phase), then the analytic
  signal (``scipy.signal.hilbert``). The phase band gives the phase phi(t) (rad, in
  [-pi, pi)), the amplitude band the envelope A(t) = |analytic signal|. The amplitude
  band must be wide enough to hold the sidebands f_amp +- f_phase of a modulation
  (at least twice the highest phase frequency).
- Modulation index: phi is cut into ``n_bins`` equal bins; <A>_j is the mean envelope in
  bin j and P_j = <A>_j / sum_k <A>_k. MI = (log n_bins - H(P)) / log n_bins, with
  H(P) = -sum_j P_j log P_j: the Kullback-Leibler distance of P from the uniform
  distribution, normalized to [0, 1]. 0 when the envelope does not depend on the phase.
- p-value: the envelope is shifted circularly in time against the phase by a random lag
  drawn uniformly from [t/10, 9t/10] (t: the length in samples) ``surrogates`` times;
  p = (1 + #{surrogate MI >= MI}) / (1 + surrogates). A shift keeps each signal's own
  structure and breaks their relation, provided the slow rhythm is not strictly
  periodic over the lag (a pure sinusoid keeps its phase relation under every shift: the
  test then cannot reject, p stays large). With several channels (shape (c, t)) the
  binned envelopes are pooled over channels and all channels are shifted by the same
  lag, which keeps the correlations between channels (neighbouring cells of a field
  carry nearly the same signal; shifting them independently would make chance
  alignments look significant).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from resonance_engine.backends import oscillator_kernels, resolve_backend
from resonance_engine.errors import ConfigError

__all__ = [
    "band_analytic",
    "phase_bins",
    "binned_modulation_index",
    "modulation_index",
    "Comodulogram",
    "comodulogram",
    "modulation_depth",
]


def _signal(x: Any) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim not in (1, 2) or arr.shape[-1] < 16:
        raise ConfigError(
            f"x must have shape (t,) or (channels, t) with t >= 16 samples, got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise ConfigError(f"x holds {int((~np.isfinite(arr)).sum())} non-finite samples")
    return arr


def _band(name: str, band: Any, fs: float) -> tuple[float, float]:
    try:
        lo, hi = (float(f) for f in band)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a pair (f_lo, f_hi) in Hz, got {band!r}") from exc
    if not 0 < lo < hi < fs / 2:
        raise ConfigError(
            f"{name} ({lo:g}, {hi:g}) Hz must satisfy 0 < f_lo < f_hi < fs/2 = {fs / 2:g} Hz"
        )
    return lo, hi


def band_analytic(x: Any, fs: float, band: tuple[float, float], order: int = 4) -> np.ndarray:
    """Analytic signal of x band-passed to ``band`` (zero-phase Butterworth, then Hilbert).

    Parameters
    ----------
    x : array_like, shape (t,) or (c, t)
    fs : float
        Sampling rate (Hz).
    band : (float, float)
        (f_lo, f_hi) in Hz.
    order : int
        Butterworth order of each pass (the forward-backward filter has twice the order).

    Returns
    -------
    ndarray of complex128, same shape as x
        Its angle is the band's phase, its modulus the band's envelope.
    """
    from scipy import signal

    lo, hi = _band("band", band, float(fs))
    sos = signal.butter(order, [lo, hi], btype="bandpass", fs=fs, output="sos")
    filtered = signal.sosfiltfilt(sos, _signal(x), axis=-1)
    analytic: np.ndarray = signal.hilbert(filtered, axis=-1)
    return analytic


def phase_bins(phase: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin 0 .. n_bins-1 of phases (rad): bin j is [-pi + 2 pi j / n, -pi + 2 pi (j + 1) / n)."""
    wrapped = np.mod(np.asarray(phase, dtype=np.float64) + np.pi, 2 * np.pi)
    index = np.floor(wrapped * (n_bins / (2 * np.pi))).astype(np.int64)
    return np.minimum(index, n_bins - 1)


def _mi_of_sums(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Tort MI of binned envelope sums, shape (s, n_bins) -> (s,)."""
    n_bins = counts.size
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
        total = means.sum(axis=-1, keepdims=True)
        p = np.where(total > 0, means / total, 1.0 / n_bins)
        entropy = -np.sum(np.where(p > 0, p * np.log(p), 0.0), axis=-1)
    mi: np.ndarray = (math.log(n_bins) - entropy) / math.log(n_bins)
    return np.clip(mi, 0.0, 1.0)


def binned_modulation_index(
    phase: Any,
    amplitude: Any,
    n_bins: int = 18,
    surrogates: int = 0,
    seed: int | None = None,
    backend: str = "auto",
) -> tuple[float, float, np.ndarray]:
    """Tort MI and its time-shift p-value from a phase and an envelope already extracted.

    Parameters
    ----------
    phase, amplitude : array_like, shape (t,) or (c, t)
        Phase (rad) of the slow band and envelope (>= 0) of the fast band.
    n_bins : int
        Phase bins (>= 2).
    surrogates : int
        Time-shifted surrogates (0: no p-value).
    seed : int or None
        Seeds the lags.
    backend : {"auto", "numba", "numpy"}

    Returns
    -------
    mi : float
    p_value : float
        NaN without surrogates.
    null : ndarray, shape (surrogates,)
        The surrogates' MI.
    """
    if not isinstance(n_bins, int | np.integer) or n_bins < 2:
        raise ConfigError(f"n_bins must be an integer >= 2, got {n_bins!r}")
    if not isinstance(surrogates, int | np.integer) or surrogates < 0:
        raise ConfigError(f"surrogates must be an integer >= 0, got {surrogates!r}")
    ph = np.atleast_2d(np.asarray(phase, dtype=np.float64))
    amp = np.atleast_2d(np.asarray(amplitude, dtype=np.float64))
    if ph.shape != amp.shape:
        raise ConfigError(f"phase and amplitude shapes differ: {ph.shape} vs {amp.shape}")
    if not (np.all(np.isfinite(ph)) and np.all(np.isfinite(amp))):
        raise ConfigError("phase and amplitude must be finite")
    channels, t = ph.shape
    bins = phase_bins(ph, int(n_bins))
    counts = np.bincount(bins.ravel(), minlength=n_bins).astype(np.float64)
    rng = np.random.default_rng(seed)
    low, high = t // 10, t - t // 10
    lags = rng.integers(low, max(high, low + 1), int(surrogates))
    shifts = np.repeat(np.concatenate([[0], lags % t])[:, None], channels, axis=1)
    kernels = oscillator_kernels(resolve_backend(backend))
    mi = _mi_of_sums(kernels.phase_binned_amplitude(bins, amp, int(n_bins), shifts), counts)
    null = mi[1:]
    p_value = (1.0 + np.count_nonzero(null >= mi[0])) / (1.0 + null.size) if null.size else math.nan
    return float(mi[0]), float(p_value), null


def modulation_index(
    x: Any,
    fs: float,
    phase_band: tuple[float, float],
    amplitude_band: tuple[float, float],
    n_bins: int = 18,
    surrogates: int = 0,
    seed: int | None = None,
) -> tuple[float, float]:
    """Phase-amplitude coupling of a signal: Tort's modulation index and its p-value.

    Parameters
    ----------
    x : array_like, shape (t,) or (c, t)
        Signal(s) sampled at ``fs``; channels are pooled (see the module docstring).
    fs : float
        Sampling rate (Hz).
    phase_band, amplitude_band : (float, float)
        Bands (Hz) of the modulating phase and of the modulated envelope.
    n_bins : int
        Phase bins (Tort et al. use 18 of 20 degrees).
    surrogates : int
        Time-shifted surrogates for the p-value (0: p is NaN).
    seed : int or None
        Seeds the surrogate lags.

    Returns
    -------
    mi : float
        In [0, 1].
    p_value : float

    Examples
    --------
    >>> fs = 500.0
    >>> t = np.arange(0, 20, 1 / fs)
    >>> slow = 6 * t + 0.3 * np.cumsum(np.random.default_rng(0).standard_normal(t.size)) / 20
    >>> x = np.cos(2 * np.pi * slow) + (1 + np.cos(2 * np.pi * slow)) * np.cos(2 * np.pi * 60 * t)
    >>> mi, p = modulation_index(x, fs, (4, 8), (40, 80), surrogates=99, seed=0)
    >>> bool(mi > 0.05), p
    (True, 0.01)
    """
    if not (isinstance(fs, int | float | np.number) and math.isfinite(fs) and fs > 0):
        raise ConfigError(f"fs must be a finite number > 0 (Hz), got {fs!r}")
    signal = _signal(x)
    phase = np.angle(band_analytic(signal, fs, phase_band))
    amplitude = np.abs(band_analytic(signal, fs, amplitude_band))
    mi, p_value, _ = binned_modulation_index(phase, amplitude, n_bins, surrogates, seed)
    return mi, p_value


def _bin_mean_cos(n_bins: int) -> np.ndarray:
    """Mean of cos(phi) over each phase bin."""
    edges = -np.pi + 2 * np.pi * np.arange(n_bins + 1) / n_bins
    return np.diff(np.sin(edges)) / (2 * np.pi / n_bins)


def modulation_depth(mi: float, n_bins: int = 18) -> float:
    """The depth m of a cosine modulation A ~ 1 + m cos(phi - phi0) with this MI.

    Inverts MI(m) of the binned distribution P_j ~ 1 + m <cos>_j (0 <= m <= 1); an MI
    above that of m = 1 gives 1. For small m, MI ~ m^2 / (4 log n_bins).
    """
    depths = np.linspace(0.0, 1.0, 401)
    shape = 1.0 + depths[:, None] * _bin_mean_cos(n_bins)[None, :]
    curve = _mi_of_sums(shape, np.ones(n_bins))
    return float(np.interp(max(0.0, float(mi)), curve, depths))


@dataclass(frozen=True)
class Comodulogram:
    """Modulation index over a grid of phase and amplitude frequencies.

    Attributes
    ----------
    phase_freqs : ndarray, shape (p,)
        Centres of the phase bands (Hz).
    amplitude_freqs : ndarray, shape (a,)
        Centres of the amplitude bands (Hz).
    mi : ndarray, shape (p, a)
        Tort MI of each pair.
    phase_width, amplitude_width : float
        Band widths (Hz).
    """

    phase_freqs: np.ndarray
    amplitude_freqs: np.ndarray
    mi: np.ndarray
    phase_width: float
    amplitude_width: float

    def peak(self) -> tuple[float, float, float]:
        """(phase frequency, amplitude frequency, MI) of the largest MI."""
        i, j = np.unravel_index(int(np.argmax(self.mi)), self.mi.shape)
        return float(self.phase_freqs[i]), float(self.amplitude_freqs[j]), float(self.mi[i, j])


def comodulogram(
    x: Any,
    fs: float,
    phase_freqs: Any,
    amplitude_freqs: Any,
    phase_width: float = 2.0,
    amplitude_width: float | None = None,
    n_bins: int = 18,
) -> Comodulogram:
    """Tort MI for every pair of a phase band and an amplitude band.

    Parameters
    ----------
    x : array_like, shape (t,) or (c, t)
    fs : float
        Sampling rate (Hz).
    phase_freqs, amplitude_freqs : array_like of float
        Band centres (Hz); band i is (f_i - width/2, f_i + width/2).
    phase_width : float
        Width of the phase bands (Hz).
    amplitude_width : float, optional
        Width of the amplitude bands (Hz); default twice the highest phase frequency
        (so the bands hold the sidebands of every modulation).
    n_bins : int

    Returns
    -------
    Comodulogram
    """
    signal = _signal(x)
    pf = np.atleast_1d(np.asarray(phase_freqs, dtype=np.float64))
    af = np.atleast_1d(np.asarray(amplitude_freqs, dtype=np.float64))
    if pf.size == 0 or af.size == 0:
        raise ConfigError("give at least one phase and one amplitude frequency")
    width_a = 2.0 * float(pf.max()) if amplitude_width is None else float(amplitude_width)
    phases = [np.angle(band_analytic(signal, fs, (f - phase_width / 2, f + phase_width / 2)))
              for f in pf]  # fmt: skip
    envelopes = [np.abs(band_analytic(signal, fs, (f - width_a / 2, f + width_a / 2)))
                 for f in af]  # fmt: skip
    mi = np.array(
        [[binned_modulation_index(ph, env, n_bins)[0] for env in envelopes] for ph in phases]
    )
    return Comodulogram(pf, af, mi, float(phase_width), width_a)
