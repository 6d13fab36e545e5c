"""A swarm spread over Dask workers that exchange signatures over NATS.

The agents of an ``n_agents`` swarm are split into ``chunks`` groups; each group runs as
one long Dask task (:func:`resonance_engine.swarm.distributed.run_agents`) on its own
worker, and the coordinator (:func:`resonance_engine.swarm.distributed.run_coordinator`)
runs in a thread of the client. They meet on a NATS server that every worker and the
client can reach. A barrier (a Dask queue and event) starts the first tick only when
every group and the coordinator are subscribed, so no signature is published before
everyone listens.

Every group steps its agents in lockstep with the others (each tick waits for the
signatures of the previous one), so the swarm computes what the same swarm computes in
one process (same ``seed`` and ``config``); the documented nondeterminism is that of
message arrival within a tick, which the lockstep makes irrelevant unless a signature is
late (``late_ticks`` > 0 in the result) or lost.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np

from resonance_engine.dist.executor import DaskExecutor
from resonance_engine.errors import ConfigError, ExecutorError

__all__ = ["DistributedSwarmResult", "run_swarm_on_dask"]


class _QueuePut:
    """Picklable ``ready()`` callback: put a token on a named Dask queue."""

    def __init__(self, name: str, token: Any) -> None:
        self.name = name
        self.token = token

    def __call__(self) -> None:
        from distributed import Queue

        Queue(self.name).put(self.token)


class _EventWait:
    """Picklable ``wait_start()`` callback: wait for a named Dask event."""

    def __init__(self, name: str, timeout: float) -> None:
        self.name = name
        self.timeout = timeout

    def __call__(self) -> None:
        from distributed import Event

        if not Event(self.name).wait(self.timeout):
            raise ExecutorError(
                f"the distributed swarm did not start within {self.timeout:g} s "
                "(another agent group or the coordinator never became ready)"
            )


@dataclass
class DistributedSwarmResult:
    """What a distributed swarm did.

    Attributes
    ----------
    coordinator : dict
        The coordinator's summary (``cs``, ``ticks``, ``missing_signatures``, ...), its
        ``ci`` history (ticks x n_agents) and bus statistics.
    groups : list of dict
        One entry per agent group, as returned by ``run_agents`` (``agent_ids``, ``ci``,
        ``theta``, ``late_ticks``, ``agents_heard``, ``bus``) plus ``worker``.
    """

    coordinator: dict[str, Any]
    groups: list[dict[str, Any]]

    @property
    def cs(self) -> float:
        """Complexity synchronization measured by the coordinator."""
        return float(self.coordinator["cs"])

    def ci_series(self) -> np.ndarray:
        """CI per tick and agent from the agents themselves, shape (ticks, n_agents)."""
        columns: dict[int, np.ndarray] = {}
        for group in self.groups:
            ci = np.asarray(group["ci"], dtype=np.float64)
            for j, agent in enumerate(group["agent_ids"]):
                columns[int(agent)] = ci[:, j]
        return np.stack([columns[a] for a in sorted(columns)], axis=1)

    def theta(self) -> np.ndarray:
        """Final drive parameters per agent (as ``Swarm.theta``)."""
        rows: dict[int, Any] = {}
        for group in self.groups:
            final = np.asarray(group["theta"][-1], dtype=np.float64)
            for j, agent in enumerate(group["agent_ids"]):
                rows[int(agent)] = final[j]
        return np.stack([rows[a] for a in sorted(rows)])


def run_swarm_on_dask(
    executor: DaskExecutor,
    url: str,
    n_agents: int,
    ticks: int,
    *,
    config: Any = None,
    coupling: Any = 0.0,
    seed: int = 0,
    measure: Any = None,
    chunks: int | None = None,
    subject: str | None = None,
    timeout: float = 120.0,
    recorder: Any = None,
) -> DistributedSwarmResult:
    """Run an ``n_agents`` swarm for ``ticks`` ticks with its agents on Dask workers.

    Parameters
    ----------
    executor : DaskExecutor
        The cluster. Each agent group occupies one worker for the whole run, so
        ``chunks`` must not exceed the number of workers.
    url : str
        NATS server URL reachable from every worker and from this client
        (e.g. ``nats://10.0.0.5:4222``; ``nats://127.0.0.1:...`` for a LocalCluster).
    n_agents, ticks : int
    config : SwarmConfig, optional
    coupling : float or CouplingRule
    seed : int
    measure : callable, optional
        Measure factory (picklable: a module-level function); default the real
        ComplexityAnalyzer measure of the swarm.
    chunks : int, optional
        Number of agent groups (default: min(n_agents, workers)).
    subject : str, optional
        NATS subject (default: a fresh one per run, so runs never hear each other).
    timeout : float
        Seconds to wait for the groups to become ready, and for the coordinator to see
        progress.
    recorder : SwarmRecorder, optional
        Stores what the coordinator measures (on the client: the only writer).

    Raises
    ------
    ConfigError
        For more groups than workers or a bad agent count.
    ExecutorError
        When a group fails or the swarm does not start in time.
    """
    from distributed import Event, Queue

    from resonance_engine.swarm.distributed import run_agents, run_coordinator

    if not isinstance(executor, DaskExecutor):
        raise ConfigError(
            f"a distributed swarm needs a DaskExecutor, got {type(executor).__name__}; "
            "use resonance_engine.swarm.Swarm for one process"
        )
    workers = sorted(executor.client.scheduler_info()["workers"])
    chunks = chunks if chunks is not None else min(n_agents, len(workers))
    if not isinstance(chunks, int) or not 1 <= chunks <= min(n_agents, len(workers)):
        raise ConfigError(
            f"chunks must be an integer in 1..min(n_agents, workers) = "
            f"1..{min(n_agents, len(workers))}, got {chunks!r}; every agent group needs a "
            "worker of its own"
        )
    run_id = uuid.uuid4().hex[:12]
    subject = subject or f"resonance.swarm.{run_id}"
    ready_name, start_name = f"resonance-ready-{run_id}", f"resonance-start-{run_id}"
    ready_queue, start = Queue(ready_name, client=executor.client), Event(
        start_name, client=executor.client
    )
    groups = [list(map(int, ids)) for ids in np.array_split(np.arange(n_agents), chunks)]

    coordinator_out: dict[str, Any] = {}
    coordinator_ready = threading.Event()

    def coordinate() -> None:
        try:
            coordinator_out["result"] = run_coordinator(
                url, n_agents, ticks, window=getattr(config, "window", 64), timeout=timeout,
                subject=subject, ready=coordinator_ready.set, recorder=recorder,
            )
        except BaseException as exc:  # noqa: BLE001 - reported below
            coordinator_out["error"] = exc
            coordinator_ready.set()

    thread = threading.Thread(target=coordinate, name="resonance-coordinator", daemon=True)
    thread.start()
    futures = []
    try:
        if not coordinator_ready.wait(timeout) or "error" in coordinator_out:
            raise ExecutorError(
                f"the swarm coordinator could not listen on {url}: "
                f"{coordinator_out.get('error', 'timed out')}"
            )
        for index, ids in enumerate(groups):
            futures.append(
                executor.client.submit(
                    run_agents, url, n_agents, ids, ticks, config, coupling, seed, measure,
                    subject, _QueuePut(ready_name, index), _EventWait(start_name, timeout),
                    pure=False, workers=[workers[index]], allow_other_workers=False,
                    key=f"resonance-agents-{run_id}-{index}",
                )
            )
        for _ in groups:
            try:
                ready_queue.get(timeout=timeout)
            except TimeoutError:
                failed = [f for f in futures if f.status == "error"]
                why = f": {failed[0].exception()}" if failed else ""
                raise ExecutorError(
                    f"an agent group did not become ready within {timeout:g} s{why}"
                ) from None
        start.set()
        results = []
        for index, future in enumerate(futures):
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - one message for any worker error
                raise ExecutorError(
                    f"agent group {index} (agents {groups[index]}) failed on "
                    f"{workers[index]}: {type(exc).__name__}: {exc}"
                ) from None
            results.append({**result, "worker": workers[index]})
        thread.join(timeout + 10)
        if "error" in coordinator_out:
            raise ExecutorError(f"the swarm coordinator failed: {coordinator_out['error']}")
        if "result" not in coordinator_out:
            raise ExecutorError("the swarm coordinator did not finish")
        return DistributedSwarmResult(coordinator_out["result"], results)
    finally:
        pending = [f for f in futures if not f.done()]
        if pending:
            executor.client.cancel(pending)
        start.clear()
