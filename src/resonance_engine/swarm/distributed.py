"""Run parts of a swarm in separate processes (or machines) that meet on a NATS bus.

- :func:`run_agents` hosts some agents (``agent_ids``) of an ``n_agents`` swarm: it steps
  their fields, publishes their signatures and adapts them to the aggregate it hears.
- :func:`run_coordinator` listens to every agent and measures CS, losses and alerts.

Both are plain functions with picklable arguments, so they can be the targets of
``multiprocessing`` processes, and ``resonance swarm --role agents|coordinator`` calls them.
With the same ``seed`` and ``config`` the agents are the same as in an in-process
:class:`~resonance_engine.swarm.batched.Swarm`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from resonance_engine.swarm.agent import CouplingRule
from resonance_engine.swarm.batched import Swarm, SwarmConfig
from resonance_engine.swarm.coordinator import SwarmCoordinator, SwarmRecorder
from resonance_engine.swarm.measure import MeasureFactory
from resonance_engine.swarm.nats_bus import NatsBus

__all__ = ["run_agents", "run_coordinator"]


def run_agents(
    url: str,
    n_agents: int,
    agent_ids: Sequence[int],
    ticks: int,
    config: SwarmConfig | None = None,
    coupling: float | CouplingRule = 0.0,
    seed: int = 0,
    measure: MeasureFactory | None = None,
    subject: str = "resonance.signatures",
    ready: Callable[[], None] | None = None,
    wait_start: Callable[[], Any] | None = None,
) -> dict[str, Any]:
    """Host ``agent_ids`` of the swarm on the NATS bus at ``url`` for ``ticks`` ticks.

    ``ready()`` is called once connected and subscribed, and ``wait_start()`` is awaited
    before the first tick (barriers for launching many processes together).

    Returns
    -------
    dict
        ``agent_ids``, ``ci`` (ticks x agents here, as lists), ``theta`` (same),
        ``late_ticks``, ``agents_heard`` (agents whose signatures arrived here) and the
        bus statistics.
    """
    bus = NatsBus(url, subject=subject, name=f"resonance-agents-{agent_ids[0]}")
    try:
        swarm = Swarm(
            n_agents, config, coupling, bus=bus, seed=seed, measure=measure,
            agent_ids=agent_ids, coordinator=False,
        )
        if ready is not None:
            ready()
        if wait_start is not None:
            wait_start()
        swarm.run(ticks)
        bus.flush()
        aggregate = swarm.view.aggregate()
        return {
            "agent_ids": list(swarm.agent_ids),
            "ci": swarm.ci_series().tolist(),
            "theta": swarm.theta_series().tolist(),
            "late_ticks": swarm.late_ticks,
            "agents_heard": aggregate.agents if aggregate is not None else 0,
            "bus": bus.stats.as_dict(),
        }
    finally:
        bus.close()


def run_coordinator(
    url: str,
    n_agents: int,
    ticks: int,
    window: int = 64,
    timeout: float = 60.0,
    subject: str = "resonance.signatures",
    ready: Callable[[], None] | None = None,
    recorder: SwarmRecorder | None = None,
) -> dict[str, Any]:
    """Measure the swarm on the bus at ``url`` until ``ticks`` ticks are complete (or
    ``timeout`` seconds pass without progress); ``recorder`` stores what it measures.

    Returns
    -------
    dict
        The coordinator's summary plus ``ci`` (ticks x n_agents), ``cs_history``, and the
        bus statistics.
    """
    bus = NatsBus(url, subject=subject, name="resonance-coordinator")
    try:
        coordinator = SwarmCoordinator(n_agents, window=window, recorder=recorder)
        bus.subscribe(coordinator.ingest)
        bus.flush()
        if ready is not None:
            ready()
        last, last_change = -1, time.monotonic()
        while coordinator.ticks + coordinator.incomplete_ticks < ticks:
            time.sleep(0.01)
            if coordinator.received != last:
                last, last_change = coordinator.received, time.monotonic()
            elif time.monotonic() - last_change > timeout:
                break
        coordinator.finish()
        result = coordinator.summary()
        result["ci"] = coordinator.ci_history().tolist()
        result["cs_history"] = list(coordinator.cs_history)
        result["bus"] = bus.stats.as_dict()
        return result
    finally:
        bus.close()
