"""The examples in the oscillators docstrings run and print what they claim."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("module", ["phase", "kuramoto", "cross_frequency", "drive"])
def test_docstring_examples(module: str) -> None:
    mod = importlib.import_module(f"resonance_engine.oscillators.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
