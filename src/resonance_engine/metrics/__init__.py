"""Complexity measures of wave fields (Resonance Complexity Theory).

One module per measure: :mod:`.fractal` (D), :mod:`.gain` (G), :mod:`.coherence` (C),
:mod:`.dwell` (tau), :mod:`.index` (CI); :mod:`.analyzer` runs them all on each frame,
:mod:`.multiband` adds the frequency bands and their nesting, :mod:`.spectral` the
structure factor S(q) and the power spectral density. Hot loops are in
:mod:`resonance_engine.backends`.
"""

from resonance_engine.metrics.analyzer import (
    ComplexityAnalyzer,
    ComplexityMetrics,
    summarize_series,
)
from resonance_engine.metrics.coherence import coherence_field, local_variance
from resonance_engine.metrics.config import MetricsConfig
from resonance_engine.metrics.dwell import DwellTimeTracker, RecursiveDwell
from resonance_engine.metrics.fractal import FractalFit, fractal_dimension
from resonance_engine.metrics.gain import gain_field
from resonance_engine.metrics.index import complexity_index
from resonance_engine.metrics.multiband import MultiBandAnalyzer, MultiBandMetrics
from resonance_engine.metrics.spectral import (
    PowerSpectrum,
    StructureFactor,
    power_spectrum,
    structure_factor,
)
from resonance_engine.metrics.tracker import MeasureTracker

__all__ = [
    "fractal_dimension",
    "FractalFit",
    "gain_field",
    "coherence_field",
    "local_variance",
    "DwellTimeTracker",
    "RecursiveDwell",
    "complexity_index",
    "ComplexityAnalyzer",
    "ComplexityMetrics",
    "MetricsConfig",
    "MultiBandAnalyzer",
    "MultiBandMetrics",
    "summarize_series",
    "structure_factor",
    "StructureFactor",
    "power_spectrum",
    "PowerSpectrum",
    "MeasureTracker",
]
