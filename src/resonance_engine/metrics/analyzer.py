"""All the measures of a frame at once: :class:`ComplexityAnalyzer`.

Per frame (or per member of a batch): the frame statistics (mean, RMS, max|u|, and the
NaN/inf check), the mask |u| > theta and its box-counting dimension D, the gain field G,
the coherence field C, the dwell field tau (from the analyzer's own ring buffer of past
frames), the CI field alpha * D^beta * G * C * (1 - exp(-tau / gamma)), and their spatial
means. Buffers are allocated on the first frame and reused.

D is undefined when the mask is empty (a field that is zero everywhere, or constant):
the result then has ``fractal_dim``, ``fractal_r2`` and ``ci`` NaN and says why in
``note``; G, C and tau are still computed. The same holds in boundary mode when the
mask has no boundary at some box size of the fit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

import numpy as np

from resonance_engine.backends import metric_kernels
from resonance_engine.backends.base import FrameParams
from resonance_engine.errors import FieldError
from resonance_engine.metrics._input import as_batch
from resonance_engine.metrics.coherence import (
    gaussian_weights,
    moment_shift,
)
from resonance_engine.metrics.config import MetricsConfig
from resonance_engine.metrics.dwell import (
    DwellTimeTracker,
    RecursiveDwell,
    recursive_coefficients,
)
from resonance_engine.metrics.fractal import (
    box_sizes,
    fit_dimensions,
    frame_threshold,
    level_of,
    local_slopes,
    scaling_ranges,
)

__all__ = ["ComplexityMetrics", "ComplexityAnalyzer", "summarize_series"]


@dataclass(frozen=True)
class ComplexityMetrics:
    """The measures of one frame.

    Attributes
    ----------
    fractal_dim : float
        D of the mask |u| > threshold (NaN when undefined, see ``note``).
    fractal_r2 : float
        R^2 of the box-counting fit.
    gain : float
        Spatial mean of G (units of u by default; see ``gain_scale``).
    coherence : float
        Spatial mean of C ([0, 1]).
    dwell : float
        Spatial mean of tau (seconds with the default recursive dwell; frames with the
        seed's ring, or when no frame time is known).
    ci : float
        Spatial mean of the CI field (units of u).
    step : int
        Solver step of the frame (or the analyzer's frame counter).
    t : float
        Simulated time of the frame (s; NaN when not given).
    threshold : float
        The mask threshold theta (units of u).
    active_fraction : float
        Fraction of the cells in the mask.
    note : str or None
        Why a value is NaN, or what to beware of (no scaling range of D, aliased tau,
        tau in frames), else None; several notes are joined by "; ".
    fractal_scaling : bool or None
        Whether a power law holds over the fitted box sizes (None when D is undefined).
    dominant_frequency : float
        The field's dominant temporal frequency used for the aliasing check (Hz; NaN
        when not known).
    gain_field, coherence_field, dwell_field, ci_field : ndarray or None
        The full fields (ny, nx), only with ``keep_fields=True``.
    mask : ndarray of bool or None
        The thresholded mask, only with ``keep_fields=True``.
    """

    fractal_dim: float
    fractal_r2: float
    gain: float
    coherence: float
    dwell: float
    ci: float
    step: int
    t: float
    threshold: float = math.nan
    active_fraction: float = math.nan
    note: str | None = None
    fractal_scaling: bool | None = None
    dominant_frequency: float = math.nan
    gain_field: np.ndarray | None = field(default=None, repr=False, compare=False)
    coherence_field: np.ndarray | None = field(default=None, repr=False, compare=False)
    dwell_field: np.ndarray | None = field(default=None, repr=False, compare=False)
    ci_field: np.ndarray | None = field(default=None, repr=False, compare=False)
    mask: np.ndarray | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """The scalar attributes (no fields), e.g. for JSON."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if not isinstance(getattr(self, f.name), np.ndarray) and f.name not in _FIELD_NAMES
        }


_FIELD_NAMES = ("gain_field", "coherence_field", "dwell_field", "ci_field", "mask")


class _HasField(Protocol):
    @property
    def u(self) -> np.ndarray: ...
    @property
    def t(self) -> float: ...
    step_count: int


