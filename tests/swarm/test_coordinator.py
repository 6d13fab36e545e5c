"""SwarmCoordinator: tick assembly, losses, CS, thresholds and health alerts."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from resonance_engine.errors import ConfigError
from resonance_engine.swarm.coordinator import SwarmCoordinator
from resonance_engine.swarm.health import Alert, HealthMonitor, HealthThresholds
from resonance_engine.swarm.signature import Signature
from resonance_engine.swarm.sync import MDEAConfig


def _sig(agent: int, step: int, ci: float, d: float = 1.5) -> Signature:
    return Signature(agent, step, d, 0.5, 1.0, 0.1, ci, timestamp_us=0)


def test_cs_of_ingested_signatures_equals_corrcoef_of_the_window() -> None:
    rng = np.random.default_rng(0)
    n, ticks, window = 5, 40, 16
    common = rng.normal(size=ticks)
    ci = common[:, None] + 0.5 * rng.normal(size=(ticks, n))
    d = rng.normal(size=(ticks, n))
    coord = SwarmCoordinator(n, window=window)
    for t in range(ticks):
        for a in rng.permutation(n):  # arrival order within a tick does not matter
            coord.ingest(_sig(int(a), t, ci[t, a], d[t, a]))
    ci32 = ci.astype(np.float32).astype(float)
    expected = np.corrcoef(ci32[-window:].T)[np.triu_indices(n, 1)].mean()
    assert coord.ticks == ticks and coord.cs == pytest.approx(expected, abs=1e-6)
    d32 = d.astype(np.float32).astype(float)
    assert coord.cs_d == pytest.approx(
        np.corrcoef(d32[-window:].T)[np.triu_indices(n, 1)].mean(), abs=1e-6
    )
    np.testing.assert_allclose(coord.ci_history(), ci32)
    assert coord.missing.sum() == 0 and coord.incomplete_ticks == 0


def test_out_of_order_ticks_are_assembled_and_losses_counted() -> None:
    coord = SwarmCoordinator(3, window=4, max_lag=2)
    arrivals = [(a, t) for t in range(10) for a in range(3)]
    arrivals.remove((1, 4))  # lost on the bus
    arrivals.remove((2, 4))
    arrivals.remove((0, 7))
    jitter = np.random.default_rng(1).uniform(0, 1.5, len(arrivals))
    # shuffled within about a step, as a network would
    keys = {at: at[1] + j for at, j in zip(arrivals, jitter, strict=True)}
    arrivals.sort(key=keys.__getitem__)
    for agent, step in arrivals:
        coord.ingest(_sig(agent, step, float(step * (agent + 1))))
    coord.finish()
    assert list(coord.steps) == [0, 1, 2, 3, 5, 6, 8, 9]
    assert coord.incomplete_ticks == 2
    assert coord.missing.tolist() == [1, 1, 1]
    coord.ingest(_sig(0, 1, 1.0))  # older than what was already processed
    assert coord.late == 1
    coord.ingest(_sig(7, 11, 1.0))
    assert coord.unknown_agents == 1


def test_health_alert_is_logged_once_when_cs_drops(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="resonance_engine.swarm.health")

    class Sink:
        def __init__(self) -> None:
            self.alerts: list[Alert] = []

        def record_alert(self, alert: Alert) -> None:
            self.alerts.append(alert)

        def record_signatures(self, signatures: object) -> None:
            pass

        def record_sync(self, *args: object) -> None:
            pass

    sink = Sink()
    rng = np.random.default_rng(2)
    coord = SwarmCoordinator(4, window=10, thresholds=HealthThresholds(cs_min=0.8), recorder=sink)
    for t in range(30):  # synchronized: all agents see the same signal
        base = np.sin(t / 3)
        coord.update(t, base + 0.01 * rng.normal(size=4), np.full(4, 1.5) + 0.01 * t)
    assert coord.cs > 0.95 and not coord.alerts
    for t in range(30, 60):  # independent agents
        coord.update(t, rng.normal(size=4), np.full(4, 1.5))
    assert coord.cs < 0.5
    assert len(coord.alerts) == 1 and coord.alerts[0].kind == "cs"
    assert sink.alerts == coord.alerts
    assert "complexity synchronization" in caplog.text and "< 0.800" in caplog.text
    # thresholds were updated once per window, inside their bounds
    assert set(coord.thresholds) == {"0", "1", "2", "3"}
    assert all(0.1 <= v <= 0.9 for v in coord.thresholds.values())


def test_health_monitor_is_edge_triggered_for_basin_stability() -> None:
    monitor = HealthMonitor(HealthThresholds(bs_min=0.5))
    assert monitor.check_bs(0, 0.4) is not None
    assert monitor.check_bs(1, 0.3) is None  # still degraded: no second alert
    assert monitor.check_bs(2, 0.9) is None  # recovered
    assert monitor.check_bs(3, 0.1) is not None
    assert monitor.check_bs(4, float("nan")) is None
    with pytest.raises(ConfigError):
        HealthThresholds(cs_min=2.0)


def test_mdea_sync_needs_enough_history() -> None:
    coord = SwarmCoordinator(2, window=4, mdea=MDEAConfig(window=32, hop=8))
    rng = np.random.default_rng(3)
    for t in range(20):
        coord.update(t, rng.normal(size=2), rng.normal(size=2))
    assert np.isnan(coord.summary()["mdea_cs"])
    for t in range(20, 80):
        coord.update(t, rng.normal(size=2), rng.normal(size=2))
    assert np.isfinite(coord.summary()["mdea_cs"])
    with pytest.raises(ConfigError):
        SwarmCoordinator(1)


def test_a_nan_signature_is_skipped_counted_and_reported(caplog) -> None:
    """One Signature with ci=NaN made CS NaN for a whole window (about 120 ticks)."""
    rng = np.random.default_rng(3)
    n, ticks, window = 4, 60, 16
    ci = rng.normal(size=(ticks, 1)) + 0.3 * rng.normal(size=(ticks, n))
    caplog.set_level(logging.WARNING, logger="resonance_engine.swarm.coordinator")
    coord, clean = SwarmCoordinator(n, window=window), SwarmCoordinator(n, window=window)
    for t in range(ticks):
        for a in range(n):
            value = float("nan") if (t, a) == (30, 2) else ci[t, a]
            d = float("inf") if (t, a) == (40, 0) else 1.5 + 0.01 * ci[t, a]
            coord.ingest(_sig(a, t, value, d))
            if t not in (30, 40):
                clean.ingest(_sig(a, t, ci[t, a], 1.5 + 0.01 * ci[t, a]))
    assert np.isfinite(list(coord.cs_history)[2:]).all()  # never NaN once 3 ticks are in
    assert coord.cs == pytest.approx(clean.cs) and np.isfinite(coord.cs)
    assert list(coord.steps) == list(clean.steps)  # the two bad ticks are left out
    assert coord.non_finite_ticks == 2 and coord.non_finite.tolist() == [1, 0, 1, 0]
    summary = coord.summary(with_mdea=False)
    assert summary["non_finite_ticks"] == 2 and summary["non_finite_signatures"] == 2
    assert coord.incomplete_ticks == 0
    assert "tick 30 skipped" in caplog.text and "[2]" in caplog.text
