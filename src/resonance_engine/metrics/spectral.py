"""Spectral analysis of fields and series: the structure factor S(q) and the PSD.

The structure factor is the standard way to see spatial structure: a plane wave of wave
number k puts all its power at q = k, white noise spreads it evenly over every q, a
field with a power-law spectrum shows a straight line in log S against log q.

Normalisation of :func:`structure_factor` (per mode, before the radial average)::

    S(k) = |F(k)|^2 / N,   F = rfft2(w * (u - mean(u))),   N = ny * nx

so that white noise of variance sigma^2 has E[S(k)] = sigma^2 at every k, and Parseval's
theorem gives the sum rule (exact, per batch member)::

    sum over bins of counts * S  ==  sum over cells of (w * (u - mean(u)))^2

i.e. ``(counts * S).sum() / N`` is the field's variance (without a window, w = 1). The
radial average puts each mode of the full plane in the bin of its |k| (rfft2 keeps half
the plane; the other half is its mirror image and is counted through ``counts``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from resonance_engine.errors import ConfigError, FieldError
from resonance_engine.metrics._input import as_batch, check_finite

__all__ = ["StructureFactor", "structure_factor", "PowerSpectrum", "power_spectrum"]


@dataclass(frozen=True)
class StructureFactor:
    """Radially averaged power spectrum of a field (see the module docstring).

    Attributes
    ----------
    q : ndarray, shape (nbins,)
        Bin centres (radians per unit length); bin n holds the modes with
        round(|k| / dq) == n, dq = 2 pi / max(nx dx, ny dy). Empty bins are left out.
    S : ndarray, shape (nbins,) or (b, nbins)
        Mean of S(k) over the modes of each bin (units of u^2).
    counts : ndarray of int64, shape (nbins,)
        Modes of the full plane in each bin.
    peak_q : float or ndarray of shape (b,)
        The q of the largest S, q = 0 left out (radians per unit length).
    """

    q: np.ndarray
    S: np.ndarray  # noqa: N815 - the physicists' symbol
    counts: np.ndarray
    peak_q: float | np.ndarray


@lru_cache(maxsize=16)
def _radial_bins(
    ny: int, nx: int, dx: float, dy: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Bin index and mode multiplicity of each rfft2 coefficient, and the kept bins."""
    kx = 2 * np.pi * np.fft.rfftfreq(nx, dx)
    ky = 2 * np.pi * np.fft.fftfreq(ny, dy)
    dq = 2 * np.pi / max(nx * dx, ny * dy)
    q = np.hypot(ky[:, None], kx[None, :])
    index = np.rint(q / dq).astype(np.intp).ravel()
    # columns 0 < kx < Nyquist stand for two modes of the full plane (k and -k)
    mult = np.full(kx.shape, 2.0)
    mult[0] = 1.0
    if nx % 2 == 0:
        mult[-1] = 1.0
    mult2 = np.broadcast_to(mult, q.shape).ravel().copy()
    nbins = int(index.max()) + 1
    counts = np.bincount(index, weights=mult2, minlength=nbins)
    kept = np.flatnonzero(counts > 0)
    return index, mult2, kept, counts[kept].astype(np.int64), nbins


def _window(name: str | None, ny: int, nx: int) -> np.ndarray | None:
    if name is None:
        return None
    import scipy.signal

    if name != "hann":
        raise ConfigError(f"window must be None or 'hann', got {name!r}")
    w = np.outer(scipy.signal.get_window("hann", ny), scipy.signal.get_window("hann", nx))
    scaled: np.ndarray = w / math.sqrt(float((w * w).mean()))  # mean(w^2) = 1
    return scaled


