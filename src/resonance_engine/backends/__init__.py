"""Compute backends: every hot kernel lives here, behind one small protocol.

``numpy`` is the reference (obviously correct, used to check the others); ``numba`` is
the CPU default. A backend is a subpackage exposing ``field_kernels`` (and, for the
complexity measures, ``metric_kernels``).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from resonance_engine.backends.base import FieldKernels, MetricKernels
from resonance_engine.errors import BackendError

__all__ = [
    "BACKEND_NAMES",
    "resolve_backend",
    "field_kernels",
    "metric_kernels",
    "backend_module",
]

#: The names accepted by ``backend=``; "auto" picks the fastest available CPU backend.
BACKEND_NAMES: tuple[str, ...] = ("auto", "numpy", "numba")

_MODULES = {
    "numpy": "resonance_engine.backends.numpy_ref",
    "numba": "resonance_engine.backends.numba_cpu",
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
        "numpy" or "numba" ("auto" gives numba when it imports, numpy otherwise).
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
        raise BackendError(
            f"backend {concrete!r} cannot be imported ({exc}); install its dependency "
            f"or use backend='numpy'"
        ) from exc


def field_kernels(name: str) -> FieldKernels:
    """The field kernels of a backend."""
    kernels: FieldKernels = backend_module(name).field_kernels
    return kernels


def metric_kernels(name: str) -> MetricKernels:
    """The complexity-measure kernels of a backend."""
    kernels: MetricKernels = backend_module(name).metric_kernels
    return kernels
