"""4 agent processes + 1 coordinator process on a real nats-server, vs the same swarm
in one process."""

from __future__ import annotations

import multiprocessing as mp
from typing import Any

import numpy as np

from resonance_engine.swarm.batched import Swarm, SwarmConfig
from resonance_engine.swarm.distributed import run_agents, run_coordinator
from resonance_engine.swarm.nats_server import NatsServer

from .standin import standin_factory

CONFIG = SwarmConfig(size=32, steps_per_tick=8, window=8, lockstep_timeout=30.0)
N, TICKS, K, SEED = 4, 20, 0.2, 7


def _agent_main(url: str, agent_id: int, ready: Any, start: Any, out: Any) -> None:
    result = run_agents(
        url,
        N,
        [agent_id],
        TICKS,
        CONFIG,
        K,
        SEED,
        standin_factory,
        ready=lambda: ready.put(agent_id),
        wait_start=lambda: start.wait(60),
    )
    out.put(("agent", result))


def _coordinator_main(url: str, ready: Any, out: Any) -> None:
    result = run_coordinator(
        url, N, TICKS, window=CONFIG.window, timeout=60, ready=lambda: ready.put("coordinator")
    )
    out.put(("coordinator", result))


def test_agents_in_separate_processes_coordinate_as_in_process(nats_server: NatsServer) -> None:
    ctx = mp.get_context("spawn")
    ready, out, start = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_coordinator_main, args=(nats_server.url, ready, out))]
    procs += [
        ctx.Process(target=_agent_main, args=(nats_server.url, i, ready, start, out))
        for i in range(N)
    ]
    for p in procs:
        p.start()
    try:
        for _ in procs:
            ready.get(timeout=120)
        start.set()
        results = [out.get(timeout=180) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.terminate()
    assert all(p.exitcode == 0 for p in procs)
    agents = {r["agent_ids"][0]: r for kind, r in results if kind == "agent"}
    (coord,) = [r for kind, r in results if kind == "coordinator"]

    # every agent heard every other agent, on time, and nothing was lost
    assert sorted(agents) == list(range(N))
    assert all(a["agents_heard"] == N and a["late_ticks"] == 0 for a in agents.values())
    assert all(a["bus"]["lost"] == 0 for a in agents.values())
    assert coord["ticks"] == TICKS and coord["missing_signatures"] == 0
    assert coord["bus"]["bytes_in"]["signature"] == 64 * N * TICKS

    # the distributed swarm is the in-process swarm with the same seed
    local = Swarm(N, CONFIG, coupling=K, seed=SEED, measure=standin_factory).run(TICKS)
    distributed_ci = np.concatenate([np.array(agents[i]["ci"]) for i in range(N)], axis=1)
    np.testing.assert_allclose(distributed_ci, local.ci_series(), rtol=1e-4)
    np.testing.assert_allclose(np.array(coord["ci"]), local.ci_series(), rtol=1e-4)
    assert local.coordinator is not None
    assert (
        coord["cs"] == np.float64(local.coordinator.cs)
        or abs(coord["cs"] - local.coordinator.cs) < 1e-3
    )
    # coupling acted across processes: the drive gains moved
    theta = np.array([agents[i]["theta"][-1][0] for i in range(N)])
    np.testing.assert_allclose(theta, local.theta, rtol=1e-4, atol=1e-6)
    assert not np.allclose(theta, np.array([agents[i]["theta"][0][0] for i in range(N)]))
