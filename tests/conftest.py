"""Shared fixtures: a seeded random generator."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """A random generator with a fixed seed, so failures reproduce."""
    return np.random.default_rng(12345)
