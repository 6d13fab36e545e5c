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
- Gate g_i in [0, 1] (phase-amplitude coupling of band i with band i-1), from the
  modulation-index test of :mod:`resonance_engine.oscillators.cross_frequency` (Tort et
  al. 2010) on the last ``pac_window`` frames at ``gate_cells`` cells (a regular subgrid):
  the phase phi_{i-1} = arg z_{i-1} is cut into 18 bins, the envelope A_i = 2 |z_i| is
  summed per bin over those cells and frames, and MI is the normalized KL distance of the
  binned envelope from uniform. Its p-value comes from ``gate_surrogates`` surrogates in
  which the envelopes of all cells are shifted circularly in time by one random lag
  (from 1/10 to 9/10 of the window). The gate is 0 when p >= ``gate_alpha`` (default 0.05:
  no significant coupling) and otherwise the depth m of the cosine modulation
  A ~ 1 + m cos(phi - phi0) that has the same MI (:func:`modulation_depth`; 1 for a full
  modulation without noise, 0.25 for a depth of 0.25; noise in the fast band lowers it),
  capped at 1. Pooling the cells asks for one preferred phase across the field: a
  modulation whose preferred phase changes from cell to cell reads weaker. Like every
  time-shift test it needs a slow rhythm that is not strictly periodic over the window:
  a pure sinusoid keeps its phase relation under every shift, so strictly periodic
  drives give p ~ 1 and gate 0 however strong their nesting (drive the field from
  noisy oscillators, or read the modulation index off-line with your own null). The test runs
  every ``gate_every`` frames (default one period of the slowest band) once the window
  holds three slow periods; until then the gate is 0 and its p-value None. The slowest
  band is the carrier: g_0 = 1.
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
from resonance_engine.oscillators.cross_frequency import binned_modulation_index, modulation_depth

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
    gate_p_values : tuple of float or None
        p-value of each band's coupling test (None for band 0 and before the first test).
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
    gate_p_values: tuple[float | None, ...]
    weights: tuple[float, ...]
    ci_total: float
    step: int
    t: float

    def as_dict(self) -> dict[str, float | int | None | str]:
        """Flat scalars: base measures, ci_i, gate_i, gate_p_i and ci_total."""
        out: dict[str, float | int | None | str] = dict(self.base.as_dict())
        for i, (band, gate) in enumerate(zip(self.bands, self.gates, strict=True)):
            out[f"ci_band{i}"] = band.ci
            out[f"gate_band{i}"] = gate
            out[f"gate_p_band{i}"] = self.gate_p_values[i]
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
    pac_window : int, optional
        Frames in the coupling test's window (default ten periods of the slowest band's
        centre frequency).
    gate_cells : int
        Cells per field in the coupling test (default 64, on a regular subgrid).
    gate_surrogates : int
        Time-shifted surrogates of the test (default 99).
    gate_alpha : float
        Significance level below which a coupling opens the gate (default 0.05).
    gate_every : int, optional
        Frames between two tests (default one period of the slowest band).
    seed : int
        Seeds the surrogate lags.

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
        pac_window: int | None = None,
        gate_cells: int = 64,
        gate_surrogates: int = 99,
        gate_alpha: float = 0.05,
        gate_every: int | None = None,
        seed: int = 0,
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
        slow_period = self.frame_rate / (0.5 * sum(self.bands[0]))  # frames
        self.pac_window = int(pac_window) if pac_window else round(10 * slow_period)
        self.gate_every = int(gate_every) if gate_every else max(1, round(slow_period))
        self.min_gate_frames = min(self.pac_window, math.ceil(3 * slow_period))
        if self.pac_window < 16 or self.gate_every < 1 or gate_cells < 1:
            raise ConfigError(
                f"pac_window must be >= 16 frames and gate_every, gate_cells >= 1; got "
                f"{pac_window!r}, {gate_every!r}, {gate_cells!r}"
            )
        if not 0 < gate_alpha < 1 or gate_surrogates < 1:
            raise ConfigError(
                f"gate_alpha must be in (0, 1) and gate_surrogates >= 1, got {gate_alpha!r}, "
                f"{gate_surrogates!r}"
            )
        self.gate_cells = int(gate_cells)
        self.gate_surrogates = int(gate_surrogates)
        self.gate_alpha = float(gate_alpha)
        self.seed = int(seed)
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
        nb, ny, nx = shape
        side = max(1, math.isqrt(self.gate_cells))
        iy = np.unique(np.linspace(0, ny - 1, min(ny, side)).round().astype(np.int64))
        ix = np.unique(np.linspace(0, nx - 1, min(nx, side)).round().astype(np.int64))
        self._cells = (iy[:, None] * nx + ix[None, :]).ravel()
        n_pairs = len(self.bands) - 1
        ring = (n_pairs, nb, self._cells.size, self.pac_window)
        self._slow_phase = np.zeros(ring, dtype=np.float32)
        self._fast_amp = np.zeros(ring, dtype=np.float32)
        self._gates = np.zeros((nb, n_pairs))
        self._p_values: list[list[float | None]] = [[None] * n_pairs for _ in range(nb)]
        self._shape = shape

    def _record_coupling(self, signals: list[np.ndarray]) -> None:
        """Store the slow phases and fast envelopes at the test cells; test when due."""
        nb = signals[0].shape[0]
        slot = (self.frames - 1) % self.pac_window
        for i in range(1, len(signals)):
            slow = signals[i - 1].reshape(nb, -1)[:, self._cells]
            fast = signals[i].reshape(nb, -1)[:, self._cells]
            self._slow_phase[i - 1, :, :, slot] = np.angle(slow)
            self._fast_amp[i - 1, :, :, slot] = 2.0 * np.abs(fast)
        if self.frames < self.min_gate_frames or self.frames % self.gate_every:
            return
        filled = min(self.frames, self.pac_window)
        order = (np.arange(filled) + self.frames - filled) % self.pac_window  # oldest first
        for pair in range(len(signals) - 1):
            for k in range(nb):
                mi, p_value, _ = binned_modulation_index(
                    self._slow_phase[pair, k][:, order],
                    self._fast_amp[pair, k][:, order],
                    surrogates=self.gate_surrogates,
                    seed=self.seed + self.frames,
                )
                significant = p_value < self.gate_alpha
                self._gates[k, pair] = min(1.0, modulation_depth(mi)) if significant else 0.0
                self._p_values[k][pair] = p_value

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
        signals = [f.update(batch) for f in self._filters]
        step_value = self.frames if step is None else int(step)
        self.frames += 1
        if len(signals) > 1:
            self._record_coupling(signals)
        base = self.base.update(batch, step=step_value, t=t)
        per_band = [
            analyzer.update((2.0 * z.real).astype(batch.dtype), step=step_value, t=t)
            for analyzer, z in zip(self.band_analyzers, signals, strict=True)
        ]
        results = []
        for k in range(batch.shape[0]):
            gates = [1.0, *self._gates[k].tolist()]
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
                    gate_p_values=(None, *self._p_values[k]),
                    weights=tuple(self.weights),
                    ci_total=float(ci_total),
                    step=step_value,
                    t=math.nan if t is None else float(t),
                )
            )
        return results[0] if single else results
