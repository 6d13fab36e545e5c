"""All the measures of a resident frame on the GPU, for :class:`ComplexityAnalyzer`.

:class:`ResidentMeasures` runs the steps of
:meth:`ComplexityAnalyzer.update <resonance_engine.metrics.ComplexityAnalyzer.update>` on
the current field of a :class:`~resonance_engine.backends.wgpu_gpu.field.WgpuFieldState`
without reading it back: frame statistics and box counts (reductions), G, C, tau (its ring
buffer of past frames stays on the GPU) and the CI combination with the spatial means.
Only per-member scalars cross to the host, plus the fields when asked for. The ring's
bookkeeping (slots, lag weights, per-frame code scales, h) is the one of
:class:`~resonance_engine.metrics.dwell.DwellTimeTracker`, so tau is the same as on the
CPU.
"""

from __future__ import annotations

import numpy as np

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
        K, past frames in the dwell ring.
    lam : float
        Decay of the lag weights exp(-k / lambda) (frames).
    scale : float
        h = scale * RMS of each frame.
    storage : {"int16", "float"}
        How the ring stores frames.
    """

    def __init__(
        self, state: WgpuFieldState, history: int, lam: float, scale: float, storage: str
    ) -> None:
        self.fields = WgpuMetricFields(state)
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

    def _dwell(self, stats: np.ndarray) -> None:
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

    def measure(
        self,
        stats: np.ndarray,
        theta: np.ndarray,
        levels: int,
        boundary: bool,
        window: int,
        weights: np.ndarray,
        normalize: str,
        eps: float,
        coherence_scale: float,
        gamma: float,
        keep_fields: bool,
    ) -> FrameMeasures:
        """Box counts, G, C, tau and the CI combination of the current frame.

        Parameters are those of :class:`~resonance_engine.metrics.MetricsConfig`;
        ``stats`` comes from :meth:`frame_stats` (checked finite by the caller) and
        ``theta`` (b,) is the mask threshold. The frame is stored in the dwell ring.
        """
        state = self.fields.state
        counts = state.box_counts(theta, levels, boundary)
        self.fields.gain(window)
        b = state.shape[0]
        # moment_shift reads u[k, 0, 0] only for a frame that is constant to rounding
        spread = stats[:, 1] - stats[:, 0] ** 2
        flat = spread <= 1e-12 * np.maximum(stats[:, 1], np.finfo(np.float64).tiny)
        first = self.fields.first_cells() if flat.any() else stats[:, 0]
        shift = moment_shift(first.reshape(b, 1, 1), stats)
        self.fields.coherence(weights, shift, normalize, eps, coherence_scale)
        self._dwell(stats)
        means = self.fields.combine(gamma)
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
