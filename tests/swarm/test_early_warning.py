"""CSForecaster: the cs_breakdown_predicted alert comes before a trend crosses, not on noise."""

from __future__ import annotations

import math

import numpy as np
import pytest

from resonance_engine.errors import ConfigError
from resonance_engine.swarm.early_warning import (
    CSForecaster,
    TrialResult,
    early_warning_trial,
    summarize_trials,
)


def test_a_steady_decline_is_predicted_about_horizon_ticks_early(rng):
    forecaster = CSForecaster(threshold=0.7, horizon=10, fit_window=32)
    cs = np.concatenate([0.9 + 0.005 * rng.normal(size=40),
                         0.9 - 0.01 * np.arange(1, 41) + 0.002 * rng.normal(size=40)])
    alerts = [forecaster.update(t, v) for t, v in enumerate(cs)]
    raised = [a for a in alerts if a is not None]
    crossing = int(np.argmax(cs < 0.7))
    assert len(raised) == 1 and raised[0].kind == "cs_breakdown_predicted"
    lead = crossing - raised[0].tick
    assert 5 <= lead <= 20, lead  # of the order of the 10-tick horizon
    assert raised[0].value < 0.7 <= cs[raised[0].tick]


def test_noise_around_a_high_level_raises_nothing(rng):
    forecaster = CSForecaster(threshold=0.7, horizon=10)
    for t, v in enumerate(0.85 + 0.03 * rng.normal(size=400)):
        assert forecaster.update(t, v) is None
    assert all(math.isnan(f) or f > 0.7 for f in forecaster.forecasts)


def test_the_alert_rearms_only_after_the_forecast_recovers():
    forecaster = CSForecaster(threshold=0.5, horizon=5)
    series = list(np.linspace(0.9, 0.6, 20)) + [0.6] * 40 + list(np.linspace(0.6, 0.52, 10))
    kinds = [forecaster.update(t, v) for t, v in enumerate(series)]
    assert sum(a is not None for a in kinds) >= 1
    assert sum(a is not None for a in kinds[:20]) <= 1


def test_bad_settings():
    with pytest.raises(ConfigError):
        CSForecaster(horizon=0)
    with pytest.raises(ConfigError, match="unknown fault"):
        early_warning_trial("meteor")


def test_a_frequency_fault_breaks_a_synchronised_swarm():
    clean = early_warning_trial("none", seed=0, ticks=150, fault_tick=110)
    faulty = early_warning_trial("frequency", seed=0, ticks=150, fault_tick=110)
    assert clean.crossing_tick is None and clean.cs_before_fault > 0.6
    assert faulty.crossing_tick is not None and faulty.crossing_tick >= 110


def test_lead_times_and_false_alarms_are_counted_as_defined():
    def run(fault, alert, crossing, before):
        return TrialResult(fault, None if fault == "none" else 100, alert, crossing, before)

    clean = [run("none", None, None, 0.9),   # quiet: no alarm
             run("none", 120, None, 0.9),    # an alert, no crossing: false alarm
             run("none", 130, 135, 0.9),     # an alert 5 ticks before a crossing: true
             run("none", 140, 160, 0.9)]     # a crossing 20 ticks later: false with horizon 10
    faulty = [run("frequency", 104, 110, 0.9),   # warned 6 ticks ahead
              run("frequency", 115, 110, 0.9),   # alert after the crossing: lead -5
              run("frequency", None, 108, 0.9),  # missed
              run("frequency", None, 101, 0.5)]  # below the threshold already at the fault
    out = summarize_trials(clean, {"frequency": faulty}, horizon=10, threshold=0.7)
    assert out["false_alarms"] == 2 and out["false_alarm_rate"] == 0.5
    f = out["frequency"]
    assert f["runs"] == 4 and f["above_at_fault"] == 3 and f["runs_crossing"] == 3
    assert f["warned_before_crossing"] == 1 and f["median_lead_ticks"] == 0.5  # of 6 and -5
    assert out["control"]["runs_crossing"] == 2 and out["control"]["above_at_fault"] == 4
