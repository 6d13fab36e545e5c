"""Compute backends: every hot kernel lives here, behind one small protocol.

``numpy`` is the reference (obviously correct, used to check the others); ``numba`` is
the CPU default; ``wgpu`` runs WGSL compute shaders on a GPU (only when asked for: "auto"
never picks it). A backend is a subpackage exposing ``field_kernels`` (and, for the
complexity measures, ``metric_kernels``; host backends also ``oscillator_kernels``, for
the oscillator networks); a backend whose fields live on a device also
exposes ``make_field_state(shape, dtype, feedback)``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import numpy as np

from resonance_engine.backends.base import (
    FieldKernels,
    FieldState,
    HostFieldState,
    MetricKernels,
    OscillatorKernels,
)
from resonance_engine.errors import BackendError

__all__ = [
    "BACKEND_NAMES",
    "correlation_kernels",
    "resolve_backend",
    "field_kernels",
    "field_state",
    "metric_kernels",
    "oscillator_kernels",
    "backend_module",
]

#: The names accepted by ``backend=``; "auto" picks the fastest available CPU backend.
BACKEND_NAMES: tuple[str, ...] = ("auto", "numpy", "numba", "wgpu")

_MODULES = {
    "numpy": "resonance_engine.backends.numpy_ref",
    "numba": "resonance_engine.backends.numba_cpu",
    "wgpu": "resonance_engine.backends.wgpu_gpu",
}


def resolve_backend(name: str) -> str:
    """Turn a user's backend name into a concrete one.

    Parameters
    ----------
    name : str
        One of :data:`BACKEND_NAMES`.

    Returns
    -------
    str
        "numpy", "numba" or "wgpu" ("auto" gives numba when it imports, numpy otherwise;
        never wgpu).
    """
    if name not in BACKEND_NAMES:
        raise BackendError(f"unknown backend {name!r}; choose one of {', '.join(BACKEND_NAMES)}")
    if name != "auto":
        return name
    try:
        importlib.import_module("numba")
    except ImportError:
        return "numpy"
    return "numba"


def backend_module(name: str) -> ModuleType:
    """Import and return the subpackage of a backend ("auto" is resolved first)."""
    concrete = resolve_backend(name)
    try:
        return importlib.import_module(_MODULES[concrete])
    except ImportError as exc:
        install = {"wgpu": "pip install 'resonance-engine[gpu]'"}.get(
            concrete, "reinstall resonance-engine"
        )
        raise BackendError(
            f"backend {concrete!r} cannot be imported ({exc}); {install}, or use "
            "backend='numba' or 'numpy'"
        ) from exc


def correlation_kernels(name: str) -> ModuleType:
    """The windowed-correlation kernels of a CPU backend (``window_correlation``)."""
    module: ModuleType = backend_module(name).correlation_kernels
    return module


def field_kernels(name: str) -> FieldKernels:
    """The field kernels of a backend."""
    kernels: FieldKernels = backend_module(name).field_kernels
    return kernels


def field_state(
    name: str, shape: tuple[int, int, int], dtype: np.dtype, feedback: int = 0
) -> FieldState:
    """A zeroed pair of fields for the backend ``name``.

    Parameters
    ----------
    name : str
        One of :data:`BACKEND_NAMES`.
    shape : tuple of int
        (batch, ny, nx).
    dtype : numpy.dtype
        float32 or float64.
    feedback : int
        The feedback code (:data:`~resonance_engine.backends.base.FEEDBACK_CODES`) the
        fields will be stepped with; a device backend refuses what it cannot run.
    """
    module = backend_module(name)
    make = getattr(module, "make_field_state", None)
    if make is not None:
        state: FieldState = make(shape, np.dtype(dtype), feedback)
        return state
    return HostFieldState(module.field_kernels, shape, np.dtype(dtype))


def metric_kernels(name: str) -> MetricKernels:
    """The complexity-measure kernels of a backend."""
    kernels: MetricKernels = backend_module(name).metric_kernels
    return kernels


def oscillator_kernels(name: str) -> OscillatorKernels:
    """The oscillator-network kernels of a host backend ("numpy" or "numba")."""
    module = backend_module(name)
    kernels: OscillatorKernels | None = getattr(module, "oscillator_kernels", None)
    if kernels is None:
        raise BackendError(
            f"backend {resolve_backend(name)!r} has no oscillator kernels; use 'numba' or 'numpy'"
        )
    return kernels
