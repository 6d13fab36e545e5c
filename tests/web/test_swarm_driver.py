"""A swarm on the dashboard: rows per tick, CS, per-agent CI, alerts, agent choice."""

from __future__ import annotations

import importlib.util
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from resonance_engine.config import default_pond
from resonance_engine.errors import ConfigError
from resonance_engine.web.protocol import decode_frame
from resonance_engine.web.runner import SimulationRunner
from resonance_engine.web.swarm_driver import SwarmDriver


@dataclass
class FakeAlert:
    tick: int
    kind: str
    value: float
    threshold: float
    message: str


@dataclass
class FakeAggregate:
    fractal_dim: float
    coherence: float
    gain: float
    dwell: float
    ci: float


@dataclass
class FakeInfo:
    ci: np.ndarray
    aggregate: FakeAggregate | None


class FakeCoordinator:
    def __init__(self) -> None:
        self.cs = math.nan
        self.alerts: list[FakeAlert] = []


class FakeSwarm:
    """The part of resonance_engine.swarm.Swarm that the dashboard uses."""

    def __init__(self, n_agents: int = 3) -> None:
        self.n_agents = n_agents
        self.agent_ids = tuple(range(n_agents))
        self.solver = default_pond(32).build(batch=n_agents)
        self.coordinator = FakeCoordinator()
        self.ticks = 0

    def tick(self) -> FakeInfo:
        self.solver.step(5)
        self.ticks += 1
        self.coordinator.cs = 1.0 / self.ticks
        if self.ticks == 3:
            self.coordinator.alerts.append(FakeAlert(3, "cs", 0.33, 0.7, "CS fell to 0.33"))
        ci = np.arange(self.n_agents) + 0.1 * self.ticks
        aggregate = None if self.ticks == 1 else FakeAggregate(1.5, 0.4, 0.2, 2.0, ci.mean())
        return FakeInfo(ci, aggregate)


def test_driver_rows_and_alerts() -> None:
    swarm = FakeSwarm()
    driver = SwarmDriver(swarm)
    assert driver.names == (
        "D",
        "G",
        "C",
        "tau",
        "CI",
        "CS",
        "CI agent 0",
        "CI agent 1",
        "CI agent 2",
    )
    assert driver.groups[-1] == ("CI per agent", ["CI agent 0", "CI agent 1", "CI agent 2"])
    row, alerts = driver.advance()
    assert row[0] == 5 and all(math.isnan(v) for v in row[2:7]) and alerts == []
    row, _ = driver.advance()
    assert row[2:6] == [1.5, 0.2, 0.4, 2.0]  # D, G, C, tau in the page's order
    assert row[7] == 0.5 and row[8:] == pytest.approx([0.2, 1.2, 2.2])
    _, alerts = driver.advance()
    assert [a["message"] for a in alerts] == ["CS fell to 0.33"]
    assert alerts[0]["tick"] == 3 and alerts[0]["kind"] == "cs"
    assert driver.advance()[1] == []  # reported once


def test_runner_shows_a_chosen_agent() -> None:
    runner = SimulationRunner.for_swarm(FakeSwarm(), fps=60.0)
    frames: list[bytes] = []
    runner.publish = lambda tick: frames.append(tick.frame) if tick.frame else None
    runner.watchers = lambda: 1
    runner.start()
    try:
        deadline = time.monotonic() + 30
        while len(runner.history()) < 4:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert runner.state()["members"] == 3
        assert runner.request("set", param="member", value=2).result(timeout=10)["member"] == 2
        with pytest.raises(ConfigError, match="member"):
            runner.request("set", param="member", value=3).result(timeout=10)
        count = len(frames)
        while len(frames) < count + 3:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert decode_frame(frames[-1])[0].member == 2
        assert [a["message"] for a in runner.alerts()] == ["CS fell to 0.33"]
    finally:
        runner.stop()
    rows = runner.history()
    assert all(len(row) == 2 + len(runner.series) for row in rows)
    assert [row[0] for row in rows[:3]] == [5, 10, 15]


def test_single_field_has_no_other_member(make_runner) -> None:
    runner = make_runner()
    with pytest.raises(ConfigError, match="one field"):
        runner.request("set", param="member", value=1).result(timeout=1)


@pytest.mark.skipif(
    importlib.util.find_spec("resonance_engine.swarm") is None,
    reason="the swarm layer (resonance_engine.swarm) is not in this build",
)
def test_a_real_swarm_on_the_dashboard() -> None:
    from resonance_engine.swarm import Swarm, SwarmConfig

    swarm = Swarm(3, SwarmConfig(size=32, steps_per_tick=5), coupling=0.3, seed=1)
    runner = SimulationRunner.for_swarm(swarm, fps=60.0)
    runner.start()
    try:
        deadline = time.monotonic() + 60
        while len(runner.history()) < 5:
            assert time.monotonic() < deadline and runner.error is None, runner.error
            time.sleep(0.02)
    finally:
        runner.stop()
    last: Any = runner.history()[-1]
    assert last[0] == swarm.solver.step_count or last[0] < swarm.solver.step_count
    assert np.isfinite(last[2:7]).all() and np.isfinite(last[8:]).all()
