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
from resonance_engine.errors import FieldError
from resonance_engine.metrics._input import as_batch
from resonance_engine.metrics.coherence import (
    gaussian_weights,
    moment_shift,
)
from resonance_engine.metrics.config import MetricsConfig
from resonance_engine.metrics.dwell import DwellTimeTracker
from resonance_engine.metrics.fractal import box_sizes, fit_dimension, frame_threshold

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
        Spatial mean of G (units of u).
    coherence : float
        Spatial mean of C ([0, 1]).
    dwell : float
        Spatial mean of tau (frames).
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
        Why a value is NaN, else None.
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
        self._tracker: DwellTimeTracker | None = None
        self._resident: Any = None  # ResidentMeasures of the wgpu path
        self.frames = 0

    def reset(self) -> None:
        """Forget the dwell history, the frame counter, the shape and the buffers."""
        self._shape = None
        self._dtype = None
        self._tracker = None
        self._resident = None
        self.frames = 0

    @property
    def max_dwell(self) -> float:
        """The largest possible mean dwell (frames)."""
        w = np.exp(-np.arange(1, self.config.dwell_history + 1) / self.config.dwell_lambda)
        return float(w.sum())

    def _setup(self, batch: np.ndarray) -> None:
        cfg = self.config
        b, ny, nx = batch.shape
        self._sizes = box_sizes((ny, nx), cfg.min_box, cfg.max_box)
        self._levels = int(self._sizes[-1]).bit_length() - 1
        self._level_index = [int(s).bit_length() - 1 for s in self._sizes]
        self._g = np.empty_like(batch)
        self._c = np.empty_like(batch)
        self._tau = np.empty_like(batch)
        self._ci = np.empty_like(batch)
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

    def observe(
        self, solver: _HasField, *, keep_fields: bool | None = None
    ) -> ComplexityMetrics | list[ComplexityMetrics]:
        """Analyze a solver's current field, stamped with its step and time.

        When the solver's fields live on a GPU (``backend="wgpu"``) and the config's
        backend is "auto" or "wgpu", the measures run there on the resident field: only
        scalars come back (and the fields when kept).
        """
        state = getattr(solver, "_state", None)
        if getattr(state, "resident", False) and self.config.backend in ("auto", "wgpu"):
            keep = self.keep_fields if keep_fields is None else keep_fields
            results = self._update_resident(state, solver.step_count, solver.t, keep)
            return results[0] if getattr(solver, "batch", None) is None else results
        return self.update(solver.u, step=solver.step_count, t=solver.t, keep_fields=keep_fields)

    def update(
        self,
        u: np.ndarray,
        *,
        step: int | None = None,
        t: float | None = None,
        keep_fields: bool | None = None,
    ) -> ComplexityMetrics | list[ComplexityMetrics]:
        """Analyze a new frame.

        Parameters
        ----------
        u : ndarray, shape (ny, nx) or (b, ny, nx)
            The field (float32 or float64), or a batch of b fields.
        step : int, optional
            Step number to record (default: the number of frames analyzed before).
        t : float, optional
            Simulated time to record (s; default NaN).
        keep_fields : bool, optional
            Attach the fields to this result (default: the analyzer's ``keep_fields``);
            e.g. only for the last frame of a run, for :func:`save_metrics_png`.

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
            results = self._update_resident(self._upload(batch), step, t, keep)
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
        cfg = self.config
        kernels = self._kernels
        stats = kernels.frame_stats(batch)
        theta = self._threshold(stats)
        params = self._tracker.frame_params(
            batch,
            stats,
            threshold=theta,
            levels=self._levels,
            boundary=cfg.fractal_mode == "boundary",
            gain_window=cfg.gain_window,
            weights=self._weights,
            shift=moment_shift(batch, stats),
            coh_a=1.0 if cfg.coherence_normalize == "frame" else 1.0 / cfg.coherence_scale,
            coh_b=cfg.coherence_eps if cfg.coherence_normalize == "frame" else 1.0,
            gamma=cfg.gamma,
        )
        keep = self.keep_fields if keep_fields is None else keep_fields
        fields = (self._g, self._c, self._tau) if keep else None
        sums, counts = kernels.analyze_frame(batch, params, fields)
        self._tracker.advance(params)
        step_value = self.frames if step is None else int(step)
        t_value = math.nan if t is None else float(t)
        self.frames += 1
        n_cells = batch.shape[1] * batch.shape[2]
        frame_mode = cfg.coherence_normalize == "frame"
        results = []
        for k in range(batch.shape[0]):
            dim, r2, note = self._fit(counts[k])
            s_g, s_c, s_t, s_gch, s_gh, c_min, c_max = sums[k]
            if frame_mode and c_max > c_min:
                # C = (C_raw - min) / (max - min) is affine in C_raw: the means follow
                coherence = (s_c / n_cells - c_min) / (c_max - c_min)
                core = (s_gch - c_min * s_gh) / (c_max - c_min) / n_cells
            elif frame_mode:
                coherence, core = 1.0, s_gh / n_cells
            else:
                coherence, core = s_c / n_cells, s_gch / n_cells
            factor = cfg.alpha * dim**cfg.beta  # NaN when D is undefined
            extra: dict[str, Any] = {}
            if keep:
                c_k = self._c[k]
                if frame_mode:
                    if c_max > c_min:
                        c_k -= c_min
                        c_k *= 1.0 / (c_max - c_min)
                    else:
                        c_k[...] = 1.0
                ci_k = self._ci[k]
                np.multiply(self._tau[k], -1.0 / cfg.gamma, out=ci_k)
                np.expm1(ci_k, out=ci_k)
                ci_k *= -factor
                ci_k *= self._g[k]
                ci_k *= c_k
                extra = {
                    "gain_field": self._g[k].copy(),
                    "coherence_field": c_k.copy(),
                    "dwell_field": self._tau[k].copy(),
                    "ci_field": ci_k.copy(),
                    "mask": np.abs(batch[k]) > theta[k],
                }
            results.append(
                ComplexityMetrics(
                    fractal_dim=dim,
                    fractal_r2=r2,
                    gain=float(s_g / n_cells),
                    coherence=float(coherence),
                    dwell=float(s_t / n_cells),
                    ci=float(factor * core),
                    step=step_value,
                    t=t_value,
                    threshold=float(theta[k]),
                    active_fraction=float(counts[k, 0]) / n_cells,
                    note=note,
                    **extra,
                )
            )
        return results[0] if single else results

    def _upload(self, batch: np.ndarray) -> Any:
        """A GPU field state holding a host batch (reused frame after frame)."""
        from resonance_engine.backends.wgpu_gpu import WgpuFieldState

        scratch = getattr(self, "_scratch_state", None)
        if scratch is None or scratch.shape != batch.shape or scratch.dtype != batch.dtype:
            scratch = self._scratch_state = WgpuFieldState(batch.shape, batch.dtype)
        scratch.upload(batch, batch)
        return scratch

    def _update_resident(
        self, state: Any, step: int | None, t: float | None, keep_fields: bool
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
            self._sizes = box_sizes((ny, nx), cfg.min_box, cfg.max_box)
            self._levels = int(self._sizes[-1]).bit_length() - 1
            self._level_index = [int(s).bit_length() - 1 for s in self._sizes]
            self._resident = ResidentMeasures(
                state, cfg.dwell_history, cfg.dwell_lambda, cfg.dwell_scale, cfg.dwell_storage
            )
            self._shape = (b, ny, nx)
            self._dtype = state.dtype
        else:
            self._check_same_fields(state.shape, state.dtype)
        resident = self._resident
        resident.bind(state)
        stats = resident.frame_stats()
        theta = self._threshold(stats)
        frame = resident.measure(
            stats, theta, self._levels, cfg.fractal_mode == "boundary", cfg.gain_window,
            self._weights, cfg.coherence_normalize, cfg.coherence_eps, cfg.coherence_scale,
            cfg.gamma, keep_fields,
        )
        step_value = self.frames if step is None else int(step)
        t_value = math.nan if t is None else float(t)
        self.frames += 1
        results = []
        for k in range(b):
            dim, r2, note = self._fit(frame.counts[k])
            factor = cfg.alpha * dim**cfg.beta  # NaN when D is undefined
            extra: dict[str, Any] = {}
            if frame.fields is not None:
                f = frame.fields
                extra = {
                    "gain_field": f["gain"][k],
                    "coherence_field": f["coherence"][k],
                    "dwell_field": f["dwell"][k],
                    "ci_field": f["ci_over_factor"][k] * f["ci_over_factor"].dtype.type(factor),
                    "mask": np.abs(f["u"][k]) > theta[k],
                }
            gain, coherence, dwell, combined = frame.means[k]
            results.append(
                ComplexityMetrics(
                    fractal_dim=dim,
                    fractal_r2=r2,
                    gain=float(gain),
                    coherence=float(coherence),
                    dwell=float(dwell),
                    ci=float(factor * combined),
                    step=step_value,
                    t=t_value,
                    threshold=float(theta[k]),
                    active_fraction=float(frame.counts[k, 0]) / (ny * nx),
                    note=note,
                    **extra,
                )
            )
        return results

    def _fit(self, counts: np.ndarray) -> tuple[float, float, str | None]:
        if counts[0] == 0:
            return math.nan, math.nan, "empty mask: no cell above the threshold, D undefined"
        used = counts[self._level_index]
        if np.any(used <= 0):
            return (
                math.nan,
                math.nan,
                "no boundary box at some size (full mask?), D undefined in boundary mode",
            )
        dim, r2 = fit_dimension(self._sizes, used)
        return dim, r2, None

    def __repr__(self) -> str:
        return f"ComplexityAnalyzer({self.config!r}, keep_fields={self.keep_fields})"



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
