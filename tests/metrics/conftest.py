"""Fixtures of the metrics tests."""

from __future__ import annotations

import numpy as np
import pytest

BACKENDS = ["numpy", "numba"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)
