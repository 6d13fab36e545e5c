"""The swarm controller registry."""

from __future__ import annotations

from typing import Any

import pytest

from resonance_engine.errors import ConfigError
from resonance_engine.loop import Tracker
from resonance_engine.swarm import Swarm, SwarmConfig
from resonance_engine.swarm.controllers import CONTROLLERS, build_controller, register_controller


class _Halve(Tracker):
    def __init__(self, argument: str, swarm: Swarm) -> None:
        super().__init__(interval=1)
        self.factor = float(argument or 0.5)
        self.calls = 0

    def handle(self, swarm: Swarm, t: float) -> None:
        self.calls += 1
        for agent in swarm.agents:
            agent.theta *= self.factor

    def summary(self) -> dict[str, Any]:
        return {"calls": self.calls}


def test_registered_factory_gets_the_argument_and_acts_on_the_swarm() -> None:
    register_controller("halve_test", _Halve, "test controller")
    try:
        swarm = Swarm(2, SwarmConfig(size=16, steps_per_tick=1, window=3), seed=0)
        controller = build_controller("halve_test:0.25", swarm)
        before = swarm.theta.copy()
        controller.handle(swarm, swarm.solver.t)
        assert (swarm.theta == before * 0.25).all()
        assert controller.summary() == {"calls": 1}
    finally:
        del CONTROLLERS["halve_test"]


def test_unknown_name_lists_the_known_ones() -> None:
    swarm = Swarm(2, SwarmConfig(size=16, steps_per_tick=1, window=3), seed=0)
    with pytest.raises(ConfigError, match="choose one of .*rl"):
        build_controller("nope", swarm)
