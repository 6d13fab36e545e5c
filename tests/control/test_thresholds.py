"""AdaptiveThresholdController (moved here from swarm; the coordinator uses it)."""

from __future__ import annotations

import doctest

import pytest

import resonance_engine.control.kalman
import resonance_engine.control.mpc
import resonance_engine.control.thresholds
from resonance_engine.control import AdaptiveThresholdController
from resonance_engine.errors import ConfigError


def test_adaptive_threshold_rule_and_clamp() -> None:
    ctl = AdaptiveThresholdController(learning_rate=0.2, initial=0.5)
    assert ctl.update(0, 0.3) == 0.5
    assert ctl.update(0, 0.8) == pytest.approx(0.6)
    assert ctl.update(0, 0.8) == pytest.approx(0.6)
    assert ctl.update(0, -10.0) == 0.1
    assert ctl.update(1, 0.0, previous_performance=-10.0) == 0.9
    assert ctl.threshold(2) == 0.5
    with pytest.raises(ConfigError):
        AdaptiveThresholdController(initial=0.95)



@pytest.mark.parametrize(
    "module",
    [resonance_engine.control.thresholds, resonance_engine.control.kalman,
     resonance_engine.control.mpc],
)
def test_docstring_examples_run(module) -> None:
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
