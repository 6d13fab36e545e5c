"""Multi-band complexity: CI per temporal frequency band, gated by cross-frequency nesting.

Definitions (frames arrive at ``frame_rate`` Hz; bands are sorted from slow to fast):

- Band filter: each cell of each band runs ``stages`` identical complex one-pole
  resonators ``z <- p z + g x`` with ``p = r exp(i w0)``, ``w0 = 2 pi f0 / frame_rate``,
  centre f0 = (f_lo + f_hi) / 2 and ``r = exp(-pi b / frame_rate)``, where the per-stage
  width b is chosen so that the cascade's -3 dB full width is f_hi - f_lo. The first
  stage is fed the frame-to-frame difference of the field (a zero at 0 Hz, which keeps
  slower bands and static offsets from leaking in), with its gain set to keep unit gain
  at f0: g = (1 - r) / (2 sin(w0 / 2)); later stages have g = 1 - r. (The zero tilts
  the response by sin(pi f / frame_rate) / sin(w0 / 2): a band an octave wide passes
  its upper edge at about -1 dB and its lower edge at about -6 dB.) The filter is
  stable (|p| = r < 1), causal and float32 (complex64). Its output z is the analytic
  band signal: the band-passed field is ``2 Re z``, the band amplitude ``A = 2 |z|`` and
  its phase ``phi = arg z``.
- CI_i: the ordinary single-frame measures (:class:`ComplexityAnalyzer`, same
  :class:`MetricsConfig`, its own dwell history) on the band-passed field of band i.
  CI_base is the same on the raw field.
- Gate g_i in [0, 1] (phase-amplitude coupling of band i with band i-1): per cell, with
  exponential moving averages over ``pac_window`` frames,
  ``M = <A_i exp(i phi_{i-1})>`` and ``S = <A_i>``; the normalized mean vector length
  ``MVL = |M| / S`` is 1/2 for a fast amplitude fully modulated by the slow phase
  (A_i proportional to 1 + cos(phi_{i-1} - phi0)) and tends to 0 when the two are
  independent (as 1/sqrt(number of slow cycles in the window)). The cell's gate is
  ``min(1, 2 MVL)``; g_i is its average over the cells weighted by S (quiet cells,
  whose phase is noise, count little). The slowest band is the carrier: g_0 = 1.
- CI_total = CI_base + sum_i w_i g_i CI_i (scalars: spatial means).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from resonance_engine.errors import ConfigError, FieldError
from resonance_engine.metrics._input import as_batch, check_finite
from resonance_engine.metrics.analyzer import ComplexityAnalyzer, ComplexityMetrics
from resonance_engine.metrics.config import MetricsConfig

__all__ = ["MultiBandAnalyzer", "MultiBandMetrics", "BandFilter"]


@dataclass(frozen=True)
class MultiBandMetrics:
    """The measures of one frame in every band.

    Attributes
    ----------
    base : ComplexityMetrics
        The measures of the raw field.
    bands : tuple of ComplexityMetrics
        The measures of each band-passed field (slow to fast).
    gates : tuple of float
        g_i in [0, 1] per band (g_0 = 1).
    weights : tuple of float
        w_i per band.
    ci_total : float
        CI_base + sum_i w_i g_i CI_i.
    step : int
    t : float
    """

    base: ComplexityMetrics
    bands: tuple[ComplexityMetrics, ...]
    gates: tuple[float, ...]
    weights: tuple[float, ...]
    ci_total: float
    step: int
    t: float

    def as_dict(self) -> dict[str, float | int | None | str]:
        """Flat scalars: base measures, ci_i, gate_i and ci_total."""
        out: dict[str, float | int | None | str] = dict(self.base.as_dict())
        for i, (band, gate) in enumerate(zip(self.bands, self.gates, strict=True)):
            out[f"ci_band{i}"] = band.ci
            out[f"gate_band{i}"] = gate
        out["ci_total"] = self.ci_total
        return out


class BandFilter:
    """Per-cell complex resonator cascade of one band (see the module docstring).

    Parameters
    ----------
    band : (float, float)
        (f_lo, f_hi) in Hz, 0 < f_lo < f_hi < frame_rate / 2.
    frame_rate : float
        Frames per second (Hz).
    shape : tuple of int
        Shape of the fields, (b, ny, nx).
    stages : int
        Number of one-pole stages (default 2).
    """

    def __init__(
        self, band: tuple[float, float], frame_rate: float, shape: tuple[int, ...], stages: int = 2
    ) -> None:
        f_lo, f_hi = (float(f) for f in band)
        nyquist = frame_rate / 2
        if not 0 < f_lo < f_hi < nyquist:
            raise ConfigError(
                f"band ({f_lo}, {f_hi}) Hz must satisfy 0 < f_lo < f_hi < frame_rate/2 = "
                f"{nyquist} Hz; lower the band or update more often"
            )
        if stages < 1:
            raise ConfigError(f"stages must be >= 1, got {stages}")
        self.band = (f_lo, f_hi)
        self.center = 0.5 * (f_lo + f_hi)
        width = (f_hi - f_lo) / math.sqrt(2.0 ** (1.0 / stages) - 1.0)
        r = math.exp(-math.pi * width / frame_rate)
        w0 = 2.0 * np.pi * self.center / frame_rate
        self.pole = np.complex64(r * np.exp(1j * w0))
        self.input_gain = np.float32(1.0 - r)
        self.first_gain = np.float32((1.0 - r) / (2.0 * math.sin(w0 / 2.0)))
        self.state = np.zeros((stages, *shape), dtype=np.complex64)
        self.previous = np.zeros(shape, dtype=np.float32)
        self._scratch = np.empty(shape, dtype=np.complex64)

    def update(self, u: np.ndarray) -> np.ndarray:
        """Filter one frame; returns the analytic band signal z (complex64, a view)."""
        for n, stage in enumerate(self.state):
            stage *= self.pole
            if n == 0:
                np.subtract(u, self.previous, out=self._scratch)
                self._scratch *= self.first_gain
                self.previous[...] = u
            else:
                np.multiply(self.state[n - 1], self.input_gain, out=self._scratch)
            stage += self._scratch
        return self.state[-1]


class MultiBandAnalyzer:
    """CI per frequency band with a nesting gate per band, and CI_total.

    Parameters
    ----------
    bands : sequence of (f_lo, f_hi)
        Temporal bands in Hz (any order; they are sorted slow to fast).
    frame_rate : float
        Rate of the calls to :meth:`update` (Hz): 1 / (dt * steps between updates).
    weights : sequence of float, optional
        w_i per band (default 1 for each).
    config : MetricsConfig, optional
        Parameters of the per-band measures.
    stages : int
        Resonator stages per band (default 2).
    pac_window : float, optional
        Time constant of the coupling averages (frames; default five periods of the
        slowest band's centre frequency).

    Examples
    --------
    >>> import numpy as np
    >>> mb = MultiBandAnalyzer([(2, 6), (20, 40)], frame_rate=200.0)
    >>> u = np.random.default_rng(0).standard_normal((32, 32)).astype(np.float32)
    >>> result = mb.update(u)
    >>> len(result.bands), result.gates[0]
    (2, 1.0)
    """

    def __init__(
        self,
        bands: Sequence[tuple[float, float]],
        frame_rate: float,
        weights: Sequence[float] | None = None,
        config: MetricsConfig | None = None,
        *,
        stages: int = 2,
        pac_window: float | None = None,
    ) -> None:
        if len(bands) < 1:
            raise ConfigError("give at least one band (f_lo, f_hi) in Hz")
        if not frame_rate > 0:
            raise ConfigError(f"frame_rate must be > 0 Hz, got {frame_rate!r}")
        order = np.argsort([0.5 * (lo + hi) for lo, hi in bands])
        self.bands: list[tuple[float, float]] = [
            (float(bands[i][0]), float(bands[i][1])) for i in order
        ]
        if weights is None:
            self.weights = [1.0] * len(bands)
        else:
            if len(weights) != len(bands):
                raise ConfigError(f"{len(weights)} weights for {len(bands)} bands")
            self.weights = [float(weights[i]) for i in order]
        self.frame_rate = float(frame_rate)
        self.config = config if config is not None else MetricsConfig()
        self.stages = stages
        slowest = 0.5 * sum(self.bands[0])
        self.pac_window = float(pac_window) if pac_window else 5.0 * self.frame_rate / slowest
        if not self.pac_window > 0:
            raise ConfigError(f"pac_window must be > 0 frames, got {pac_window!r}")
        for band in self.bands:  # validate now, not at the first frame
            BandFilter(band, self.frame_rate, (1, 1, 1), stages)
        self.base = ComplexityAnalyzer(self.config)
        self.band_analyzers = [ComplexityAnalyzer(self.config) for _ in self.bands]
        self._filters: list[BandFilter] = []
        self._shape: tuple[int, ...] | None = None
        self.frames = 0

    def reset(self) -> None:
        """Forget the filter states, coupling averages and dwell histories."""
        self._filters = []
        self._shape = None
        self.frames = 0
        self.base.reset()
        for analyzer in self.band_analyzers:
            analyzer.reset()

    def _setup(self, shape: tuple[int, ...]) -> None:
        self._filters = [BandFilter(b, self.frame_rate, shape, self.stages) for b in self.bands]
        n = len(self.bands)
        self._pac_m = np.zeros((n, *shape), dtype=np.complex64)
        self._pac_s = np.zeros((n, *shape), dtype=np.float32)
        self._shape = shape

    def gate_fields(self) -> np.ndarray:
        """Per-cell gates min(1, 2 |M| / S), shape (bands, b, ny, nx); band 0 is all ones."""
        s = self._pac_s
        with np.errstate(invalid="ignore", divide="ignore"):
            g = np.where(s > 0, 2.0 * np.abs(self._pac_m) / s, 0.0)
        g = np.minimum(g, 1.0).astype(np.float32)
        g[0] = 1.0
        return g

    def update(
        self, u: np.ndarray, *, step: int | None = None, t: float | None = None
    ) -> MultiBandMetrics | list[MultiBandMetrics]:
        """Add a frame: filter it into the bands and measure every band.

        Parameters
        ----------
        u : ndarray, shape (ny, nx) or (b, ny, nx)
        step, t : optional
            Recorded in the results (see :meth:`ComplexityAnalyzer.update`).

        Returns
        -------
        MultiBandMetrics, or a list of them for a batch.
        """
        batch, single = as_batch(u)
        check_finite(batch)
        if self._shape is None:
            self._setup(batch.shape)
        elif batch.shape != self._shape:
            raise FieldError(
                f"this analyzer filters fields of shape {self._shape}, got {batch.shape}; "
                f"call reset() to start over"
            )
        rho = np.float32(math.exp(-1.0 / self.pac_window))
        one_minus = np.float32(1.0) - rho
        signals = [f.update(batch) for f in self._filters]
        for i in range(1, len(signals)):
            amplitude = np.abs(signals[i]).astype(np.float32) * np.float32(2.0)
            slow = signals[i - 1]
            with np.errstate(invalid="ignore", divide="ignore"):
                phase = np.where(slow != 0, slow / np.abs(slow), 0).astype(np.complex64)
            self._pac_m[i] *= rho
            self._pac_m[i] += one_minus * amplitude * phase
            self._pac_s[i] *= rho
            self._pac_s[i] += one_minus * amplitude
        step_value = self.frames if step is None else int(step)
        self.frames += 1
        base = self.base.update(batch, step=step_value, t=t)
        per_band = [
            analyzer.update((2.0 * z.real).astype(batch.dtype), step=step_value, t=t)
            for analyzer, z in zip(self.band_analyzers, signals, strict=True)
        ]
        gate_fields = self.gate_fields()
        results = []
        for k in range(batch.shape[0]):
            gates = [1.0]
            for i in range(1, len(self.bands)):
                s = self._pac_s[i, k].astype(np.float64)
                total = float(s.sum())
                gates.append(float((gate_fields[i, k] * s).sum() / total) if total > 0 else 0.0)
            band_metrics = tuple(
                band_result[k] if isinstance(band_result, list) else band_result
                for band_result in per_band
            )
            base_k = base[k] if isinstance(base, list) else base
            ci_total = base_k.ci + sum(
                w * g * m.ci for w, g, m in zip(self.weights, gates, band_metrics, strict=True)
            )
            results.append(
                MultiBandMetrics(
                    base=base_k,
                    bands=band_metrics,
                    gates=tuple(gates),
                    weights=tuple(self.weights),
                    ci_total=float(ci_total),
                    step=step_value,
                    t=math.nan if t is None else float(t),
                )
            )
        return results[0] if single else results
