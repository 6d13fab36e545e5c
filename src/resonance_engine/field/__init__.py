"""The physics: grid, sources, boundaries, time stepping, energy and stability."""

from resonance_engine.field.energy import discrete_energy
from resonance_engine.field.interference import InterferenceField
from resonance_engine.field.solver import WaveSolver2D
from resonance_engine.field.sources import FieldSource, PointSource
from resonance_engine.field.stability import courant_number, max_stable_dt, validate_stability

__all__ = [
    "WaveSolver2D",
    "PointSource",
    "FieldSource",
    "InterferenceField",
    "discrete_energy",
    "courant_number",
    "max_stable_dt",
    "validate_stability",
]