def structure_factor(
    u: np.ndarray,
    dx: float = 1.0,
    dy: float | None = None,
    window: str | None = None,
    *,
    workers: int | None = None,
) -> StructureFactor:
    """Radially averaged structure factor S(q) of a field or of a batch of fields.

    Parameters
    ----------
    u : ndarray, shape (ny, nx) or (b, ny, nx)
        Field(s) (units of u); the mean of each is removed first.
    dx, dy : float
        Cell sizes (units of length; ``dy`` defaults to ``dx``).
    window : {None, "hann"}
        Taper applied before the transform (scaled to mean(w^2) = 1), for fields that
        are not periodic; the sum rule then holds for the tapered field.
    workers : int, optional
        Threads of scipy.fft (default: all cores).

    Returns
    -------
    StructureFactor
        S has shape (nbins,) for one field, (b, nbins) for a batch.

    Raises
    ------
    FieldError
        Wrong rank, empty, or NaN/inf.
    ConfigError
        Non-positive cell size or an unknown window.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(64)
    >>> u = np.sin(2 * np.pi * 8 * x / 64)[None, :] * np.ones((64, 1))
    >>> sf = structure_factor(u)
    >>> round(float(sf.peak_q / (2 * np.pi / 64)), 6)
    8.0
    >>> bool(np.isclose((sf.counts * sf.S).sum() / u.size, u.var()))
    True
    """
    dy = dx if dy is None else dy
    if not (dx > 0 and dy > 0 and math.isfinite(dx) and math.isfinite(dy)):
        raise ConfigError(f"cell sizes must be finite and > 0, got dx={dx!r}, dy={dy!r}")
    batch, single = as_batch(u)
    check_finite(batch)
    b, ny, nx = batch.shape
    x = batch - batch.mean(axis=(1, 2), keepdims=True, dtype=np.float64).astype(batch.dtype)
    w = _window(window, ny, nx)
    if w is not None:
        x = x * w.astype(batch.dtype)
    import scipy.fft  # imported on use: keeps `import resonance_engine` fast

    spectrum = scipy.fft.rfft2(x, workers=workers if workers is not None else os.cpu_count())
    power = (spectrum.real**2 + spectrum.imag**2).reshape(b, -1)
    index, mult, kept, counts, nbins = _radial_bins(ny, nx, float(dx), float(dy))
    n = ny * nx
    s = np.empty((b, len(kept)))
    for k in range(b):
        sums = np.bincount(index, weights=power[k] * mult, minlength=nbins)
        s[k] = sums[kept] / counts / n
    dq = 2 * np.pi / max(nx * dx, ny * dy)
    q = kept * dq
    nonzero = q > 0
    if nonzero.any():
        peak = q[nonzero][np.argmax(s[:, nonzero], axis=1)]
    else:
        peak = np.full(b, np.nan)
    if single:
        return StructureFactor(q, s[0], counts, float(peak[0]))
    return StructureFactor(q, s, counts, peak)


@dataclass(frozen=True)
class PowerSpectrum:
    """Welch power spectral density of a series (or of many series side by side).

    Attributes
    ----------
    f : ndarray, shape (nf,)
        Frequencies (Hz, i.e. per unit of 1 / fs).
    psd : ndarray, shape (nf, ...)
        Power spectral density (units^2 / Hz), one column per series.
    peak_frequency : float or ndarray
        The f of the largest PSD, f = 0 left out (Hz).
    spectral_entropy : float or ndarray
        Shannon entropy of the PSD normalised to a distribution over f > 0, divided by
        log(nf - 1): 0 for all power in one bin, 1 for a flat spectrum.
    """

    f: np.ndarray
    psd: np.ndarray
    peak_frequency: float | np.ndarray
    spectral_entropy: float | np.ndarray


def power_spectrum(series: np.ndarray, fs: float, nperseg: int | None = None) -> PowerSpectrum:
    """Power spectral density along axis 0 with Welch's method (scipy.signal.welch).

    Parameters
    ----------
    series : ndarray, shape (T,) or (T, ...)
        Samples in time along axis 0 (each series is detrended by its mean).
    fs : float
        Sampling rate (samples per second).
    nperseg : int, optional
        Samples per Welch segment (default: min(T, 256)); longer segments resolve
        finer frequencies (resolution fs / nperseg), shorter ones average more.

    Returns
    -------
    PowerSpectrum
        Scalars for a (T,) series, arrays of shape ``series.shape[1:]`` otherwise.

    Raises
    ------
    FieldError
        Fewer than 4 samples, or NaN/inf.
    ConfigError
        fs not > 0, or nperseg outside 4..T.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(2048) / 100.0
    >>> ps = power_spectrum(np.sin(2 * np.pi * 12.5 * t), fs=100.0)
    >>> round(float(ps.peak_frequency), 3)
    12.5
    """
    x = np.asarray(series, dtype=np.float64)
    if x.ndim == 0 or x.shape[0] < 4:
        raise FieldError(f"power_spectrum needs at least 4 samples along axis 0, got {x.shape}")
    if not np.isfinite(x).all():
        raise FieldError("the series holds NaN or inf; the spectrum is undefined")
    if not (fs > 0 and math.isfinite(fs)):
        raise ConfigError(f"fs must be a finite sampling rate > 0, got {fs!r}")
    t = x.shape[0]
    seg = min(t, 256) if nperseg is None else int(nperseg)
    if not 4 <= seg <= t:
        raise ConfigError(f"nperseg must be between 4 and the {t} samples, got {nperseg!r}")
    import scipy.signal

    f, psd = scipy.signal.welch(x, fs=fs, nperseg=seg, axis=0, detrend="constant")
    positive = psd[1:]
    peak = f[1:][np.argmax(positive, axis=0)]
    total = positive.sum(axis=0)
    p = positive / np.where(total > 0, total, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=0) / math.log(max(len(f) - 1, 2))
    ent = np.where(total > 0, ent, np.nan)
    if x.ndim == 1:
        return PowerSpectrum(f, psd, float(peak), float(ent))
    return PowerSpectrum(f, psd, peak, ent)
