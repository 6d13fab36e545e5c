"""Swarm: N wave-field agents stepped together, coordinating through signatures on a bus.

All agents hosted in one process share ONE batched
:class:`~resonance_engine.field.solver.WaveSolver2D` (``batch = agents here``), so a tick is
one compiled stepping call plus one batched measurement, not N of each. A tick:

1. step every field ``steps_per_tick`` time steps;
2. measure every field (the measure returns D, C, G, tau, CI per field);
3. each agent publishes its 64-byte signature on the bus (with ``exchange="state"`` it
   also publishes its whole float32 field, to measure what state exchange would cost);
4. each agent reads the swarm's aggregate signature (mean over every agent's latest
   signature, from the bus) and applies the coupling rule
   (:class:`~resonance_engine.swarm.agent.CouplingRule`) to its drive gain.

Agents start from the default pond (:func:`resonance_engine.config.default_pond`) with
seeded random parameters: drive gain log-uniform in [1/a, a] (a = ``amplitude_spread``),
source frequencies scaled by a factor uniform in [1 - f, 1 + f] (f = ``frequency_spread``),
source phases uniform in [0, 2 pi), damping uniform in ``damping_range``. The draws are
made for every agent id whatever process hosts it, so a distributed swarm with the same
seed has the same agents as an in-process one.

Agents of several processes (``agent_ids`` a subset, a NATS bus) run in lock step: after
publishing a tick, a process waits up to ``lockstep_timeout`` seconds for every agent's
signature of that tick before it adapts (late ticks are counted, not waited for forever).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from resonance_engine.config import SimulationConfig, default_pond
from resonance_engine.errors import ConfigError
from resonance_engine.field.solver import WaveSolver2D
from resonance_engine.swarm.agent import CouplingRule, SwarmAgent, SwarmAggregate
from resonance_engine.swarm.bus import Bus, InProcessBus
from resonance_engine.swarm.coordinator import SwarmCoordinator, SwarmRecorder
from resonance_engine.swarm.measure import AnalyzerMeasure, MeasureFactory
from resonance_engine.swarm.signature import Signature

__all__ = ["SwarmConfig", "Swarm", "SwarmView", "SwarmSnapshot", "TickInfo"]


@dataclass(frozen=True)
class SwarmConfig:
    """Parameters of a swarm (all agents share the grid; see the module docstring).

    Attributes
    ----------
    size : int
        Cells per side of every agent's field (default 128).
    steps_per_tick : int
        Solver steps between two measurements/signatures (default 10).
    window : int
        CS window of the coordinator (ticks, default 64).
    amplitude_spread, frequency_spread : float
        Spread of the agents' initial drive gain and source frequencies.
    phase_spread : float
        Source phases are uniform in [0, 2 pi phase_spread) (0: every agent in phase).
    damping_range : tuple of float
        Range of the agents' damping rates (1/s).
    noise : float
        Per-tick noise on the log drive gain theta (0 = none); a swarm's ``noise``
        attribute starts from it and may be changed while it runs.
    lockstep_timeout : float
        Seconds to wait for the other processes' signatures of a tick.
    backend : str
        Solver backend ("auto", "numba", "numpy").
    simulation : SimulationConfig, optional
        Base scenario instead of ``default_pond(size)``; its sources are each agent's.
    """

    size: int = 128
    steps_per_tick: int = 10
    window: int = 64
    amplitude_spread: float = 2.0
    frequency_spread: float = 0.1
    phase_spread: float = 1.0
    damping_range: tuple[float, float] = (0.05, 0.3)
    noise: float = 0.0
    lockstep_timeout: float = 5.0
    backend: str = "auto"
    simulation: SimulationConfig | None = None

    def __post_init__(self) -> None:
        if self.size < 16:
            raise ConfigError(f"SwarmConfig.size must be >= 16 cells, got {self.size}")
        if self.steps_per_tick < 1:
            raise ConfigError(f"steps_per_tick must be >= 1, got {self.steps_per_tick}")
        if self.window < 3:
            raise ConfigError(f"window must be >= 3 ticks, got {self.window}")
        if self.amplitude_spread < 1 or not 0 <= self.frequency_spread < 1:
            raise ConfigError("amplitude_spread must be >= 1 and frequency_spread in [0, 1)")
        if not 0 <= self.phase_spread <= 1:
            raise ConfigError(f"phase_spread must be in [0, 1], got {self.phase_spread}")
        lo, hi = self.damping_range
        if not 0 <= lo <= hi:
            raise ConfigError(
                f"damping_range must satisfy 0 <= low <= high, got {self.damping_range}"
            )
        if self.noise < 0:
            raise ConfigError(f"noise must be >= 0, got {self.noise}")

    def base_simulation(self, seed: int) -> SimulationConfig:
        return self.simulation if self.simulation is not None else default_pond(self.size, seed)


@dataclass(frozen=True)
class TickInfo:
    """What one tick produced in this process."""

    step: int
    ci: np.ndarray
    theta: np.ndarray
    aggregate: SwarmAggregate | None
    cs: float


class SwarmView:
    """Every agent's signatures of the last few ticks, as heard on the bus; gives the
    aggregate signature of a tick.

    The aggregate of tick t averages every agent's signature of tick t; an agent whose
    tick-t signature has not arrived contributes its latest earlier one (if any). Keeping
    a few ticks (not only the latest signature) makes the aggregate independent of how
    far other processes have run ahead.
    """

    def __init__(self, n_agents: int, keep: int = 8) -> None:
        self.n_agents = n_agents
        self.keep = keep
        self._latest_step = np.full(n_agents, -1, dtype=np.int64)
        self._by_step: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._cond = threading.Condition()

    def ingest(self, sig: Signature) -> None:
        if sig.agent >= self.n_agents:
            return
        with self._cond:
            step = sig.step
            if step <= self._latest_step.max() - self.keep:
                return
            entry = self._by_step.get(step)
            if entry is None:
                entry = (np.full((self.n_agents, 5), np.nan), np.zeros(self.n_agents, dtype=bool))
                self._by_step[step] = entry
                for old in [s for s in self._by_step if s < step - self.keep]:
                    del self._by_step[old]
            entry[0][sig.agent] = (sig.fractal_dim, sig.coherence, sig.gain, sig.dwell, sig.ci)
            entry[1][sig.agent] = True
            if step > self._latest_step[sig.agent]:
                self._latest_step[sig.agent] = step
            self._cond.notify_all()

    def wait_for(self, step: int, timeout: float) -> bool:
        """Wait until every agent's signature of ``step`` (or later) is in; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._latest_step.min() < step:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def aggregate(self, step: int | None = None) -> SwarmAggregate | None:
        """Means over the agents' signatures of ``step`` (default: the newest tick heard),
        falling back to an agent's latest earlier signature; None if nothing was heard."""
        with self._cond:
            if not self._by_step:
                return None
            if step is None:
                step = max(self._by_step)
            values = np.full((self.n_agents, 5), np.nan)
            have = np.zeros(self.n_agents, dtype=bool)
            for s in sorted(k for k in self._by_step if k <= step):
                vals, got = self._by_step[s]
                values[got] = vals[got]
                have |= got
            if not have.any():
                return None
            means = values[have].mean(axis=0)
            return SwarmAggregate(int(step), int(have.sum()), *map(float, means))


