"""All the measures of a resident frame on the GPU, for :class:`ComplexityAnalyzer`.

:class:`ResidentMeasures` runs the steps of :meth:`ComplexityAnalyzer.update
<resonance_engine.metrics.ComplexityAnalyzer.update>` on the current field of a
:class:`~resonance_engine.backends.wgpu_gpu.field.WgpuFieldState` without reading it
back: frame statistics and box counts (reductions), G, C, tau (the recursive dwell's
state, or the ring buffer of past frames, stays on the GPU) and the CI combination with
the spatial means. Only per-member scalars cross to the host, plus the fields when asked
for. The ring's bookkeeping (slots, lag weights, per-frame code scales, h) is the one of
:class:`~resonance_engine.metrics.dwell.DwellTimeTracker`, so tau is the same as on the
CPU."""

from __future__ import annotations

import numpy as np

from resonance_engine.backends.base import FrameParams
from resonance_engine.backends.frame_scales import dwell_scales, moment_shift
from resonance_engine.backends.wgpu_gpu.field import WgpuFieldState
from resonance_engine.backends.wgpu_gpu.metrics import WgpuMetricFields

__all__ = ["ResidentMeasures", "FrameMeasures"]


class FrameMeasures:
    """What one frame gives back: scalars per member (and the fields when asked).

    Attributes
    ----------
    stats : ndarray, shape (b, 3)
        Mean, mean square and max |u|.
    counts : ndarray, shape (b, levels + 1)
        Box counts of the mask at sizes 1, 2, ..., 2**levels.
    means : ndarray, shape (b, 4)
        Spatial means of G, C, tau and E = G C (1 - exp(-tau / gamma)).
    fields : dict of str to ndarray or None
        "gain", "coherence", "dwell", "ci_over_factor" and "u" (each (b, ny, nx)) when
        read back.
    """

    def __init__(
        self,
        stats: np.ndarray,
        counts: np.ndarray,
        means: np.ndarray,
        fields: dict[str, np.ndarray] | None,
    ) -> None:
        self.stats = stats
        self.counts = counts
        self.means = means
        self.fields = fields


class ResidentMeasures:
    """The measures of successive frames of one run, on the GPU.

    Parameters
    ----------
    state : WgpuFieldState
        Where the frames are (its current u[n] at each :meth:`measure`).
    history : int
        K, past frames in the dwell ring (the ring form).
    lam : float
        Decay of the lag weights exp(-k / lambda) (frames; the ring form).
    scale : float
        h = scale * RMS of each frame.
    storage : {"int16", "float"}
        How the ring stores frames.
    recursive : bool
        The recursive dwell (its state, the previous frame and tau, stays on the GPU)
        instead of the ring.
    """

    def __init__(
        self, state: WgpuFieldState, history: int, lam: float, scale: float, storage: str,
        recursive: bool = False,
    ) -> None:
        self.fields = WgpuMetricFields(state)
        self.recursive = bool(recursive)
        if self.recursive:
            self.fields.use_recursive()
        else:
            self.fields.use_history(history, storage == "int16")
        self.history = int(history)
        self.scale = float(scale)
        self.storage = storage
        self._weights = np.exp(-np.arange(1, self.history + 1) / float(lam))
        self._slot_scale = np.ones((state.shape[0], self.history))
        self._head = 0
        self.frames_seen = 0

    def bind(self, state: WgpuFieldState) -> None:
        """Measure the frames of another state of the same shape and dtype from now on."""
        self.fields.state = state

    def _dwell(
        self, stats: np.ndarray, decay: float = 0.0, increment: float = 0.0, rate: float = 0.0
    ) -> None:
        """tau of the current frame; the coefficients are the recursive dwell's."""
        if self.recursive:
            inv_h, _ = dwell_scales(stats, self.scale, "float")
            self.fields.recursive_dwell(inv_h, decay, increment, rate)
            self.frames_seen += 1
            return
        inv_h, store = dwell_scales(stats, self.scale, self.storage)
        n = min(self.frames_seen, self.history)
        slots = (self._head - np.arange(1, n + 1)) % self.history
        self.fields.dwell(
            slots, self._weights[:n], self._slot_scale, inv_h, self._head, store
        )
        self._slot_scale[:, self._head] = 1.0 / store
        self._head = (self._head + 1) % self.history
        self.frames_seen += 1

    def frame_stats(self) -> np.ndarray:
        """Mean, mean square and max |u| of the current frame, shape (b, 3)."""
        return self.fields.state.frame_stats()

    def moment_shift(self, stats: np.ndarray) -> np.ndarray:
        """The shift of the local moments (:func:`moment_shift`) of the current frame; it
        reads u[k, 0, 0] back only for a frame that is constant to rounding."""
        spread = stats[:, 1] - stats[:, 0] ** 2
        flat = spread <= 1e-12 * np.maximum(stats[:, 1], np.finfo(np.float64).tiny)
        first = self.fields.first_cells() if flat.any() else stats[:, 0]
        return moment_shift(first.reshape(-1, 1, 1), stats)

    def measure(
        self, stats: np.ndarray, params: FrameParams, rescale: bool, keep_fields: bool
    ) -> FrameMeasures:
        """Box counts, G, C, tau and the CI combination of the current frame.

        ``stats`` comes from :meth:`frame_stats` (checked finite by the caller);
        ``params`` are those of :meth:`MetricKernels.analyze_frame
        <resonance_engine.backends.base.MetricKernels.analyze_frame>`, except the dwell's:
        this object keeps the ring (or the recursive state) and takes only decay,
        increment and decay_rate. ``rescale``: C rescaled to [0, 1] per member (the seed's
        "frame" form). The frame is stored in the dwell ring (or state).
        """
        p = params
        state = self.fields.state
        if p.offsets or p.base != 2:
            counts = state.shifted_box_counts(p.threshold, p.levels, p.boundary, p.base,
                                              p.offsets)
        else:
            counts = state.box_counts(p.threshold, p.levels, p.boundary)
        self.fields.gain(p.gain_window)
        self.fields.coherence(
            p.weights, p.shift, "local" if p.coh_local else "affine", p.coh_b, p.coh_a,
            moment_scale=p.moment_scale, inward=p.inward, rescale=rescale,
        )
        self._dwell(stats, p.decay, p.increment, p.decay_rate)
        means = self.fields.combine(p.gamma)
        fields = None
        if keep_fields:
            f = self.fields
            fields = {
                "gain": f.read(f.gain_buffer),
                "coherence": f.read(f.coherence_buffer),
                "dwell": f.read(f.dwell_buffer),
                "ci_over_factor": f.read(f.ci_buffer),
                "u": state.current(),
            }
        return FrameMeasures(stats, counts, means, fields)
