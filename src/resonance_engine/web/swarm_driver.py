"""Showing a swarm on the dashboard: one row of metrics and the new alerts per tick.

:class:`SwarmDriver` adapts a :class:`resonance_engine.swarm.Swarm` (or anything with
the same ``solver``, ``tick()``, ``coordinator`` and ``n_agents``) to the
:class:`~resonance_engine.web.runner.SimulationRunner`: each advance is one swarm tick
(``steps_per_tick`` solver steps, a measurement of every agent, signatures on the bus,
coupling), and yields

- the swarm means of D, G, C, tau and CI (the aggregate signature of the tick),
- the coordinator's complexity synchronization CS,
- the CI of every agent hosted here,

and an ``{"type": "alert", ...}`` message for every health alert raised since the last
tick.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["SwarmDriver", "swarm_series"]


def swarm_series(agent_ids: tuple[int, ...]) -> tuple[tuple[str, ...], list[tuple[str, list[str]]]]:
    """Series names and chart groups of a swarm's rows (live or replayed).

    Rows hold ``[step, t, D, G, C, tau, CI, CS, CI of each agent...]``: the means of the
    agents' signatures, the complexity synchronization, and the per-agent CI.
    """
    agent_series = [f"CI agent {a}" for a in agent_ids]
    names = ("D", "G", "C", "tau", "CI", "CS", *agent_series)
    groups = [
        ("D (swarm mean)", ["D"]),
        ("G (swarm mean)", ["G"]),
        ("C (swarm mean)", ["C"]),
        ("tau (swarm mean)", ["tau"]),
        ("CI (swarm mean)", ["CI"]),
        ("CS (complexity synchronization)", ["CS"]),
        ("CI per agent", agent_series),
    ]
    return names, groups


class SwarmDriver:
    """Runs a swarm tick by tick for the dashboard.

    Parameters
    ----------
    swarm : Swarm
        The swarm (its agents share one batched solver, ``swarm.solver``).
    """

    def __init__(self, swarm: Any) -> None:
        self.swarm = swarm
        self.solver = swarm.solver
        members = self.solver.batch or 1
        ids = getattr(swarm, "agent_ids", tuple(range(members)))
        self.agent_ids: tuple[int, ...] = tuple(int(a) for a in ids)
        self.names, self.groups = swarm_series(self.agent_ids)
        self.description = (
            f"swarm of {swarm.n_agents} agents: means of the agents' signatures, "
            "complexity synchronization CS, CI per agent"
        )
        self._alerts_seen = 0

    def advance(self) -> tuple[list[float], list[dict[str, Any]]]:
        """One swarm tick: the metric row ``[step, t, values...]`` and the new alerts."""
        info = self.swarm.tick()
        aggregate = info.aggregate
        means = (
            [math.nan] * 5
            if aggregate is None
            else [
                aggregate.fractal_dim,
                aggregate.gain,
                aggregate.coherence,
                aggregate.dwell,
                aggregate.ci,
            ]
        )
        coordinator = self.swarm.coordinator
        cs = math.nan if coordinator is None else float(coordinator.cs)
        row: list[float] = [self.solver.step_count, self.solver.t]
        row.extend(float(v) for v in means)
        row.append(cs)
        row.extend(float(v) for v in info.ci)
        events: list[dict[str, Any]] = []
        if coordinator is not None:
            alerts = list(coordinator.alerts)
            if len(alerts) < self._alerts_seen:  # the coordinator was reset
                self._alerts_seen = 0
            for alert in alerts[self._alerts_seen :]:
                events.append(
                    {
                        "type": "alert",
                        "step": self.solver.step_count,
                        "tick": int(alert.tick),
                        "kind": str(alert.kind),
                        "value": float(alert.value),
                        "threshold": float(alert.threshold),
                        "message": str(alert.message),
                    }
                )
            self._alerts_seen = len(alerts)
        return row, events
