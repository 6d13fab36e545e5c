"""What an RL agent observes: its measures, scaled by a reference field, and their changes.

The five measures of a field (D, C, G, tau, CI; the content of a 64-byte signature) live on
very different scales: D is about 1-2, C is in [0, 1], while G and CI are in units of the
field and change by orders of magnitude with the grid and the drive. A policy network wants
inputs of order one, so each measure x is turned into a feature relative to the same measure
of a *reference field* (the environment's nominal field, gain 1, measured once):

    D - D_ref,   C - C_ref,   ln(G / G_ref),   ln(tau / tau_ref),   ln(CI / CI_ref)

Non-finite values (an empty mask makes D and CI NaN) become 0 and every feature is clipped to
[-FEATURE_LIMIT, FEATURE_LIMIT], so an observation always lies in its Box.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from resonance_engine.errors import ConfigError
from resonance_engine.swarm.measure import MetricsLike

__all__ = ["FEATURE_LIMIT", "MEASURE_NAMES", "MeasureReference", "measure_vector", "features"]

#: Every observation feature is clipped to [-FEATURE_LIMIT, FEATURE_LIMIT].
FEATURE_LIMIT = 10.0
#: The order of the measures in observations (the order of a signature's fields).
MEASURE_NAMES = ("fractal_dim", "coherence", "gain", "dwell", "ci")


@dataclass(frozen=True)
class MeasureReference:
    """The measures of the reference field (see the module docstring).

    Attributes
    ----------
    fractal_dim, coherence : float
        Subtracted from D and C.
    gain, dwell, ci : float
        Divide G, tau and CI before the logarithm (> 0).
    """

    fractal_dim: float = 1.5
    coherence: float = 0.5
    gain: float = 1.0
    dwell: float = 1.0
    ci: float = 1.0

    def __post_init__(self) -> None:
        for name in ("gain", "dwell", "ci"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"MeasureReference.{name} must be finite and > 0, got {value!r}")
        for name in ("fractal_dim", "coherence"):
            if not math.isfinite(getattr(self, name)):
                raise ConfigError(f"MeasureReference.{name} must be finite")

    @classmethod
    def from_values(cls, values: np.ndarray) -> MeasureReference:
        """Medians over rows of measures (shape (n, 5), MEASURE_NAMES order); non-finite
        and non-positive values are skipped, a measure with none usable keeps the default."""
        values = np.asarray(values, dtype=np.float64).reshape(-1, 5)
        defaults = cls()
        kwargs: dict[str, float] = {}
        for k, name in enumerate(MEASURE_NAMES):
            col = values[:, k]
            ok = np.isfinite(col) & ((col > 0) if name in ("gain", "dwell", "ci") else True)
            kwargs[name] = float(np.median(col[ok])) if ok.any() else getattr(defaults, name)
        return cls(**kwargs)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def measure_vector(m: MetricsLike) -> np.ndarray:
    """(D, C, G, tau, CI) of ``m`` as a float64 array of shape (5,)."""
    return np.array([float(getattr(m, name)) for name in MEASURE_NAMES], dtype=np.float64)


def features(values: np.ndarray, reference: MeasureReference) -> np.ndarray:
    """The scaled features of measures ``values`` (shape (..., 5), in MEASURE_NAMES order).

    Returns float64 of the same shape, finite and within +-FEATURE_LIMIT.
    """
    v = np.asarray(values, dtype=np.float64)
    out = np.empty_like(v)
    out[..., 0] = v[..., 0] - reference.fractal_dim
    out[..., 1] = v[..., 1] - reference.coherence
    with np.errstate(divide="ignore", invalid="ignore"):
        out[..., 2] = np.log(v[..., 2] / reference.gain)
        out[..., 3] = np.log(v[..., 3] / reference.dwell)
        out[..., 4] = np.log(v[..., 4] / reference.ci)
    # ln 0 = -inf is the weakest possible value (-LIMIT); NaN (undefined) carries nothing (0)
    out = np.nan_to_num(out, nan=0.0, posinf=FEATURE_LIMIT, neginf=-FEATURE_LIMIT)
    return np.clip(out, -FEATURE_LIMIT, FEATURE_LIMIT)
