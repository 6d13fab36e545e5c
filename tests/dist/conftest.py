"""Shared fixtures of the dist tests."""

from __future__ import annotations

import pytest

from .dist_helpers import small_plan


@pytest.fixture(scope="session")
def reference_results() -> dict[str, object]:
    """Results of :func:`small_plan` run in this process (key -> RunResult)."""
    from resonance_engine.dist import LocalExecutor, MemoryResults, run_sweep

    writer = MemoryResults()
    report = run_sweep(small_plan(), LocalExecutor(0), writer)
    assert report.complete and not report.failures
    return dict(writer.results)
