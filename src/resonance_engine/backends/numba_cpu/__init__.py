"""The numba CPU backend (the default): compiled, multithreaded kernels.

Kernels compile lazily on first use and are cached on disk across processes; the
thread count follows ``NUMBA_NUM_THREADS``.
"""

from resonance_engine.backends.numba_cpu import field as field_kernels

__all__ = ["field_kernels"]
