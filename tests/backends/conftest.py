"""Fixtures of the backend tests: the wgpu backend, when this machine can run it.

Under CI (``CI=true``) a missing ``wgpu`` package or GPU adapter fails the wgpu tests:
CI installs the lavapipe software adapter (docs/ci-gpu.sh). Elsewhere they are skipped
with the reason.
"""

from __future__ import annotations

import os
from typing import Any

import pytest


@pytest.fixture(scope="session")
def wgpu_context() -> Any:
    """The wgpu backend's GPU context (fails under CI, skips elsewhere when unusable)."""
    try:
        from resonance_engine.backends.wgpu_gpu import gpu_context

        return gpu_context()
    except Exception as exc:  # ImportError (no wgpu) or BackendError (no adapter)
        reason = f"wgpu backend unusable: {type(exc).__name__}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI must install wgpu and lavapipe: docs/ci-gpu.sh)")
        pytest.skip(reason)
