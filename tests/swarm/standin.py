"""A small stand-in measure for the swarm tests (fast, numpy only).

It follows the measure protocol of :mod:`resonance_engine.swarm.measure`: fields of shape
(b, ny, nx) in, one object with fractal_dim, coherence, gain, dwell and ci per field out.
Its CI grows with the field amplitude, like the real Complexity Index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StandInMetrics:
    fractal_dim: float
    coherence: float
    gain: float
    dwell: float
    ci: float


class StandInMeasure:
    """Per field: G = mean |u|, C = 1/(1 + var/mean(u^2)), tau = similarity with the
    previous frame, D = occupancy box-counting slope of |u| > RMS, CI = D G C tau."""

    def __init__(self) -> None:
        self._previous: np.ndarray | None = None

    def __call__(self, fields: np.ndarray) -> list[StandInMetrics]:
        u = np.asarray(fields, dtype=np.float64)
        b = u.shape[0]
        gain = np.abs(u).mean(axis=(1, 2))
        power = (u**2).mean(axis=(1, 2)) + 1e-30
        coherence = 1.0 / (1.0 + u.var(axis=(1, 2)) / power)
        if self._previous is None or self._previous.shape != u.shape:
            dwell = np.ones(b)
        else:
            diff = ((u - self._previous) ** 2).mean(axis=(1, 2))
            dwell = 1.0 / (1.0 + diff / power)
        self._previous = u.copy()
        mask = np.abs(u) > np.sqrt(power)[:, None, None]
        sizes, counts = [], []
        for box in (2, 4, 8):
            ny, nx = (u.shape[1] // box) * box, (u.shape[2] // box) * box
            boxes = mask[:, :ny, :nx].reshape(b, ny // box, box, nx // box, box).any(axis=(2, 4))
            sizes.append(box)
            counts.append(boxes.sum(axis=(1, 2)) + 1)
        slope = -np.polyfit(np.log(sizes), np.log(np.array(counts, dtype=float)), 1)[0]
        ci = slope * gain * coherence * dwell
        return [
            StandInMetrics(
                float(slope[i]), float(coherence[i]), float(gain[i]), float(dwell[i]), float(ci[i])
            )
            for i in range(b)
        ]


def standin_factory() -> StandInMeasure:
    """Module-level factory (picklable for process pools)."""
    return StandInMeasure()
