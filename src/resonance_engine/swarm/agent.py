"""SwarmAgent: one wave-field agent, its drive (gain, source frequencies and phases).

An agent drives its field's sources with amplitude ``base_amplitude * exp(theta)``
(theta: the log drive gain), frequency ``frequency`` (Hz, per source, for the next tick)
and a phase that the swarm integrates continuously (``phase``, rad, at the end of the
last tick). Its ``natural_frequency`` is what the drive runs at without coupling. The
coupling mechanisms (:mod:`resonance_engine.swarm.coupling`) set theta and frequency
after every tick; the agent itself only holds that state and builds its signature.

Only signatures (64 bytes per agent and tick) cross between agents, plus, with the
``diffusive`` coupling, boundary strips of the fields.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from resonance_engine.swarm.coupling import Coupling, GainCoupling, drive_payload
from resonance_engine.swarm.measure import MetricsLike
from resonance_engine.swarm.signature import Signature

__all__ = ["CouplingRule", "SwarmAgent", "SwarmAggregate"]

#: The ``gain`` coupling under its original name (K, gain bounds, ``step``).
CouplingRule = GainCoupling


@dataclass(frozen=True)
class SwarmAggregate:
    """The swarm's aggregate signature: means over the agents heard from.

    ``drive_omega`` (rad/s) and ``drive_phasor`` (mean of exp(i phase) per source, the
    swarm's mean drive phasor R exp(i Psi)) are set when the signatures carried a drive
    payload (``kuramoto``), NaN / None otherwise.
    """

    step: int
    agents: int
    fractal_dim: float
    coherence: float
    gain: float
    dwell: float
    ci: float
    drive_omega: float = math.nan
    drive_phasor: tuple[complex, ...] | None = None


class SwarmAgent:
    """One agent: its id, its member index in the (batched) solver, its drive.

    Parameters
    ----------
    agent_id : int
        Id on the bus (0 .. n_agents-1 across all processes).
    member : int
        Index of the agent's field in the solver batch of its process.
    base_amplitude : ndarray, shape (n_sources,)
        Drive amplitude of each source at theta = 0.
    theta : float
        Initial log drive gain.
    coupling : Coupling
        The swarm's coupling (its gain bounds clamp theta).
    natural_frequency : ndarray, shape (n_sources,), optional
        Natural drive frequency of each source (Hz).
    phase : ndarray, shape (n_sources,), optional
        Drive phase of each source at the current time (rad).
    """

    def __init__(
        self,
        agent_id: int,
        member: int,
        base_amplitude: np.ndarray,
        theta: float,
        coupling: Coupling,
        natural_frequency: np.ndarray | None = None,
        phase: np.ndarray | None = None,
    ) -> None:
        self.agent_id = int(agent_id)
        self.member = int(member)
        # a copy: the caller's array may be the solver's, which write_drive overwrites
        self.base_amplitude = np.array(base_amplitude, dtype=np.float64)
        n = self.base_amplitude.size
        self.coupling = coupling
        self.theta = coupling.clamp(float(theta))
        self.theta0 = self.theta
        self.integral = 0.0
        self.natural_frequency = (
            np.zeros(n) if natural_frequency is None
            else np.array(natural_frequency, dtype=np.float64)
        )
        self.frequency = self.natural_frequency.copy()
        self.phase = np.zeros(n) if phase is None else np.array(phase, dtype=np.float64)
        self.last: Signature | None = None

    @property
    def gain(self) -> float:
        """Drive gain exp(theta)."""
        return math.exp(self.theta)

    @property
    def amplitude(self) -> np.ndarray:
        """Current drive amplitude of each source, shape (n_sources,)."""
        return self.base_amplitude * self.gain

    def signature(self, step: int, metrics: MetricsLike) -> Signature:
        """The signature this agent publishes for ``metrics`` measured at ``step`` (with its
        drive frequency and phases when the coupling shares them)."""
        if self.coupling.shares_drive:
            omega, phases = drive_payload(self)
            self.last = Signature.from_metrics(
                self.agent_id, step, metrics, drive_omega=omega, drive_phases=phases
            )
        else:
            self.last = Signature.from_metrics(self.agent_id, step, metrics)
        return self.last

    def advance(self, dt: float) -> None:
        """Integrate the drive phases over a tick of ``dt`` seconds at ``frequency``."""
        self.phase = np.mod(self.phase + 2 * np.pi * self.frequency * dt, 2 * np.pi)

    def perturb(self, rng: np.random.Generator, strength: float) -> None:
        """Kick theta by ``strength * N(0, 1)`` (clamped to the gain bounds) and every drive
        phase by ``strength * N(0, 1)`` rad."""
        self.theta = self.coupling.clamp(self.theta + strength * float(rng.standard_normal()))
        self.phase = np.mod(self.phase + strength * rng.standard_normal(self.phase.size),
                            2 * np.pi)

    def state(self) -> dict[str, Any]:
        """The agent's drive state (for snapshots)."""
        return {
            "theta": self.theta, "theta0": self.theta0, "integral": self.integral,
            "natural_frequency": self.natural_frequency.copy(),
            "frequency": self.frequency.copy(), "phase": self.phase.copy(),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state`."""
        self.theta = float(state["theta"])
        self.theta0 = float(state["theta0"])
        self.integral = float(state["integral"])
        self.natural_frequency = np.array(state["natural_frequency"], dtype=np.float64)
        self.frequency = np.array(state["frequency"], dtype=np.float64)
        self.phase = np.array(state["phase"], dtype=np.float64)
