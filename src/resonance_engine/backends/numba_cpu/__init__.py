"""The numba CPU backend (the default): compiled, multithreaded kernels.

Kernels compile lazily on first use and are cached on disk across processes; the
thread count follows ``NUMBA_NUM_THREADS``.

OpenMP threads wait passively between parallel regions: ``import resonance_engine``
sets ``OMP_WAIT_POLICY=PASSIVE`` unless it is already set (see the package docstring).
"""

from resonance_engine.backends.numba_cpu import correlation as correlation_kernels
from resonance_engine.backends.numba_cpu import field as field_kernels
from resonance_engine.backends.numba_cpu import metrics as metric_kernels
from resonance_engine.backends.numba_cpu import oscillators as oscillator_kernels

__all__ = ["correlation_kernels", "field_kernels", "metric_kernels", "oscillator_kernels"]
