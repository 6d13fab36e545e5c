"""The examples in the run loop's docstrings (and its trackers') run as they claim."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "module",
    ["loop.controller", "loop.trackers", "loop.interrupts", "metrics.tracker", "store.tracker"],
)
def test_docstring_examples(module: str) -> None:
    mod = importlib.import_module(f"resonance_engine.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
