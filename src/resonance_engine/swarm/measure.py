"""How a swarm measures its agents' fields: the measurement protocol.

A *measure* is a callable that takes the current fields of the agents hosted in one
process, an array of shape (b, ny, nx), and returns b objects with the attributes
``fractal_dim``, ``coherence``, ``gain``, ``dwell`` and ``ci`` (e.g. the
``ComplexityMetrics`` of :class:`resonance_engine.metrics.ComplexityAnalyzer`). Measures
may keep state between calls (the dwell time needs past frames), so a swarm creates its
own from a picklable *measure factory* (a zero-argument callable).

A swarm snapshot keeps the measure's memory too (:func:`dump_measure`): a measure is
pickled with module references stored by name, so the default analyzer's dwell-time
frames travel with the snapshot. A measure that cannot be pickled is rebuilt from its
factory on restore (its memory then starts empty).
"""

from __future__ import annotations

import copyreg
import importlib
import io
import pickle
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

__all__ = ["MetricsLike", "Measure", "MeasureFactory", "AnalyzerMeasure", "dump_measure"]


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
        Overrides of ``MetricsConfig.blueprint()``: the swarm keeps the seed's forms (its
        frames carry no time, which the calibrated dwell in seconds needs).
    """

    config: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def with_config(cls, **kwargs: Any) -> AnalyzerMeasure:
        return cls(tuple(sorted(kwargs.items())))

    def __call__(self) -> Measure:
        from resonance_engine.metrics import ComplexityAnalyzer, MetricsConfig

        config = MetricsConfig.blueprint(**dict(self.config))
        return _AnalyzerMeasureFn(ComplexityAnalyzer(config))


class _AnalyzerMeasureFn:
    """The default measure: one ComplexityAnalyzer fed the frames of one swarm in order."""

    def __init__(self, analyzer: Any) -> None:
        self.analyzer = analyzer

    def __call__(self, fields: np.ndarray) -> Sequence[MetricsLike]:
        result = self.analyzer.update(fields)
        return result if isinstance(result, list) else [result]


def _module_by_name(module: types.ModuleType) -> tuple[Any, tuple[str]]:
    return importlib.import_module, (module.__name__,)


def dump_measure(measure: Measure) -> bytes | None:
    """The measure with its memory as bytes (``pickle.loads`` restores it); module
    references are stored by name. None when the measure cannot be pickled."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = copyreg.dispatch_table.copy()
    pickler.dispatch_table[types.ModuleType] = _module_by_name
    try:
        pickler.dump(measure)
    except (pickle.PicklingError, TypeError, AttributeError):
        return None
    return buffer.getvalue()