@dataclass
class SwarmSnapshot:
    """Everything needed to rebuild a swarm in the state it had (picklable).

    The measure is rebuilt from its factory: its own memory (e.g. dwell-time frames) starts
    empty and refills within a few ticks.
    """

    n_agents: int
    config: SwarmConfig
    coupling: CouplingRule
    seed: int
    agent_ids: tuple[int, ...]
    measure: MeasureFactory
    tick: int
    step_count: int
    u: np.ndarray
    u_prev: np.ndarray
    theta: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)


class Swarm:
    """N agents coordinating through signatures.

    Parameters
    ----------
    n_agents : int
        Agents in the whole swarm (>= 2).
    config : SwarmConfig, optional
    coupling : float or CouplingRule
        Coupling strength K (0 = independent agents) or a full rule.
    bus : Bus, optional
        Defaults to a new :class:`~resonance_engine.swarm.bus.InProcessBus`.
    seed : int
        Seed of the agents' random parameters.
    measure : MeasureFactory, optional
        Builds the measure of the fields (default: the ComplexityAnalyzer with default
        MetricsConfig).
    agent_ids : sequence of int, optional
        The agents hosted in this process (default: all).
    coordinator : bool
        Attach a :class:`SwarmCoordinator` to the bus (default True).
    exchange : {"signature", "state"}
        With ``"state"`` every agent also publishes its full float32 field each tick (to
        measure full-state traffic on the same bus); coordination still uses signatures.
    recorder : SwarmRecorder, optional
        Storage of signatures, CS and alerts (an AgentDB adapter).

    Examples
    --------
    >>> swarm = Swarm(8, SwarmConfig(size=64), coupling=0.3, seed=1)  # doctest: +SKIP
    >>> swarm.run(200)                                                # doctest: +SKIP
    >>> swarm.coordinator.cs                                          # doctest: +SKIP
    """

    def __init__(
        self,
        n_agents: int,
        config: SwarmConfig | None = None,
        coupling: float | CouplingRule = 0.0,
        bus: Bus | None = None,
        seed: int = 0,
        measure: MeasureFactory | None = None,
        agent_ids: Sequence[int] | None = None,
        coordinator: bool = True,
        exchange: Literal["signature", "state"] = "signature",
        recorder: SwarmRecorder | None = None,
    ) -> None:
        if not isinstance(n_agents, int) or n_agents < 2:
            raise ConfigError(f"a swarm needs n_agents >= 2, got {n_agents!r}")
        if exchange not in ("signature", "state"):
            raise ConfigError(f"exchange must be 'signature' or 'state', got {exchange!r}")
        self.n_agents = n_agents
        self.config = config or SwarmConfig()
        self.coupling = coupling if isinstance(coupling, CouplingRule) else CouplingRule(coupling)
        self.seed = int(seed)
        self.exchange = exchange
        self.agent_ids = tuple(range(n_agents)) if agent_ids is None else tuple(agent_ids)
        if not self.agent_ids or any(not 0 <= a < n_agents for a in self.agent_ids):
            raise ConfigError(f"agent_ids must be a non-empty subset of 0..{n_agents - 1}")
        if len(set(self.agent_ids)) != len(self.agent_ids):
            raise ConfigError(f"agent_ids repeat an id: {self.agent_ids}")
        self._owns_bus = bus is None
        self.bus: Bus = bus if bus is not None else InProcessBus()
        self.measure_factory: MeasureFactory = measure or AnalyzerMeasure()
        self._measure = self.measure_factory()
        self.solver, self.agents = self._build_agents()
        self.view = SwarmView(n_agents)
        self.bus.subscribe(self.view.ingest)
        self.coordinator: SwarmCoordinator | None = None
        if coordinator:
            self.coordinator = SwarmCoordinator(
                n_agents, window=self.config.window, recorder=recorder
            )
            self.bus.subscribe(self._to_coordinator)
        self.noise = self.config.noise
        self._noise_rng = np.random.default_rng([self.seed, 1])
        self.tick_count = 0
        self.late_ticks = 0
        self.ci_history: list[np.ndarray] = []
        self.theta_history: list[np.ndarray] = []

    # ------------------------------------------------------------------ construction
    def _build_agents(self) -> tuple[WaveSolver2D, list[SwarmAgent]]:
        cfg = self.config
        sim = cfg.base_simulation(self.seed).model_copy(update={"backend": cfg.backend})
        solver = sim.build(batch=len(self.agent_ids))
        n_src = solver.drive_amplitude.shape[1]
        if n_src == 0:
            raise ConfigError("the swarm's base simulation has no sources to drive")
        rng = np.random.default_rng(self.seed)
        a = cfg.amplitude_spread
        theta0 = rng.uniform(-math.log(a), math.log(a), self.n_agents) if a > 1 else np.zeros(
            self.n_agents
        )
        fscale = rng.uniform(1 - cfg.frequency_spread, 1 + cfg.frequency_spread, self.n_agents)
        phases = rng.uniform(0, 2 * np.pi, (self.n_agents, n_src)) * cfg.phase_spread
        damping = rng.uniform(*cfg.damping_range, self.n_agents)
        ids = np.array(self.agent_ids)
        base = solver.drive_amplitude[0].copy()
        solver.drive_frequency[:] = solver.drive_frequency[0] * fscale[ids, None]
        solver.drive_phase[:] = phases[ids]
        solver.damping = damping[ids]
        agents = [
            SwarmAgent(int(agent_id), member, base, float(theta0[agent_id]), self.coupling)
            for member, agent_id in enumerate(self.agent_ids)
        ]
        for agent in agents:
            solver.drive_amplitude[agent.member] = agent.amplitude
        return solver, agents

    # ------------------------------------------------------------------ running
    @property
    def theta(self) -> np.ndarray:
        """Log drive gain of each local agent, shape (agents here,)."""
        return np.array([agent.theta for agent in self.agents])

    def tick(self) -> TickInfo:
        """One tick: step, measure, publish, read the aggregate, adapt (see module docs)."""
        cfg = self.config
        if self.noise > 0:
            for agent in self.agents:
                agent.perturb(self._noise_rng, self.noise)
        for agent in self.agents:
            self.solver.drive_amplitude[agent.member] = agent.amplitude
        self.solver.step(cfg.steps_per_tick)
        fields = self.solver.u if self.solver.batch is not None else self.solver.u[None]
        metrics = self._measure(fields)
        step = self.tick_count
        ci = np.empty(len(self.agents))
        for agent in self.agents:
            sig = agent.signature(step, metrics[agent.member])
            ci[agent.member] = sig.ci
            self.bus.publish(sig)
            if self.exchange == "state":
                self.bus.publish_payload(
                    "state", np.ascontiguousarray(fields[agent.member], dtype=np.float32).tobytes()
                )
        if len(self.agents) < self.n_agents:
            self.bus.flush(timeout=cfg.lockstep_timeout)
            if not self.view.wait_for(step, cfg.lockstep_timeout):
                self.late_ticks += 1
        aggregate = self.view.aggregate(step)
        for agent in self.agents:
            agent.adapt(aggregate)
        self.tick_count += 1
        theta = self.theta
        self.ci_history.append(ci)
        self.theta_history.append(theta)
        cs = self.coordinator.cs if self.coordinator is not None else math.nan
        return TickInfo(step, ci, theta, aggregate, cs)

    def run(self, ticks: int, callback: Callable[[TickInfo], None] | None = None) -> Swarm:
        """Run ``ticks`` ticks, calling ``callback(info)`` after each; returns self."""
        if not isinstance(ticks, int) or ticks < 0:
            raise ConfigError(f"ticks must be an integer >= 0, got {ticks!r}")
        for _ in range(ticks):
            info = self.tick()
            if callback is not None:
                callback(info)
        return self

    def drain(self, timeout: float = 5.0) -> bool:
        """Flush the bus and wait until the coordinator has every tick run so far (a network
        bus delivers asynchronously); returns False if it did not within ``timeout`` s."""
        self.bus.flush(timeout=timeout)
        if self.coordinator is None:
            return True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            coord = self.coordinator
            if coord.ticks + coord.incomplete_ticks >= self.tick_count:
                return True
            time.sleep(0.005)
        return False

    def perturb(self, strength: float, rng: np.random.Generator | None = None) -> None:
        """Kick every local agent's log drive gain by ``strength * N(0, 1)``."""
        if not (math.isfinite(strength) and strength >= 0):
            raise ConfigError(f"perturbation strength must be finite and >= 0, got {strength!r}")
        rng = rng if rng is not None else np.random.default_rng([self.seed, 2])
        for agent in self.agents:
            agent.perturb(rng, strength)

    def seed_noise(self, seed: int) -> None:
        """Restart the stream of the per-tick noise from ``seed``."""
        self._noise_rng = np.random.default_rng(seed)

    def _to_coordinator(self, sig: Signature) -> None:
        if self.coordinator is not None:
            self.coordinator.ingest(sig)

    def reset_coordinator(self) -> None:
        """Start the coordinator's window afresh (e.g. right after a perturbation)."""
        if self.coordinator is None:
            return
        old = self.coordinator
        self.coordinator = SwarmCoordinator(
            self.n_agents, window=old.window, thresholds=old.health.thresholds,
            mdea=old.mdea, recorder=old.recorder, max_lag=old.max_lag,
        )

    # ------------------------------------------------------------------ results
    def ci_series(self) -> np.ndarray:
        """CI of each local agent per tick, shape (ticks, agents here)."""
        return np.array(self.ci_history).reshape(-1, len(self.agents))

    def theta_series(self) -> np.ndarray:
        """Log drive gain of each local agent after each tick, shape (ticks, agents here)."""
        return np.array(self.theta_history).reshape(-1, len(self.agents))

    def traffic_per_tick(self) -> dict[str, float]:
        """Bytes handed to the bus per tick, per channel (measured by the bus)."""
        ticks = max(1, self.tick_count)
        return {ch: n / ticks for ch, n in self.bus.stats.bytes_out.items()}

    # ------------------------------------------------------------------ state
    def snapshot(self) -> SwarmSnapshot:
        """A picklable copy of the swarm's state (fields, drive gains, clock)."""
        fields = self.solver.u if self.solver.batch is not None else self.solver.u[None]
        prev = self.solver.u_prev if self.solver.batch is not None else self.solver.u_prev[None]
        return SwarmSnapshot(
            self.n_agents, self.config, self.coupling, self.seed, self.agent_ids,
            self.measure_factory, self.tick_count, self.solver.step_count,
            np.array(fields), np.array(prev), self.theta,
        )

    @classmethod
    def from_snapshot(cls, snapshot: SwarmSnapshot, **overrides: Any) -> Swarm:
        """Rebuild a swarm from :meth:`snapshot` (new in-process bus unless ``bus=`` is
        given; ``config=``/``coupling=`` may replace the snapshot's)."""
        kwargs: dict[str, Any] = {
            "config": snapshot.config, "coupling": snapshot.coupling, "seed": snapshot.seed,
            "measure": snapshot.measure, "agent_ids": snapshot.agent_ids,
        }
        kwargs.update(overrides)
        swarm = cls(snapshot.n_agents, **kwargs)
        swarm.solver.set_state(
            snapshot.u if swarm.solver.batch is not None else snapshot.u[0],
            snapshot.u_prev if swarm.solver.batch is not None else snapshot.u_prev[0],
        )
        swarm.solver.step_count = snapshot.step_count
        swarm.tick_count = snapshot.tick
        for agent, theta in zip(swarm.agents, snapshot.theta, strict=True):
            agent.theta = float(theta)
        return swarm

    def with_config(self, **changes: Any) -> SwarmConfig:
        """A copy of the config with ``changes`` (convenience for experiments)."""
        return replace(self.config, **changes)

    def close(self) -> None:
        """Close the bus if this swarm created it."""
        if self._owns_bus:
            self.bus.close()
