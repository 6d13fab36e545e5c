"""Oscillator networks and cross-frequency coupling.

- :class:`KuramotoNetwork`: phase oscillators coupled all-to-all (mean field, O(N) per
  step) or through a sparse graph; batches of independent networks.
- :func:`order_parameter`, :func:`phase_locking_value`: phase synchrony.
- :func:`modulation_index` (Tort et al. 2010, with a time-shift surrogate p-value) and
  :func:`comodulogram`: phase-amplitude coupling between frequency bands.
- :class:`OscillatorDrive`: a run-loop tracker through which a network's phases drive a
  wave field's point sources (and slow phases their amplitudes), and the field read at
  the sources feeds back into the phases.
"""

from resonance_engine.oscillators.cross_frequency import (
    Comodulogram,
    band_analytic,
    binned_modulation_index,
    comodulogram,
    modulation_depth,
    modulation_index,
)
from resonance_engine.oscillators.drive import OscillatorDrive
from resonance_engine.oscillators.kuramoto import KuramotoNetwork, sparse_coupling
from resonance_engine.oscillators.phase import order_parameter, phase_locking_value

__all__ = [
    "KuramotoNetwork",
    "sparse_coupling",
    "order_parameter",
    "phase_locking_value",
    "modulation_index",
    "binned_modulation_index",
    "modulation_depth",
    "band_analytic",
    "comodulogram",
    "Comodulogram",
    "OscillatorDrive",
]
