"""Chart feeds: what the dashboard charts next to the field.

A chart feed is anything with ``names`` (the series, in chart order) and
``update(u, step, t) -> dict`` (one value per name for one frame). The dashboard
calls it from the simulation thread every ``metrics_every`` steps.

- :class:`ComplexityFeed` wraps ``resonance_engine.metrics.ComplexityAnalyzer``
  and charts D, G, C, tau and CI (the default).
- :class:`FieldStatsFeed` charts plain field statistics (RMS and peak of |u|), e.g. for
  fields too large to measure at the frame rate (``resonance serve --metrics stats``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "ChartFeed",
    "FieldStatsFeed",
    "ComplexityFeed",
    "default_chart_feed",
]


@runtime_checkable
class ChartFeed(Protocol):
    """The narrow interface between the dashboard and a complexity analyzer."""

    #: Series names, in the order the page shows them.
    names: tuple[str, ...]
    #: One line saying what computes the values (shown on the page).
    description: str

    def update(self, u: np.ndarray, step: int, t: float) -> Mapping[str, float]:
        """Values of every series for the field ``u`` (shape (ny, nx)) at ``step``, ``t``."""
        ...


class FieldStatsFeed:
    """RMS and peak of |u| of each frame (field units): a feed that needs nothing."""

    names: tuple[str, ...] = ("rms", "peak")
    description = "field statistics (RMS and peak |u|)"

    def update(self, u: np.ndarray, step: int, t: float) -> dict[str, float]:
        a = np.asarray(u, dtype=np.float64)
        return {"rms": float(np.sqrt(np.mean(a * a))), "peak": float(np.max(np.abs(a)))}


class ComplexityFeed:
    """D, G, C, tau and CI from a ``ComplexityAnalyzer`` (Resonance Complexity Theory).

    Parameters
    ----------
    analyzer : object
        Anything with ``update(u, step=..., t=...) -> ComplexityMetrics`` whose result
        has the attributes ``fractal_dim``, ``gain``, ``coherence``, ``dwell`` and ``ci``
        (``resonance_engine.metrics.ComplexityAnalyzer``).
    """

    names: tuple[str, ...] = ("D", "G", "C", "tau", "CI")
    _ATTRIBUTES = {"D": "fractal_dim", "G": "gain", "C": "coherence", "tau": "dwell", "CI": "ci"}
    #: Series name -> AgentDB series type (what ``resonance serve --db`` stores).
    store_types: dict[str, str] = _ATTRIBUTES

    def __init__(self, analyzer: Any) -> None:
        self.analyzer = analyzer
        self.description = f"complexity measures ({type(analyzer).__name__})"

    def update(self, u: np.ndarray, step: int, t: float) -> dict[str, float]:
        result = self.analyzer.update(u, step=step, t=t)
        return {name: float(getattr(result, attr)) for name, attr in self._ATTRIBUTES.items()}


def default_chart_feed() -> ChartFeed:
    """A :class:`ComplexityFeed` with the default analyzer (D, G, C, tau and CI)."""
    from resonance_engine.metrics import ComplexityAnalyzer, MetricsConfig

    return ComplexityFeed(ComplexityAnalyzer(MetricsConfig()))
