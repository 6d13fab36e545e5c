"""Shared fixtures: a seeded random generator and the compute backends.

Tests that take ``field_backend`` run on every backend of the solver (numpy, numba,
wgpu); ``compiled_backend`` is every backend that is checked against the numpy
reference. Under CI (``CI=true``) a missing ``wgpu`` package or GPU adapter fails the
wgpu tests: ``.ci/run`` installs the lavapipe software adapter. Elsewhere they are
skipped with the reason.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

from backend_helpers import skip_without_float64


@pytest.fixture
def rng() -> np.random.Generator:
    """A random generator with a fixed seed, so failures reproduce."""
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def wgpu_context() -> Any:
    """The wgpu backend's GPU context (fails under CI, skips elsewhere when unusable)."""
    try:
        from resonance_engine.backends.wgpu_gpu import gpu_context

        return gpu_context()
    except Exception as exc:  # ImportError (no wgpu) or BackendError (no adapter)
        reason = f"wgpu backend unusable: {type(exc).__name__}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (.ci/run installs wgpu and lavapipe)")
        pytest.skip(reason)


def _activate(request: pytest.FixtureRequest, backend: str) -> str:
    if backend == "wgpu":
        request.getfixturevalue("wgpu_context")
    return backend


@pytest.fixture(params=["numpy", "numba", "wgpu"])
def field_backend(request: pytest.FixtureRequest) -> str:
    """Each backend of the solver in turn."""
    return _activate(request, request.param)


@pytest.fixture(scope="session", params=["numba", "wgpu"])
def compiled_backend(request: pytest.FixtureRequest) -> str:
    """Each backend that must reproduce the numpy reference (session-scoped, so that
    hypothesis tests may use it)."""
    return _activate(request, request.param)


@pytest.fixture(scope="session")
def compiled_float64_backend(request: pytest.FixtureRequest, compiled_backend: str) -> str:
    """Each compiled backend that can run float64."""
    skip_without_float64(request, compiled_backend)
    return compiled_backend


@pytest.fixture
def float64_backend(request: pytest.FixtureRequest, field_backend: str) -> str:
    """Each solver backend that can run float64."""
    skip_without_float64(request, field_backend)
    return field_backend
