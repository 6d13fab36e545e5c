"""How a swarm measures its agents' fields: the measurement protocol.

A *measure* is a callable that takes the current fields of the agents hosted in one
process, an array of shape (b, ny, nx), and returns b objects with the attributes
``fractal_dim``, ``coherence``, ``gain``, ``dwell`` and ``ci`` (e.g. the
``ComplexityMetrics`` of :class:`resonance_engine.metrics.ComplexityAnalyzer`). Measures
may keep state between calls (the dwell time needs past frames), so a swarm creates its
own from a picklable *measure factory* (a zero-argument callable).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from resonance_engine.errors import ConfigError

__all__ = ["MetricsLike", "Measure", "MeasureFactory", "AnalyzerMeasure"]


class MetricsLike(Protocol):
    """The complexity measures of one field (what a signature carries)."""

    @property
    def fractal_dim(self) -> float: ...

    @property
    def coherence(self) -> float: ...

    @property
    def gain(self) -> float: ...

    @property
    def dwell(self) -> float: ...

    @property
    def ci(self) -> float: ...


#: fields (b, ny, nx) -> b metric objects.
Measure = Callable[[np.ndarray], Sequence[MetricsLike]]
#: () -> a fresh Measure (picklable, so that worker processes can build their own).
MeasureFactory = Callable[[], Measure]


@dataclass(frozen=True)
class AnalyzerMeasure:
    """Factory of the default measure: a :class:`resonance_engine.metrics.ComplexityAnalyzer`.

    Parameters
    ----------
    config : dict, optional
        Keyword arguments of ``MetricsConfig`` (defaults otherwise).
    """

    config: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def with_config(cls, **kwargs: Any) -> AnalyzerMeasure:
        return cls(tuple(sorted(kwargs.items())))

    def __call__(self) -> Measure:
        try:
            from resonance_engine.metrics import ComplexityAnalyzer, MetricsConfig
        except ImportError as exc:
            raise ConfigError(
                "the swarm's default measure needs resonance_engine.metrics.ComplexityAnalyzer, "
                f"which cannot be imported ({exc}); pass measure=... to Swarm"
            ) from None
        analyzer = ComplexityAnalyzer(MetricsConfig(**dict(self.config)))

        def measure(fields: np.ndarray) -> Sequence[MetricsLike]:
            result = analyzer.update(fields)
            return result if isinstance(result, list) else [result]

        return measure
