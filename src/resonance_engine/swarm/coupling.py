"""Coupling mechanisms of a swarm: what ties an agent's drive to the others, and what it sends.

A swarm (:class:`~resonance_engine.swarm.batched.Swarm`) calls its coupling at two points
of every tick: :meth:`Coupling.exchange` right after the fields were stepped (only
``diffusive`` does something there: it swaps boundary strips of the fields), and
:meth:`Coupling.adapt` once the swarm's aggregate signature of the tick is known (it
sets each local agent's drive gain and the drive frequencies of the next tick). Every
agent's drive is the solver's ``A sin(phase)`` per source; the swarm integrates each
source's phase continuously (``phase += 2 pi f dt`` over a tick of ``dt`` seconds), so a
coupling changes a drive only through its gain (``theta``, the log gain) and its
frequency over the next tick, never by a jump of the phase.

The mechanisms (``Swarm(coupling_mode=...)``, ``resonance swarm --coupling-mode``); K is
``strength``:

``gain`` (K dimensionless) -- the original rule
    theta_i <- theta_i + K (CI_swarm - CI_i) / |CI_swarm| after every tick. Exchanges the
    64-byte signatures (complexity measures only). In the linear field CI is proportional
    to the drive gain and Pearson correlation ignores scale, so this rule moves CI levels
    together but cannot make CI series co-vary.
``kuramoto`` (K in 1/s)
    Each source k of each agent has phase phi_ik and natural angular frequency w_ik;
    d phi_ik/dt = w_ik + K R_k sin(Psi_k - phi_ik), with R_k exp(i Psi_k) the mean of
    exp(i phi_jk) over all agents' signatures of the tick (the swarm's mean drive phasor).
    Between ticks the mean phasor is held at its modulus R_k and rotates at the swarm's
    mean natural frequency, so over a tick each gap e = Psi_k - phi_ik follows Adler's
    equation de/dt = (W_k - w_ik) - K R_k sin(e), integrated by RK4 (steps of at most 0.1
    rad), and the tick's drive frequency is the mean rate that reaches the new phase:
    any K is stable and a locked pair keeps the continuous theory's gap arcsin(dw / K).
    The natural frequencies follow the swarm's mean slowly:
    d w_i/dt = frequency_pull K (<w> - w_i) (all sources of an agent keep their ratios).
    Exchanges the 64-byte signatures (version 2) whose 16 formerly reserved bytes carry
    w_i0 (float32, rad/s) and the agent's source phases (uint16 each): **a drive phase
    is part of an agent's state**, so this is a small state exchange, not coordination
    by complexity measures alone.
``ci-feedback`` (K dimensionless)
    A proportional-integral law on the agent's own relative CI error
    e_i = (CI_swarm - CI_i) / |CI_swarm|:
    theta_i = theta_i(0) + K (e_i + (1 / integral_time) integral e_i dt). Exchanges the
    64-byte signatures (complexity measures only).
``common-drive`` (K in 1/s) -- the positive control that needs no communication
    Every agent is entrained by one external rhythm known to all (the base scenario's
    source frequencies f_k and phases psi_k): d phi_ik/dt = w_ik + K sin(2 pi f_k t + psi_k
    - phi_ik), with the same exact per-tick solution and the same slow pull of w_i toward
    2 pi f_0. Agents exchange nothing (the signatures on the bus only feed the
    coordinator that measures CS).
``diffusive`` (K in 1/s) -- state exchange, the baseline
    The agents' fields lie on a ring (agent i between i-1 and i+1); after every tick each
    agent publishes its east and west boundary strips (``strip_width`` columns of u,
    float32) on the bus's ``"state"`` channel, and the overlapping strips of neighbours
    relax toward each other: u_i <- u_i + (c / 2) (u_j - u_i) with c = 1 - exp(-K dt)
    (the same change is applied to the previous field, so the strip's velocity is kept).
    Bytes per tick: agents x 2 x strip_width x ny x 4 on ``"state"``, counted by the bus.

Adding a mechanism (a row of the experiment's verdict table)
-------------------------------------------------------------
A new mechanism, or a controller that sets the agents' drives (adaptive, MPC, a trained
policy), is a frozen dataclass subclass of :class:`Coupling` that sets the class
attributes ``mode``, ``unit``, ``carries``, ``state_exchange``, ``channels`` and
``sweep`` (the K values the experiment tries), implements :meth:`Coupling.adapt` (and
:meth:`Coupling.exchange` if it moves state), and is decorated with
:func:`register_coupling`. If it lives in a module the swarm does not import, add one
line to :data:`MECHANISM_MODULES` (mode -> module), so that :func:`make_coupling`, the
CLI (``--coupling-mode``) and ``resonance experiment sync --mechanisms NAME`` import it
on demand. Its state lives in the agents (``theta``, ``frequency``, ``phase``,
``integral``), so snapshots and basin stability work unchanged.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from resonance_engine.errors import ConfigError

if TYPE_CHECKING:
    from resonance_engine.swarm.agent import SwarmAgent, SwarmAggregate

__all__ = [
    "Coupling",
    "GainCoupling",
    "KuramotoCoupling",
    "CIFeedbackCoupling",
    "CommonDriveCoupling",
    "DiffusiveCoupling",
    "COUPLING_MODES",
    "MECHANISM_MODULES",
    "register_coupling",
    "make_coupling",
    "coupling_class",
]

#: mode name -> Coupling subclass (filled by :func:`register_coupling`).
COUPLING_MODES: dict[str, type[Coupling]] = {}

#: mode name -> module that registers it when imported (mechanisms the swarm does not
#: import itself); one line per mechanism.
MECHANISM_MODULES: dict[str, str] = {
    "adaptive": "resonance_engine.swarm.controllers",
    "mpc": "resonance_engine.swarm.controllers",
    "lmpc": "resonance_engine.swarm.controllers",
    "rl": "resonance_engine.rl.policy",  # needs the rl extra (torch)
}

TWO_PI = 2 * math.pi


def register_coupling(cls: type[Coupling]) -> type[Coupling]:
    """Class decorator: make a :class:`Coupling` subclass available under ``cls.mode``."""
    if not cls.mode or cls.mode in COUPLING_MODES:
        raise ConfigError(f"coupling mode {cls.mode!r} is empty or registered already")
    COUPLING_MODES[cls.mode] = cls
    return cls


def make_coupling(mode: str, strength: float = 0.0, **options: Any) -> Coupling:
    """The coupling registered as ``mode`` with strength K (see the module docstring)."""
    return coupling_class(mode)(strength=float(strength), **options)


def coupling_class(mode: str) -> type[Coupling]:
    """The Coupling subclass registered as ``mode`` (importing its module if listed in
    :data:`MECHANISM_MODULES`)."""
    if mode not in COUPLING_MODES and mode in MECHANISM_MODULES:
        import importlib

        importlib.import_module(MECHANISM_MODULES[mode])
    try:
        return COUPLING_MODES[mode]
    except KeyError:
        raise ConfigError(
            f"unknown coupling mode {mode!r}; choose one of "
            f"{', '.join([*COUPLING_MODES, *MECHANISM_MODULES])}"
        ) from None


def _wrap(angle: np.ndarray) -> np.ndarray:
    """Angles mapped to (-pi, pi]."""
    return np.pi - np.mod(np.pi - angle, TWO_PI)


def _adler(error: np.ndarray, detuning: np.ndarray, rate: np.ndarray, dt: float) -> np.ndarray:
    """e(dt) of de/dt = detuning - rate sin(e) (Adler's equation), from e(0) = ``error``
    (wrapped), by RK4 with steps short enough that (|detuning| + rate) h <= 0.1."""
    e = _wrap(error)
    speed = float(np.max(np.abs(detuning) + rate)) if e.size else 0.0
    n = max(1, math.ceil(speed * dt / 0.1))
    h = dt / n

    def f(x: np.ndarray) -> np.ndarray:
        return detuning - rate * np.sin(x)

    for _ in range(n):
        k1 = f(e)
        k2 = f(e + 0.5 * h * k1)
        k3 = f(e + 0.5 * h * k2)
        k4 = f(e + h * k3)
        e = e + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)
    return e


@dataclass(frozen=True)
class Coupling:
    """Base of the coupling mechanisms (a frozen, picklable description; the state it
    changes lives in the agents).

    Attributes
    ----------
    strength : float
        K, >= 0 (units per mechanism, see :attr:`unit`); 0 leaves the agents independent.
    gain_min, gain_max : float
        Bounds of every agent's drive gain exp(theta).

    Class attributes
    ----------------
    mode : str
        Registry name.
    unit : str
        Unit of K.
    carries : str
        What the bytes the mechanism needs carry (for reports).
    state_exchange : bool
        True when agents send parts of their state (drive phases, field strips).
    channels : tuple of str
        Bus channels the coupling itself needs (signatures published only for the
        coordinator do not count when the mechanism needs none).
    shares_drive : bool
        True when signatures carry the drive payload (version-2 bytes 44..59).
    default_strength : float
        K used by the CLI when ``--coupling`` is not given.
    sweep : tuple of float
        K values ``resonance experiment sync`` tries by default (K = 0 is run once for all).
    controller : bool
        True for the controllers (:mod:`resonance_engine.swarm.controllers`, a trained
        policy): the experiment reports their compute per tick and learning episodes.
    """

    strength: float = 0.0
    gain_min: float = 0.25
    gain_max: float = 4.0

    mode: ClassVar[str] = ""
    unit: ClassVar[str] = ""
    default_strength: ClassVar[float] = 1.0
    sweep: ClassVar[tuple[float, ...]] = (1.0,)
    carries: ClassVar[str] = ""
    state_exchange: ClassVar[bool] = False
    channels: ClassVar[tuple[str, ...]] = ("signature",)
    shares_drive: ClassVar[bool] = False
    controller: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.strength) and self.strength >= 0):
            raise ConfigError(
                f"{self.mode} coupling strength K must be finite and >= 0, got "
                f"{self.strength!r}"
            )
        if not 0 < self.gain_min < 1 < self.gain_max:
            raise ConfigError(
                f"coupling gain bounds need 0 < gain_min < 1 < gain_max, got "
                f"[{self.gain_min}, {self.gain_max}]"
            )

    @property
    def theta_bounds(self) -> tuple[float, float]:
        """Bounds of the log drive gain."""
        return math.log(self.gain_min), math.log(self.gain_max)

    def clamp(self, theta: float) -> float:
        lo, hi = self.theta_bounds
        return min(hi, max(lo, theta))

    def describe(self) -> dict[str, Any]:
        """Mode, K and its unit, and what is exchanged (for summaries and reports)."""
        return {"mode": self.mode, "strength": self.strength, "unit": self.unit,
                "carries": self.carries, "state_exchange": self.state_exchange}

    # ------------------------------------------------------------------ hooks
    def state(self) -> Any:
        """What the coupling has learnt while running (picklable), for snapshots; None for
        the mechanisms, whose state lives in the agents."""
        return None

    def set_state(self, state: Any) -> None:
        """Restore :meth:`state` into a coupling bound to a swarm rebuilt from a snapshot."""

    def bind(self, swarm: Any) -> None:
        """Called once when a swarm is built with this coupling (check what it needs)."""

    def exchange(self, swarm: Any, dt: float) -> None:
        """After the fields were stepped by ``dt`` seconds: exchange state (default none)."""

    def adapt(self, swarm: Any, aggregate: SwarmAggregate | None, t: float, dt: float) -> None:
        """After the tick that ended at time ``t`` (s) and lasted ``dt`` (s): set every local
        agent's drive (gain, next tick's frequencies) from ``aggregate``."""
        for agent in swarm.agents:
            agent.frequency = agent.natural_frequency.copy()


@register_coupling
@dataclass(frozen=True)
class GainCoupling(Coupling):
    """``gain``: theta += K (CI_swarm - CI_own) / |CI_swarm| (see the module docstring)."""

    mode: ClassVar[str] = "gain"
    unit: ClassVar[str] = "dimensionless, per tick"
    default_strength: ClassVar[float] = 0.05
    sweep: ClassVar[tuple[float, ...]] = (0.05, 0.5)
    carries: ClassVar[str] = "complexity measures (D, C, G, tau, CI) of each agent"

    def step(self, theta: float, ci_own: float, ci_swarm: float) -> float:
        """One application of the rule; NaN inputs change nothing."""
        if self.strength == 0 or not (math.isfinite(ci_own) and math.isfinite(ci_swarm)):
            return theta
        scale = abs(ci_swarm)
        if scale <= 1e-300:
            return theta
        return self.clamp(theta + self.strength * (ci_swarm - ci_own) / scale)

    def adapt(self, swarm: Any, aggregate: SwarmAggregate | None, t: float, dt: float) -> None:
        super().adapt(swarm, aggregate, t, dt)
        if aggregate is None:
            return
        for agent in swarm.agents:
            if agent.last is not None:
                agent.theta = self.step(agent.theta, agent.last.ci, aggregate.ci)


@register_coupling
@dataclass(frozen=True)
class CIFeedbackCoupling(Coupling):
    """``ci-feedback``: PI law on the relative CI error (see the module docstring).

    Attributes
    ----------
    integral_time : float
        T_i of the integral term (s), > 0.
    """

    integral_time: float = 1.0

    mode: ClassVar[str] = "ci-feedback"
    unit: ClassVar[str] = "dimensionless"
    default_strength: ClassVar[float] = 0.5
    sweep: ClassVar[tuple[float, ...]] = (0.5, 2.0)
    carries: ClassVar[str] = "complexity measures (D, C, G, tau, CI) of each agent"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (math.isfinite(self.integral_time) and self.integral_time > 0):
            raise ConfigError(f"integral_time must be > 0 s, got {self.integral_time!r}")

    def adapt(self, swarm: Any, aggregate: SwarmAggregate | None, t: float, dt: float) -> None:
        super().adapt(swarm, aggregate, t, dt)
        if aggregate is None or self.strength == 0:
            return
        scale = abs(aggregate.ci)
        if not (math.isfinite(aggregate.ci) and scale > 1e-300):
            return
        for agent in swarm.agents:
            if agent.last is None or not math.isfinite(agent.last.ci):
                continue
            error = (aggregate.ci - agent.last.ci) / scale
            agent.integral += error * dt
            agent.theta = self.clamp(
                agent.theta0 + self.strength * (error + agent.integral / self.integral_time)
            )


@dataclass(frozen=True)
class _PhaseCoupling(Coupling):
    """Shared machinery of ``kuramoto`` and ``common-drive``: pull each source's phase
    toward a reference phasor and the natural frequency toward a reference frequency."""

    frequency_pull: float = 0.1

    unit: ClassVar[str] = "1/s"
    default_strength: ClassVar[float] = 10.0
    sweep: ClassVar[tuple[float, ...]] = (2.0, 8.0, 32.0)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (math.isfinite(self.frequency_pull) and self.frequency_pull >= 0):
            raise ConfigError(f"frequency_pull must be finite and >= 0, got {self.frequency_pull}")

    def reference(
        self, swarm: Any, aggregate: SwarmAggregate | None, t: float
    ) -> tuple[np.ndarray, np.ndarray, float] | None:
        """(R_k, Psi_k at time t, angular frequency of the reference's source 0), or None.
        The reference's source k rotates at that frequency times the agent's ratio
        f_k / f_0."""
        raise NotImplementedError

    def adapt(self, swarm: Any, aggregate: SwarmAggregate | None, t: float, dt: float) -> None:
        ref = self.reference(swarm, aggregate, t) if self.strength > 0 else None
        agents = swarm.agents
        if ref is None or not agents:
            super().adapt(swarm, aggregate, t, dt)
            return
        r, psi, w_ref = ref
        n = min(r.size, agents[0].phase.size)
        natural = TWO_PI * np.stack([a.natural_frequency for a in agents])  # (agents, sources)
        phase = np.stack([a.phase for a in agents])
        # the reference rotates at w_ref f_k / f_0 during the tick; in its frame the gap
        # e = Psi - phi obeys Adler's equation de/dt = (W_k - w_ik) - K R_k sin(e)
        ratio = natural / natural[:, :1]
        rotation = w_ref * ratio[:, :n]
        e0 = _wrap(psi[None, :n] - phase[:, :n])
        e1 = _adler(e0, rotation - natural[:, :n], self.strength * r[None, :n], dt)
        angular = natural.copy()
        angular[:, :n] = rotation + (e0 - e1) / dt
        pull = 1 - math.exp(-self.frequency_pull * self.strength * dt)
        for i, agent in enumerate(agents):
            agent.frequency = angular[i] / TWO_PI
            if pull > 0 and math.isfinite(w_ref):
                w0 = natural[i, 0]
                agent.natural_frequency = agent.natural_frequency * (1 + pull * (w_ref - w0) / w0)


@register_coupling
@dataclass(frozen=True)
class KuramotoCoupling(_PhaseCoupling):
    """``kuramoto``: drive phases and frequencies follow the swarm's mean drive phasor.

    Attributes
    ----------
    frequency_pull : float
        Rate of the natural-frequency pull as a fraction of K (dimensionless, >= 0).
    """

    mode: ClassVar[str] = "kuramoto"
    carries: ClassVar[str] = (
        "complexity measures plus each agent's drive frequency and source phases "
        "(bytes 44-59 of the version-2 signature): a drive phase is agent state"
    )
    state_exchange: ClassVar[bool] = True
    shares_drive: ClassVar[bool] = True

    def bind(self, swarm: Any) -> None:
        from resonance_engine.swarm.signature import MAX_DRIVE_PHASES

        n_src = swarm.solver.drive_frequency.shape[1]
        if n_src > MAX_DRIVE_PHASES:
            raise ConfigError(
                f"the kuramoto coupling carries at most {MAX_DRIVE_PHASES} source phases in a "
                f"signature, the scenario has {n_src} sources; use fewer sources"
            )

    def reference(
        self, swarm: Any, aggregate: SwarmAggregate | None, t: float
    ) -> tuple[np.ndarray, np.ndarray, float] | None:
        if aggregate is None or aggregate.drive_phasor is None:
            return None
        z = np.asarray(aggregate.drive_phasor)
        return np.abs(z), np.angle(z), aggregate.drive_omega


@register_coupling
@dataclass(frozen=True)
class CommonDriveCoupling(_PhaseCoupling):
    """``common-drive``: entrainment by one external rhythm, no exchange (the control)."""

    mode: ClassVar[str] = "common-drive"
    carries: ClassVar[str] = "nothing: each agent hears the same external rhythm"
    channels: ClassVar[tuple[str, ...]] = ()

    def reference(
        self, swarm: Any, aggregate: SwarmAggregate | None, t: float
    ) -> tuple[np.ndarray, np.ndarray, float]:
        f = swarm.reference_frequency
        psi = TWO_PI * f * t + swarm.reference_phase
        return np.ones_like(f), psi, TWO_PI * float(f[0])


_STRIP_HEADER = struct.Struct("<IQB")  # agent, tick, side (0 west, 1 east)


@register_coupling
@dataclass(frozen=True)
class DiffusiveCoupling(Coupling):
    """``diffusive``: ring neighbours relax their overlapping boundary strips (state
    exchange on the bus's ``"state"`` channel; see the module docstring).

    Attributes
    ----------
    strip_width : int
        Columns of each boundary strip (>= 1).
    """

    strip_width: int = 4

    mode: ClassVar[str] = "diffusive"
    unit: ClassVar[str] = "1/s"
    default_strength: ClassVar[float] = 10.0
    sweep: ClassVar[tuple[float, ...]] = (10.0, 100.0)
    carries: ClassVar[str] = "boundary strips of the fields (float32 u): raw state"
    state_exchange: ClassVar[bool] = True
    channels: ClassVar[tuple[str, ...]] = ("state",)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.strip_width, int) or self.strip_width < 1:
            raise ConfigError(f"strip_width must be an integer >= 1, got {self.strip_width!r}")

    def bind(self, swarm: Any) -> None:
        nx = swarm.solver.nx
        if 2 * self.strip_width > nx:
            raise ConfigError(
                f"diffusive strips of {self.strip_width} columns do not fit twice in {nx} columns"
            )
        if len(swarm.agents) < swarm.n_agents:
            raise ConfigError(
                "the diffusive coupling exchanges field strips within one process; run every "
                "agent in one swarm (no agent_ids subset)"
            )
        inbox: dict[tuple[int, int, int], np.ndarray] = {}
        swarm.strip_inbox = inbox
        shape = (swarm.solver.ny, self.strip_width)

        def receive(payload: bytes) -> None:
            if len(payload) < _STRIP_HEADER.size:
                return
            agent, tick, side = _STRIP_HEADER.unpack_from(payload)
            inbox[(agent, tick, side)] = np.frombuffer(
                payload, dtype="<f4", offset=_STRIP_HEADER.size
            ).reshape(shape)

        swarm.bus.subscribe_payload("state", receive)

    def exchange(self, swarm: Any, dt: float) -> None:
        if self.strength == 0:
            return
        w = self.strip_width
        batched = swarm.solver.batch is not None
        u = swarm.solver.u if batched else swarm.solver.u[None]
        tick = swarm.tick_count
        for agent in swarm.agents:
            field = u[agent.member]
            for side, strip in ((0, field[:, :w]), (1, field[:, -w:])):
                header = _STRIP_HEADER.pack(agent.agent_id, tick, side)
                swarm.bus.publish_payload(
                    "state", header + np.ascontiguousarray(strip, dtype="<f4").tobytes()
                )
        swarm.bus.flush()
        c = 1.0 - math.exp(-self.strength * dt)
        n = swarm.n_agents
        inbox: dict[tuple[int, int, int], np.ndarray] = swarm.strip_inbox
        deltas = []
        for agent in swarm.agents:
            east = inbox.get(((agent.agent_id + 1) % n, tick, 0))  # east neighbour's west strip
            west = inbox.get(((agent.agent_id - 1) % n, tick, 1))  # west neighbour's east strip
            field = u[agent.member]
            de = np.zeros((field.shape[0], w)) if east is None else 0.5 * c * (east - field[:, -w:])
            dw = np.zeros((field.shape[0], w)) if west is None else 0.5 * c * (west - field[:, :w])
            deltas.append((agent.member, dw, de))
        for key in [k for k in inbox if k[1] <= tick]:
            del inbox[key]
        cur = swarm.solver.u.copy()
        prev = swarm.solver.u_prev.copy()
        cur_b = cur if batched else cur[None]
        prev_b = prev if batched else prev[None]
        for member, dw, de in deltas:
            for arr in (cur_b, prev_b):
                arr[member, :, :w] += dw.astype(arr.dtype)
                arr[member, :, -w:] += de.astype(arr.dtype)
        swarm.solver.set_state(cur, prev)


def _agent_drive_payload(agent: SwarmAgent) -> tuple[float, tuple[float, ...]]:
    """(omega of source 0 in rad/s, source phases in rad) of an agent, for its signature."""
    return TWO_PI * float(agent.natural_frequency[0]), tuple(float(p) for p in agent.phase)


#: How a swarm gets the drive payload of an agent (kept here beside the mechanisms).
drive_payload: Callable[[SwarmAgent], tuple[float, tuple[float, ...]]] = _agent_drive_payload