class ComplexityAnalyzer:
    """Computes D, G, C, tau and CI of each new frame, with preallocated buffers.

    Parameters
    ----------
    config : MetricsConfig, optional
        The parameters (defaults: :class:`MetricsConfig()`).
    keep_fields : bool
        Attach copies of the G, C, tau and CI fields and the mask to each result.

    Notes
    -----
    The analyzer holds the dwell ring buffer, so feed it the frames of one run in order
    (e.g. every N solver steps). A batch (b, ny, nx) is b independent runs: each member
    has its own history. The shape and dtype are fixed by the first frame; call
    :meth:`reset` to start over with another.

    Examples
    --------
    >>> import numpy as np
    >>> analyzer = ComplexityAnalyzer()
    >>> y, x = np.mgrid[0:64, 0:64]
    >>> m = analyzer.update(np.sin(x / 3.0) * np.cos(y / 5.0))
    >>> 1.0 < m.fractal_dim < 2.1 and m.ci >= 0.0
    True
    """

    def __init__(self, config: MetricsConfig | None = None, *, keep_fields: bool = False) -> None:
        self.config = config if config is not None else MetricsConfig()
        self.keep_fields = keep_fields
        self._kernels = metric_kernels(self.config.backend)
        self._weights = gaussian_weights(
            self.config.coherence_sigma, self.config.coherence_truncate
        )
        self._shape: tuple[int, int, int] | None = None
        self._dtype: np.dtype | None = None
        self._tracker: DwellTimeTracker | RecursiveDwell | None = None
        self._resident: Any = None  # ResidentMeasures of the wgpu path
        self._last_t: float | None = None
        self.frames = 0

    def reset(self) -> None:
        """Forget the dwell history, the frame counter, the shape and the buffers."""
        self._shape = None
        self._dtype = None
        self._tracker = None
        self._resident = None
        self._last_t = None
        self.frames = 0

    @property
    def max_dwell(self) -> float:
        """The largest possible mean dwell (frames for the ring, seconds when recursive)."""
        if self.config.dwell_mode == "recursive":
            return self.config.dwell_lambda
        w = np.exp(-np.arange(1, self.config.dwell_history + 1) / self.config.dwell_lambda)
        return float(w.sum())

    def _setup_sizes(self, ny: int, nx: int) -> None:
        cfg = self.config
        self._sizes = box_sizes((ny, nx), cfg.smallest_box, cfg.max_box, cfg.box_base)
        self._levels = level_of(int(self._sizes[-1]), cfg.box_base)
        self._level_index = [level_of(int(s), cfg.box_base) for s in self._sizes]

    def _setup(self, batch: np.ndarray) -> None:
        cfg = self.config
        b, ny, nx = batch.shape
        self._setup_sizes(ny, nx)
        self._g = np.empty_like(batch)
        self._c = np.empty_like(batch)
        self._tau = np.empty_like(batch)
        self._ci = np.empty_like(batch)
        if cfg.dwell_mode == "recursive":
            self._tracker = RecursiveDwell(
                batch.shape, cfg.dwell_lambda, scale=cfg.dwell_scale, dtype=batch.dtype,
                backend=cfg.backend,
            )
        else:
            self._tracker = DwellTimeTracker(
                batch.shape, cfg.dwell_history, cfg.dwell_lambda, scale=cfg.dwell_scale,
                storage=cfg.dwell_storage, dtype=batch.dtype, backend=cfg.backend,
            )
        self._shape = (b, ny, nx)
        self._dtype = batch.dtype

    def _check_same_fields(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
        if shape != self._shape or dtype != self._dtype:
            raise FieldError(
                f"this analyzer holds the history of fields of shape {self._shape} and dtype "
                f"{self._dtype}, got {shape} {dtype}; use one analyzer per run or call reset()"
            )

    def _threshold(self, stats: np.ndarray) -> np.ndarray:
        """The mask threshold of each member, after checking its frame is finite."""
        bad = ~np.isfinite(stats).all(axis=1)
        if bad.any():
            k = int(np.argmax(bad))
            raise FieldError(
                f"the field (batch member {k}) holds NaN or inf; the measures are undefined "
                f"(check the simulation for divergence)"
            )
        cfg = self.config
        return frame_threshold(stats[:, 1], cfg.threshold, cfg.threshold_rms)

    def _frame_interval(self, t: float | None) -> tuple[float, str | None]:
        """Seconds since the previous frame (and a note when they are not known)."""
        cfg = self.config
        last, self._last_t = self._last_t, t
        if t is not None and last is not None and t > last:
            return t - last, None
        if cfg.frame_interval is not None:
            return cfg.frame_interval, None
        if self.frames == 0 and t is not None:
            return math.nan, None  # the first frame: tau = 0 whatever dt is
        return 1.0, "tau counts frames: no frame time (pass t= or set frame_interval)"

    def observe(
        self, solver: _HasField, *, keep_fields: bool | None = None
    ) -> ComplexityMetrics | list[ComplexityMetrics]:
        """Analyze a solver's current field, stamped with its step and time.

        When the solver's fields live on a GPU (``backend="wgpu"``) and the config's
        backend is "auto" or "wgpu", the measures run there on the resident field: only
        scalars come back (and the fields when kept). The dominant frequency of the
        aliasing check comes from the solver (:func:`field_frequency`).
        """
        frequency = field_frequency(solver)
        state = getattr(solver, "_state", None)
        resident = getattr(state, "resident", False)
        if resident and self.config.backend in ("auto", "wgpu"):
            keep = self.keep_fields if keep_fields is None else keep_fields
            results = self._update_resident(
                state, solver.step_count, solver.t, keep, frequency
            )
            return results[0] if getattr(solver, "batch", None) is None else results
        return self.update(
            solver.u, step=solver.step_count, t=solver.t, keep_fields=keep_fields,
            dominant_frequency=frequency,
        )

    def _common_params(
        self, dtype: np.dtype, stats: np.ndarray, theta: np.ndarray, shift: np.ndarray
    ) -> tuple[dict[str, Any], str | None]:
        """The kernel parameters of a frame but the dwell's, and a note when C cannot be
        computed."""
        cfg = self.config
        scale, coh_a, coh_b, note = coherence_constants(cfg, dtype, stats, shift)
        common: dict[str, Any] = {
            "threshold": theta,
            "levels": self._levels,
            "boundary": cfg.fractal_mode == "boundary",
            "gain_window": cfg.gain_window,
            "weights": self._weights,
            "shift": shift,
            "coh_a": coh_a,
            "coh_b": coh_b,
            "gamma": cfg.gamma,
            "offsets": cfg.fractal_offsets == "min",
            "base": cfg.box_base,
            "coh_local": cfg.coherence_normalize == "local",
            "inward": cfg.coherence_edge == "inward",
            "moment_scale": scale,
            "c_range": cfg.coherence_normalize == "frame",
        }
        return common, note

    def _frame_params(
        self, batch: np.ndarray, stats: np.ndarray, theta: np.ndarray, dt: float
    ) -> tuple[Any, str | None]:
        """The kernel parameters of a frame, and a note when C cannot be computed."""
        common, note = self._common_params(batch.dtype, stats, theta, moment_shift(batch, stats))
        if isinstance(self._tracker, RecursiveDwell):
            return self._tracker.frame_params(batch, stats, dt, **common), note
        assert self._tracker is not None
        return self._tracker.frame_params(batch, stats, **common), note

    def update(
        self,
        u: np.ndarray,
        *,
        step: int | None = None,
        t: float | None = None,
        keep_fields: bool | None = None,
        dominant_frequency: float | None = None,
    ) -> ComplexityMetrics | list[ComplexityMetrics]:
        """Analyze a new frame.

        Parameters
        ----------
        u : ndarray, shape (ny, nx) or (b, ny, nx)
            The field (float32 or float64), or a batch of b fields.
        step : int, optional
            Step number to record (default: the number of frames analyzed before).
        t : float, optional
            Simulated time to record (s; default NaN). The recursive dwell takes the time
            between frames from it (or else from ``frame_interval``).
        keep_fields : bool, optional
            Attach the fields to this result (default: the analyzer's ``keep_fields``);
            e.g. only for the last frame of a run, for :func:`save_metrics_png`.
        dominant_frequency : float, optional
            The field's dominant temporal frequency (Hz), for the aliasing check of tau:
            below 4 frames per period the result carries a note.

        Returns
        -------
        ComplexityMetrics, or a list of b of them for a batch.

        Raises
        ------
        FieldError
            Wrong rank, empty, NaN/inf, or a shape/dtype other than the first frame's.
        MetricError
            The grid is too small for box counting.
        """
        batch, single = as_batch(u)
        if self.config.backend == "wgpu":
            keep = self.keep_fields if keep_fields is None else keep_fields
            results = self._update_resident(
                self._upload(batch), step, t, keep, dominant_frequency
            )
            return results[0] if single else results
        if self._resident is not None:
            raise FieldError(
                "this analyzer holds a dwell history on the GPU (it analyzed a wgpu solver); "
                "call reset() before analyzing host frames"
            )
        if self._shape is None:
            self._setup(batch)
        else:
            self._check_same_fields(batch.shape, batch.dtype)
        assert self._tracker is not None
        kernels = self._kernels
        stats = kernels.frame_stats(batch)
        theta = self._threshold(stats)
        dt, time_note = self._frame_interval(t)
        params, c_note = self._frame_params(batch, stats, theta, dt)
        keep = self.keep_fields if keep_fields is None else keep_fields
        fields = (self._g, self._c, self._tau) if keep else None
        sums, counts = kernels.analyze_frame(batch, params, fields)
        self._tracker.advance(params)
        kept = None
        if keep:
            kept = [self._kept_fields(batch, k, theta[k], sums[k], stats, c_note)
                    for k in range(batch.shape[0])]
        return self._results(
            batch.shape, stats, theta, sums[:, :5], sums[:, 5:], counts, step, t, dt,
            [time_note, c_note], dominant_frequency, kept, single,
        )

    def _results(  # noqa: PLR0913 - the pieces of one frame
        self,
        shape: tuple[int, ...],
        stats: np.ndarray,
        theta: np.ndarray,
        sums: np.ndarray,
        c_range: np.ndarray | None,
        counts: np.ndarray,
        step: int | None,
        t: float | None,
        dt: float,
        notes: list[str | None],
        dominant_frequency: float | None,
        kept: list[dict[str, Any]] | None,
        single: bool,
    ) -> Any:
        """ComplexityMetrics from the per-member sums (G, C, tau, G C h, G h) of a frame.

        ``c_range`` holds the min and max of C per member (the "frame" rescaling) or None
        when the sums are of the final C already.
        """
        cfg = self.config
        step_value = self.frames if step is None else int(step)
        t_value = math.nan if t is None else float(t)
        self.frames += 1
        n_cells = shape[1] * shape[2]
        frame_mode = cfg.coherence_normalize == "frame" and c_range is not None
        c_undefined = notes[1] is not None
        g_scale = gain_scales(cfg, stats)
        frame_notes = [n for n in notes if n]
        if cfg.dwell_mode == "recursive":
            alias = aliasing_note(dominant_frequency, dt if notes[0] is None else math.nan)
            frame_notes += [alias] if alias else []
        frequency = math.nan if dominant_frequency is None else float(dominant_frequency)
        results = []
        fits = self._fit(counts)
        s_g = sums[:, 0] * g_scale
        s_gch, s_gh = sums[:, 3] * g_scale, sums[:, 4] * g_scale
        coherence, core = _coherence_means(
            sums[:, 1], s_gch, s_gh, c_range if frame_mode else None, n_cells, c_undefined
        )
        gain, dwell = (s_g / n_cells).tolist(), (sums[:, 2] / n_cells).tolist()
        threshold, active = theta.tolist(), (counts[:, 0] / n_cells).tolist()
        for k in range(shape[0]):
            dim, r2, d_note, scaling = fits[k]
            factor = cfg.alpha * dim**cfg.beta  # NaN when D is undefined
            extra: dict[str, Any] = {}
            if kept is not None:
                extra = dict(kept[k])
                extra["ci_field"] = extra.pop("ci_over_factor") * extra["gain_field"].dtype.type(
                    factor
                )
            note = "; ".join([n for n in (d_note, *frame_notes) if n]) or None
            results.append(
                ComplexityMetrics(
                    fractal_dim=dim,
                    fractal_r2=r2,
                    gain=gain[k],
                    coherence=float(coherence[k]),
                    dwell=dwell[k],
                    ci=float(factor * core[k]),
                    step=step_value,
                    t=t_value,
                    threshold=threshold[k],
                    active_fraction=active[k],
                    note=note,
                    fractal_scaling=scaling,
                    dominant_frequency=frequency,
                    **extra,
                )
            )
        return results[0] if single else results

    def _kept_fields(
        self,
        batch: np.ndarray,
        k: int,
        theta: float,
        sums: np.ndarray,
        stats: np.ndarray,
        c_note: str | None,
    ) -> dict[str, Any]:
        """Copies of the fields of member k of the frame just analyzed (CI over alpha D^beta)."""
        cfg = self.config
        c_k = self._c[k]
        g_k = self._g[k]
        g_k *= g_k.dtype.type(gain_scales(cfg, stats)[k])
        c_min, c_max = sums[5], sums[6]
        if c_note:
            c_k[...] = np.nan
        elif cfg.coherence_normalize == "frame":
            if c_max > c_min:
                c_k -= c_min
                c_k *= 1.0 / (c_max - c_min)
            else:
                c_k[...] = 1.0
        ci_k = self._ci[k]
        np.multiply(self._tau[k], -1.0 / cfg.gamma, out=ci_k)
        np.expm1(ci_k, out=ci_k)
        ci_k *= -1.0
        ci_k *= g_k
        ci_k *= c_k
        return {
            "gain_field": g_k.copy(),
            "coherence_field": c_k.copy(),
            "dwell_field": self._tau[k].copy(),
            "ci_over_factor": ci_k.copy(),
            "mask": np.abs(batch[k]) > theta,
        }

    def _upload(self, batch: np.ndarray) -> Any:
        """A GPU field state holding a host batch (reused frame after frame)."""
        from resonance_engine.backends.wgpu_gpu import WgpuFieldState

        scratch = getattr(self, "_scratch_state", None)
        if scratch is None or scratch.shape != batch.shape or scratch.dtype != batch.dtype:
            scratch = self._scratch_state = WgpuFieldState(batch.shape, batch.dtype)
        scratch.upload(batch, batch)
        return scratch

    def _update_resident(
        self,
        state: Any,
        step: int | None,
        t: float | None,
        keep_fields: bool,
        dominant_frequency: float | None = None,
    ) -> list[ComplexityMetrics]:
        """The measures of the current field of a GPU field state, computed on the GPU."""
        from resonance_engine.backends.wgpu_gpu.analysis import ResidentMeasures

        cfg = self.config
        b, ny, nx = state.shape
        if self._tracker is not None:
            raise FieldError(
                "this analyzer holds a dwell history of host frames; call reset() before "
                "analyzing a solver on the wgpu backend"
            )
        if self._shape is None:
            self._setup_sizes(ny, nx)
            self._resident = ResidentMeasures(
                state, cfg.dwell_history, cfg.dwell_lambda, cfg.dwell_scale, cfg.dwell_storage,
                recursive=cfg.dwell_mode == "recursive",
            )
            self._shape = (b, ny, nx)
            self._dtype = state.dtype
        else:
            self._check_same_fields(state.shape, state.dtype)
        resident = self._resident
        resident.bind(state)
        stats = resident.frame_stats()
        theta = self._threshold(stats)
        dt, time_note = self._frame_interval(t)
        common, c_note = self._common_params(state.dtype, stats, theta,
                                             resident.moment_shift(stats))
        decay, increment, rate = (
            recursive_coefficients(resident.frames_seen, dt, cfg.dwell_lambda)
            if resident.recursive else (0.0, 0.0, 0.0)
        )
        params = FrameParams(
            history=np.zeros((b, 1, 1, 1), dtype=np.int16), slots=np.zeros(0, dtype=np.int64),
            lag_weights=np.zeros(0), slot_scale=np.ones((b, 1)), inv_h=np.ones(b),
            store_slot=-1, store_scale=np.ones(b), decay=decay, increment=increment,
            decay_rate=rate, **common,
        )
        frame = resident.measure(
            stats, params, cfg.coherence_normalize == "frame", keep_fields
        )
        n_cells = ny * nx
        sums = np.zeros((b, 5))
        sums[:, :4] = frame.means * n_cells
        kept = None
        if frame.fields is not None:
            f = frame.fields
            g_scale = gain_scales(cfg, stats).astype(state.dtype)
            kept = [
                {
                    "gain_field": f["gain"][k] * g_scale[k],
                    "coherence_field": f["coherence"][k] * (np.nan if c_note else 1),
                    "dwell_field": f["dwell"][k],
                    "ci_over_factor": f["ci_over_factor"][k] * g_scale[k],
                    "mask": np.abs(f["u"][k]) > theta[k],
                }
                for k in range(b)
            ]
        results: list[ComplexityMetrics] = self._results(
            state.shape, stats, theta, sums, None, frame.counts, step, t, dt,
            [time_note, c_note], dominant_frequency, kept, False,
        )
        return results

    def _fit(self, counts: np.ndarray) -> list[tuple[float, float, str | None, bool | None]]:
        """D, R^2, a note and whether a power law holds, of each member (one fit over the
        members whose counts allow it), from the counts of every level (b, levels + 1)."""
        used = counts[:, self._level_index]
        empty = counts[:, 0] == 0
        fits = ~empty & np.all(used > 0, axis=1)
        dims = np.full(counts.shape[0], math.nan)
        r2s = np.full(counts.shape[0], math.nan)
        slopes = np.zeros((counts.shape[0], len(self._sizes) - 1))
        scaling = np.zeros(counts.shape[0], dtype=bool)
        if fits.any():
            dims[fits], r2s[fits] = fit_dimensions(self._sizes, used[fits])
            slopes[fits] = local_slopes(self._sizes, used[fits])
            scaling[fits] = scaling_ranges(dims[fits], slopes[fits], self.config.scaling_band)
        lows, highs = slopes.min(axis=1).tolist(), slopes.max(axis=1).tolist()
        out: list[tuple[float, float, str | None, bool | None]] = []
        for k, (dim, r2, is_empty, fit, scales) in enumerate(
            zip(dims.tolist(), r2s.tolist(), empty.tolist(), fits.tolist(), scaling.tolist(),
                strict=True)
        ):
            if is_empty:
                out.append((math.nan, math.nan,
                            "empty mask: no cell above the threshold, D undefined", None))
            elif not fit:
                out.append((
                    math.nan, math.nan,
                    "no boundary box at some size (full mask?), D undefined in boundary mode",
                    None,
                ))
            elif scales:
                out.append((dim, r2, None, True))
            else:
                note = (
                    f"D has no scaling range: local slopes {lows[k]:.2f}..{highs[k]:.2f} "
                    f"are not within D +- {self.config.scaling_band:g}"
                )
                out.append((dim, r2, note, False))
        return out

    def __repr__(self) -> str:
        return f"ComplexityAnalyzer({self.config!r}, keep_fields={self.keep_fields})"


def _coherence_means(
    s_c: np.ndarray,
    s_gch: np.ndarray,
    s_gh: np.ndarray,
    c_range: np.ndarray | None,
    n_cells: int,
    undefined: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean C and mean G C h of each member (b,) from the sums of C, G C h and G h.

    With ``c_range`` (min and max of C per member, the "frame" rescaling) C = (C_raw -
    min) / (max - min) is affine in C_raw, so the means follow from the raw sums (C = 1
    for a member whose C is constant); NaN when C is ``undefined``.
    """
    if undefined:
        nan = np.full(s_c.shape, math.nan)
        return nan, nan
    if c_range is None:
        return s_c / n_cells, s_gch / n_cells
    c_min, c_max = c_range[:, 0], c_range[:, 1]
    spread = c_max > c_min
    width = np.where(spread, c_max - c_min, 1.0)
    coherence = np.where(spread, (s_c / n_cells - c_min) / width, 1.0)
    core = np.where(spread, (s_gch - c_min * s_gh) / width / n_cells, s_gh / n_cells)
    return coherence, core


#: Frames per period of the dominant frequency below which the recursive tau is aliased.
MIN_FRAMES_PER_PERIOD = 4.0


def aliasing_note(frequency: float | None, dt: float) -> str | None:
    """The note of a frame rate below 4 frames per period of ``frequency`` (else None)."""
    if frequency is None or not math.isfinite(frequency) or not math.isfinite(dt):
        return None
    if frequency <= 0 or frequency * dt * MIN_FRAMES_PER_PERIOD <= 1.0:
        return None
    return (
        f"tau is aliased: {1.0 / (frequency * dt):.2f} frames per period of the dominant "
        f"frequency {frequency:.3g} Hz (< {MIN_FRAMES_PER_PERIOD:g}); measure more often"
    )


def field_frequency(solver: Any) -> float | None:
    """The dominant temporal frequency of a solver's field (Hz), or None when unknown.

    The RMS angular frequency sqrt(mean(du/dt^2) / mean((u - mean)^2)) / (2 pi) from the
    two fields one step apart (every 8th row, so it costs little), which is exact for a
    field oscillating at one frequency; on a GPU solver (reading the fields back would
    cost a transfer) the highest source frequency.
    """
    state = getattr(solver, "_state", None)
    dt = getattr(solver, "dt", None)
    if state is None or dt is None:
        return None
    if getattr(state, "resident", False):
        freqs = [float(s.frequency) for s in getattr(solver, "sources", []) or []]
        return max(freqs) if freqs else None
    cur = state.current()[:, ::8].astype(np.float64)
    prev = state.previous()[:, ::8].astype(np.float64)
    spread = float(((cur - cur.mean()) ** 2).mean())
    if not spread > 0:
        return None
    rate = float((((cur - prev) / dt) ** 2).mean())
    return math.sqrt(rate / spread) / (2 * math.pi)


def gain_scales(config: MetricsConfig, stats: np.ndarray) -> np.ndarray:
    """The factor applied to G of each member (b,): 1/RMS, 1/reference or 1."""
    if config.gain_scale == "rms":
        rms = np.sqrt(np.maximum(stats[:, 1], 0.0))
        scales: np.ndarray = np.where(rms > 0, 1.0 / np.where(rms > 0, rms, 1.0), 1.0)
        return scales
    if config.gain_scale == "fixed":
        return np.full(stats.shape[0], 1.0 / config.gain_reference)
    return np.ones(stats.shape[0])


def coherence_constants(
    config: MetricsConfig, dtype: np.dtype, stats: np.ndarray, shift: np.ndarray
) -> tuple[np.ndarray, float, float, str | None]:
    """Moment scale (b,), coh_a, coh_b of the kernels, and a note when C overflows.

    The moments are taken of (u - shift) * scale. For the "frame" and "bounded" forms the
    scale is one power of two for the batch (exact: the numbers are those of the unscaled
    moments) and coh_a absorbs 1 / scale^2; when that does not fit the field's dtype
    (float32 fields near 1e19 and above) C is reported NaN with a note instead of a
    silent C = 1. "local" takes a power of two per member, "relative" 1 / sqrt(frame
    variance) per member (then coh_a = 1 / coherence_scale).
    """
    mode = config.coherence_normalize
    reach = np.abs(stats[:, 2]) + np.abs(shift)  # bounds |u - shift|
    exponent = np.frexp(np.where(reach > 0, reach, 1.0))[1]
    if mode == "local":
        return np.ldexp(1.0, -exponent), 1.0, 1.0, None
    if mode == "relative":
        spread = np.maximum(stats[:, 1] - stats[:, 0] ** 2, 0.0)
        scale = np.where(spread > 0, 1.0 / np.sqrt(np.where(spread > 0, spread, 1.0)), 1.0)
        return scale, 1.0 / config.coherence_scale, 1.0, None
    common = int(exponent.max())
    scale = np.full(stats.shape[0], math.ldexp(1.0, -common))
    base = 1.0 if mode == "frame" else 1.0 / config.coherence_scale
    coh_a = base * math.ldexp(1.0, 2 * common)
    coh_b = config.coherence_eps if mode == "frame" else 1.0
    limit = float(np.finfo(dtype).max) / 16.0  # var of the scaled moments is below 4
    if coh_a > limit:
        return scale, 1.0, coh_b, (
            f"C undefined: the {mode!r} coherence of a {np.dtype(dtype).name} field with "
            f"max|u| = {float(stats[:, 2].max()):.3g} overflows {np.dtype(dtype).name}; use "
            "float64 fields or coherence_normalize='local'"
        )
    return scale, coh_a, coh_b, None


def summarize_series(series: Sequence[ComplexityMetrics]) -> dict[str, float]:
    """Final and mean values of D, G, C, tau and CI over a run (NaN frames skipped).

    Returns
    -------
    dict
        ``{"D_final", "D_mean", "G_final", ..., "CI_final", "CI_mean", "frames"}``; the
        keys suit a run summary or its JSON.
    """
    out: dict[str, float] = {"frames": len(series)}
    for attr, key in (("fractal_dim", "D"), ("gain", "G"), ("coherence", "C"),
                      ("dwell", "tau"), ("ci", "CI")):
        values = np.array([getattr(m, attr) for m in series], dtype=np.float64)
        out[f"{key}_final"] = float(values[-1]) if len(values) else math.nan
        finite = values[np.isfinite(values)]
        out[f"{key}_mean"] = float(finite.mean()) if len(finite) else math.nan
    return out
