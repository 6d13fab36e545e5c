"""Oscillator networks and cross-frequency coupling.

- :class:`KuramotoNetwork`: phase oscillators coupled all-to-all (mean field, O(N) per
  step) or through a sparse graph; batches of independent networks.
- :func:`order_parameter`, :func:`phase_locking_value`: phase synchrony.
"""

from resonance_engine.oscillators.kuramoto import KuramotoNetwork, sparse_coupling
from resonance_engine.oscillators.phase import order_parameter, phase_locking_value

__all__ = [
    "KuramotoNetwork",
    "sparse_coupling",
    "order_parameter",
    "phase_locking_value",
]
