"""The examples in the store docstrings run and print what they claim."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "module", ["db", "metric_writer", "recorder", "trajectories", "optimizations"]
)
def test_docstring_examples(module: str) -> None:
    mod = importlib.import_module(f"resonance_engine.store.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
