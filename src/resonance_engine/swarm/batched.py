"""Swarm: N wave-field agents stepped together, coordinating through signatures on a bus.

All agents hosted in one process share ONE batched
:class:`~resonance_engine.field.solver.WaveSolver2D` (``batch = agents here``), so a tick is
one compiled stepping call plus one batched measurement, not N of each. A tick:

1. step every field ``steps_per_tick`` time steps, each source driven at its agent's
   gain, frequency and continuously integrated phase;
2. measure every field (the measure returns D, C, G, tau, CI per field): by default every
   ``measure_every`` steps within the tick, with the tick's signature carrying the mean
   over those frames (see "Sampling" below);
3. the coupling exchanges state if it is a state coupling (``diffusive``: boundary strips);
4. each agent publishes its 64-byte signature on the bus (with ``exchange="state"`` it
   also publishes its whole float32 field, to measure what state exchange would cost);
5. each agent reads the swarm's aggregate signature (mean over every agent's signature of
   the tick, from the bus) and the coupling (:mod:`resonance_engine.swarm.coupling`,
   ``coupling_mode``) sets its drive gain and its frequencies for the next tick.

Sampling (the tick rate must resolve the drives)
------------------------------------------------
The fields oscillate at the drive frequencies (9-18.7 Hz in the default pond with a
+-10 % spread), faster than a tick (10 steps, 0.09 s at 64x64 cells). Default
(``ci_average=True``): the swarm measures every ``measure_every`` steps, the largest
interval that still gives at least ``frames_per_period`` (4) frames per period of the
fastest drive (every step when even one step is longer than that), and the tick's
signature carries the mean of D, C, G, tau and CI over the tick's frames (integrate and
dump: the tick series is a low-passed, not an aliased, sample). With
``ci_average=False`` the swarm measures once per tick; when a tick is longer than a
quarter of the fastest drive period the CI series is aliased, and the swarm says so
(:attr:`Swarm.aliased`, a warning, and ``sampling()`` in summaries).

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

import logging
import math
import pickle
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from resonance_engine.config import SimulationConfig, default_pond
from resonance_engine.errors import ConfigError
from resonance_engine.field.memory import check_fits
from resonance_engine.field.solver import WaveSolver2D
from resonance_engine.loop import Callback, Run, RunLoop
from resonance_engine.oscillators import order_parameter
from resonance_engine.swarm.agent import SwarmAgent, SwarmAggregate
from resonance_engine.swarm.bus import Bus, InProcessBus
from resonance_engine.swarm.coordinator import SwarmCoordinator, SwarmRecorder
from resonance_engine.swarm.coupling import Coupling, make_coupling
from resonance_engine.swarm.measure import AnalyzerMeasure, MeasureFactory, dump_measure
from resonance_engine.swarm.signature import MAX_DRIVE_PHASES, Signature

__all__ = [
    "SwarmConfig", "Swarm", "SwarmView", "SwarmSnapshot", "TickInfo", "check_swarm_memory",
]

log = logging.getLogger("resonance_engine.swarm")


def check_swarm_memory(n_agents: int, size: int, history: int = 16) -> None:
    """Refuse (ConfigError, with the bytes needed) a swarm whose fields cannot fit in
    memory, before anything is allocated.

    Counts the batched solver's two float32 time levels and the dwell-time ring of
    ``history`` int16 frames per agent (the default measure's), the largest arrays.
    """
    cells = n_agents * size * size
    check_fits(
        cells * (2 * 4 + history * 2),
        f"a swarm of {n_agents} agents of {size}x{size} cells (fields and dwell history)",
        "use fewer --agents or a smaller --size",
    )


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
    ci_average : bool
        Measure several frames per tick and send their mean (default True; see the module
        docstring, "Sampling"); False measures once per tick.
    frames_per_period : int
        Frames per period of the fastest drive that ``ci_average`` measures (default 4).
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
    ci_average: bool = True
    frames_per_period: int = 4

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
        if self.frames_per_period < 1:
            raise ConfigError(f"frames_per_period must be >= 1, got {self.frames_per_period}")

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

    #: columns of a row: D, C, G, tau, CI, drive omega, then cos and sin of each phase
    _COLUMNS = 6 + 2 * MAX_DRIVE_PHASES

    def ingest(self, sig: Signature) -> None:
        if sig.agent >= self.n_agents:
            return
        with self._cond:
            step = sig.step
            if step <= self._latest_step.max() - self.keep:
                return
            entry = self._by_step.get(step)
            if entry is None:
                entry = (np.full((self.n_agents, self._COLUMNS), np.nan),
                         np.zeros(self.n_agents, dtype=bool))
                self._by_step[step] = entry
                for old in [s for s in self._by_step if s < step - self.keep]:
                    del self._by_step[old]
            row = entry[0][sig.agent]
            row[:] = np.nan
            row[:5] = (sig.fractal_dim, sig.coherence, sig.gain, sig.dwell, sig.ci)
            if sig.drive_phases:
                n = len(sig.drive_phases)
                phases = np.asarray(sig.drive_phases)
                row[5] = sig.drive_omega
                row[6 : 6 + n] = np.cos(phases)
                row[6 + MAX_DRIVE_PHASES : 6 + MAX_DRIVE_PHASES + n] = np.sin(phases)
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
            values = np.full((self.n_agents, self._COLUMNS), np.nan)
            have = np.zeros(self.n_agents, dtype=bool)
            for s in sorted(k for k in self._by_step if k <= step):
                vals, got = self._by_step[s]
                values[got] = vals[got]
                have |= got
            if not have.any():
                return None
        heard = values[have]
        d, c, g, tau, ci = (float(v) for v in heard[:, :5].mean(axis=0))
        drive = heard[:, 5:]
        carried = np.isfinite(drive[:, 0])
        if not carried.any():
            return SwarmAggregate(int(step), int(have.sum()), d, c, g, tau, ci)
        rows = drive[carried]
        n = int(np.isfinite(rows[0, 1 : 1 + MAX_DRIVE_PHASES]).sum())
        cols = [0, *range(1, 1 + n), *range(1 + MAX_DRIVE_PHASES, 1 + MAX_DRIVE_PHASES + n)]
        mean = np.full(drive.shape[1], np.nan)
        mean[cols] = rows[:, cols].mean(axis=0)
        phasor = tuple(complex(mean[1 + k], mean[1 + MAX_DRIVE_PHASES + k]) for k in range(n))
        return SwarmAggregate(
            int(step), int(have.sum()), d, c, g, tau, ci,
            drive_omega=float(mean[0]), drive_phasor=phasor,
        )


@dataclass
class SwarmSnapshot:
    """Everything needed to rebuild a swarm in the state it had (picklable).

    Complete: the fields, every agent's drive state (gain, phases, frequencies, integral),
    the clock, the per-tick noise stream, the measure's own memory (the analyzers'
    dwell-time frames, pickled in ``measure_state``) and what a controller has learnt
    (``coupling_state``: its data, model, filters and safe sets), so a swarm rebuilt from a
    snapshot continues exactly as the original would have.
    """

    n_agents: int
    config: SwarmConfig
    coupling: Coupling
    seed: int
    agent_ids: tuple[int, ...]
    measure: MeasureFactory
    tick: int
    step_count: int
    u: np.ndarray
    u_prev: np.ndarray
    theta: np.ndarray
    agents: tuple[dict[str, Any], ...] = ()
    measure_state: bytes | None = None
    noise_rng: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    coupling_state: bytes | None = None


class _Ticks:
    """What the run loop steps for a swarm: one loop step is one tick."""

    def __init__(self, swarm: Swarm) -> None:
        self.swarm = swarm

    @property
    def step_count(self) -> int:
        return self.swarm.tick_count

    @property
    def t(self) -> float:
        return float(self.swarm.solver.t)

    def step(self, n: int = 1) -> None:
        for _ in range(n):
            self.swarm.tick()


class Swarm:
    """N agents coordinating through signatures.

    Parameters
    ----------
    n_agents : int
        Agents in the whole swarm (>= 2).
    config : SwarmConfig, optional
    coupling : float or Coupling
        Coupling strength K (0 = independent agents; units per mode) or a coupling object
        (:mod:`resonance_engine.swarm.coupling`; then ``coupling_mode`` is ignored).
    coupling_mode : str
        ``gain`` (default), ``kuramoto``, ``ci-feedback``, ``common-drive``, ``diffusive``
        or any mode registered with
        :func:`~resonance_engine.swarm.coupling.register_coupling`.
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
        coupling: float | Coupling = 0.0,
        bus: Bus | None = None,
        seed: int = 0,
        measure: MeasureFactory | None = None,
        agent_ids: Sequence[int] | None = None,
        coordinator: bool = True,
        exchange: Literal["signature", "state"] = "signature",
        recorder: SwarmRecorder | None = None,
        coupling_mode: str = "gain",
    ) -> None:
        if not isinstance(n_agents, int) or n_agents < 2:
            raise ConfigError(f"a swarm needs n_agents >= 2, got {n_agents!r}")
        if exchange not in ("signature", "state"):
            raise ConfigError(f"exchange must be 'signature' or 'state', got {exchange!r}")
        self.n_agents = n_agents
        self.config = config or SwarmConfig()
        self.coupling: Coupling = (
            coupling if isinstance(coupling, Coupling) else make_coupling(coupling_mode, coupling)
        )
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
        self.measure_every = self._measure_interval()
        if self.aliased:
            log.warning(
                "the swarm's CI is aliased: one frame per tick of %.4g s against a fastest "
                "drive period of %.4g s (< %d frames per period); use ci_average=True or "
                "fewer steps_per_tick", self.tick_seconds, self.fastest_period,
                self.config.frames_per_period,
            )
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
        self.last_tick: TickInfo | None = None
        self.last_run: Run | None = None
        self.late_ticks = 0
        self.control_seconds = 0.0  # wall time spent in coupling.adapt (the controllers)
        self.ci_history: list[np.ndarray] = []
        self.theta_history: list[np.ndarray] = []
        self.frame_ci_history: list[np.ndarray] = []
        self.coupling.bind(self)

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
        base = solver.drive_amplitude[0].copy()
        #: the external rhythm of ``common-drive``: the base scenario's sources
        self.reference_frequency = solver.drive_frequency[0].copy()
        self.reference_phase = solver.drive_phase[0].copy()
        solver.damping = damping[np.array(self.agent_ids)]
        agents = [
            SwarmAgent(
                int(agent_id), member, base, float(theta0[agent_id]), self.coupling,
                natural_frequency=self.reference_frequency * fscale[agent_id],
                phase=phases[agent_id] + 2 * np.pi * self.reference_frequency
                * fscale[agent_id] * solver.t,
            )
            for member, agent_id in enumerate(self.agent_ids)
        ]
        return solver, agents

    def _measure_interval(self) -> int:
        """Steps between frames: one per tick, or (ci_average) >= frames_per_period frames
        per period of the fastest drive."""
        cfg = self.config
        if not cfg.ci_average:
            return cfg.steps_per_tick
        per_period = self.fastest_period / (cfg.frames_per_period * self.solver.dt)
        return max(1, min(cfg.steps_per_tick, int(per_period)))

    @property
    def tick_seconds(self) -> float:
        """Simulated seconds per tick."""
        return self.config.steps_per_tick * self.solver.dt

    @property
    def fastest_period(self) -> float:
        """Period of the fastest natural drive frequency of the local agents (s)."""
        fastest = max(float(np.max(a.natural_frequency)) for a in self.agents)
        return 1.0 / fastest if fastest > 0 else math.inf

    @property
    def aliased(self) -> bool:
        """True when the tick's CI is one frame per tick that undersamples the drives."""
        return (not self.config.ci_average) and (
            self.tick_seconds * self.config.frames_per_period > self.fastest_period
        )

    def drive_order_parameter(self) -> np.ndarray:
        """Kuramoto order parameter R of every source's drive phase over the local agents,
        shape (n_sources,): 1 when the drives are phase-locked."""
        r, _ = order_parameter(np.stack([agent.phase for agent in self.agents]).T)
        return np.atleast_1d(np.asarray(r, dtype=np.float64))

    def sampling(self) -> dict[str, Any]:
        """How the CI series samples the drives (for summaries)."""
        frames = self.config.steps_per_tick // self.measure_every
        return {
            "tick_s": self.tick_seconds,
            "fastest_drive_period_s": self.fastest_period,
            "frames_per_tick": frames,
            "frames_per_fastest_period": (
                self.fastest_period / (self.measure_every * self.solver.dt)
            ),
            "ci_averaged_over_tick": self.config.ci_average,
            "aliased": self.aliased,
        }

    # ------------------------------------------------------------------ running
    @property
    def theta(self) -> np.ndarray:
        """Log drive gain of each local agent, shape (agents here,)."""
        return np.array([agent.theta for agent in self.agents])

    def _apply_drive(self) -> None:
        """Hand every agent's gain, frequency and phase to the solver for the next tick."""
        t0 = self.solver.t
        for agent in self.agents:
            m = agent.member
            self.solver.drive_amplitude[m] = agent.amplitude
            self.solver.drive_frequency[m] = agent.frequency
            self.solver.drive_phase[m] = agent.phase - 2 * np.pi * agent.frequency * t0

    def _fields(self) -> np.ndarray:
        return self.solver.u if self.solver.batch is not None else self.solver.u[None]

    def _step_and_measure(self) -> list[Any]:
        """Step one tick; the metrics of the tick (mean over its frames with ci_average)."""
        cfg = self.config
        frames = cfg.steps_per_tick // self.measure_every
        if frames <= 1:
            self.solver.step(cfg.steps_per_tick)
            metrics = list(self._measure(self._fields()))
            self.frame_ci_history.append(np.array([m.ci for m in metrics]))
            return metrics
        sums = np.zeros((len(self.agents), 5))
        for k in range(frames):
            last = k == frames - 1
            n = self.measure_every
            if last:
                n = cfg.steps_per_tick - self.measure_every * (frames - 1)
            self.solver.step(n)
            frame = np.array([[m.fractal_dim, m.coherence, m.gain, m.dwell, m.ci]
                              for m in self._measure(self._fields())])
            self.frame_ci_history.append(frame[:, 4].copy())
            sums += frame
        return [_MeanMetrics(*row) for row in sums / frames]

    def tick(self) -> TickInfo:
        """One tick: step, measure, exchange, publish, read the aggregate, adapt (module docs)."""
        cfg = self.config
        if self.noise > 0:
            for agent in self.agents:
                agent.perturb(self._noise_rng, self.noise)
        self._apply_drive()
        metrics = self._step_and_measure()
        dt = self.tick_seconds
        for agent in self.agents:
            agent.advance(dt)
        self.coupling.exchange(self, dt)
        fields = self._fields()
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
        started = time.perf_counter()
        self.coupling.adapt(self, aggregate, self.solver.t, dt)
        self.control_seconds += time.perf_counter() - started
        self.tick_count += 1
        theta = self.theta
        self.ci_history.append(ci)
        self.theta_history.append(theta)
        cs = self.coordinator.cs if self.coordinator is not None else math.nan
        self.last_tick = TickInfo(step, ci, theta, aggregate, cs)
        return self.last_tick

    def run(
        self,
        ticks: int,
        callback: Callable[[TickInfo], None] | None = None,
        *,
        trackers: Sequence[Any] = (),
    ) -> Swarm:
        """Run ``ticks`` ticks through the run loop (:class:`resonance_engine.loop.RunLoop`);
        returns self (the loop's :class:`~resonance_engine.loop.Run` is :attr:`last_run`).

        Parameters
        ----------
        ticks : int
            Ticks to run (>= 0).
        callback : callable, optional
            ``callback(info)`` after each tick, with its :class:`TickInfo`.
        trackers : sequence of trackers
            Called with this swarm as the state; intervals count ticks.

        Raises
        ------
        KeyboardInterrupt
            After Ctrl-C, once every tracker has finished ("interrupted"); the ticks run
            so far stay.
        """
        if isinstance(ticks, bool) or not isinstance(ticks, int) or ticks < 0:
            raise ConfigError(f"ticks must be an integer >= 0, got {ticks!r}")
        all_trackers = list(trackers)
        if callback is not None:
            all_trackers.insert(0, Callback(lambda swarm, t: callback(swarm.last_tick), 1))
        self.last_run = RunLoop(self, all_trackers, steps=ticks, stepper=_Ticks(self)).run()
        if self.last_run.status == "interrupted":
            raise KeyboardInterrupt
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
        """Kick every local agent's log drive gain and drive phases by ``strength * N(0, 1)``
        (log gain, rad)."""
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

    def frame_ci_series(self) -> np.ndarray:
        """CI of each local agent per measured frame (``frames_per_tick`` per tick, the
        frames a tick's CI averages), shape (frames, agents here)."""
        return np.array(self.frame_ci_history).reshape(-1, len(self.agents))

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
            agents=tuple(agent.state() for agent in self.agents),
            measure_state=dump_measure(self._measure),
            noise_rng=dict(self._noise_rng.bit_generator.state),
            coupling_state=pickle.dumps(self.coupling.state()),
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
        for agent, state in zip(swarm.agents, snapshot.agents, strict=False):
            agent.set_state(state)
        if snapshot.measure_state is not None and "measure" not in overrides:
            swarm._measure = pickle.loads(snapshot.measure_state)
        if snapshot.noise_rng is not None:
            swarm._noise_rng.bit_generator.state = snapshot.noise_rng
        if snapshot.coupling_state is not None and "coupling" not in overrides:
            swarm.coupling.set_state(pickle.loads(snapshot.coupling_state))
        return swarm

    def summary(self) -> dict[str, Any]:
        """The coupling (mode, K, unit, what is exchanged) and the sampling of the drives."""
        return {"coupling": self.coupling.describe(), "sampling": self.sampling()}

    def with_config(self, **changes: Any) -> SwarmConfig:
        """A copy of the config with ``changes`` (convenience for experiments)."""
        return replace(self.config, **changes)

    def close(self) -> None:
        """Close the bus if this swarm created it."""
        if self._owns_bus:
            self.bus.close()


@dataclass(frozen=True)
class _MeanMetrics:
    """Means of D, C, G, tau and CI over a tick's frames (what the signature carries)."""

    fractal_dim: float
    coherence: float
    gain: float
    dwell: float
    ci: float
