"""SwarmAgent: one wave-field agent and the coupling rule that ties it to the swarm.

The coupling rule (documented, deliberately simple)
---------------------------------------------------
Each agent drives its field's sources with amplitude ``base_amplitude * exp(theta)``;
theta (the log drive gain) is the coupled parameter. After every tick the agent reads the
swarm's aggregate signature (the mean over all agents' latest signatures) and moves::

    theta <- clamp(theta + K * (CI_swarm - CI_own) / |CI_swarm|, log(gain_min), log(gain_max))

K is the coupling strength (dimensionless, since the CI difference is relative); K = 0
leaves every agent independent. The bounds (gain 0.25 .. 4 by default) keep the drive in
the range where the field stays stable. Higher drive raises |u| and with it the gain G and
so CI, so the rule pulls each agent's CI toward the swarm's. Optional noise of strength
``sigma`` adds ``sigma * N(0, 1)`` to theta every tick (used by the mean first passage
time).

Only signatures (64 bytes per agent and tick) cross between agents: an agent never sees
another agent's field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from resonance_engine.errors import ConfigError
from resonance_engine.swarm.measure import MetricsLike
from resonance_engine.swarm.signature import Signature

__all__ = ["CouplingRule", "SwarmAgent", "SwarmAggregate"]


@dataclass(frozen=True)
class CouplingRule:
    """Coupling strength K and the bounds of the drive gain exp(theta)."""

    strength: float = 0.0
    gain_min: float = 0.25
    gain_max: float = 4.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.strength) and self.strength >= 0):
            raise ConfigError(f"coupling strength K must be finite and >= 0, got {self.strength!r}")
        if not 0 < self.gain_min < 1 < self.gain_max:
            raise ConfigError(
                f"coupling gain bounds need 0 < gain_min < 1 < gain_max, got "
                f"[{self.gain_min}, {self.gain_max}]"
            )

    def step(self, theta: float, ci_own: float, ci_swarm: float) -> float:
        """One application of the rule (see the module docstring); NaN inputs change nothing."""
        if self.strength == 0 or not (math.isfinite(ci_own) and math.isfinite(ci_swarm)):
            return theta
        scale = abs(ci_swarm)
        if scale <= 1e-300:
            return theta
        theta += self.strength * (ci_swarm - ci_own) / scale
        return min(math.log(self.gain_max), max(math.log(self.gain_min), theta))


@dataclass(frozen=True)
class SwarmAggregate:
    """The swarm's aggregate signature: means over the agents heard from."""

    step: int
    agents: int
    fractal_dim: float
    coherence: float
    gain: float
    dwell: float
    ci: float


class SwarmAgent:
    """One agent: its id, its member index in the (batched) solver, its drive parameters.

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
    coupling : CouplingRule
    """

    def __init__(
        self,
        agent_id: int,
        member: int,
        base_amplitude: np.ndarray,
        theta: float,
        coupling: CouplingRule,
    ) -> None:
        self.agent_id = int(agent_id)
        self.member = int(member)
        self.base_amplitude = np.asarray(base_amplitude, dtype=np.float64)
        self.coupling = coupling
        lo, hi = math.log(coupling.gain_min), math.log(coupling.gain_max)
        self.theta = min(hi, max(lo, float(theta)))
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
        """The signature this agent publishes for ``metrics`` measured at ``step``."""
        self.last = Signature.from_metrics(self.agent_id, step, metrics)
        return self.last

    def adapt(self, aggregate: SwarmAggregate | None) -> float:
        """Apply the coupling rule toward ``aggregate``; returns the new theta."""
        if aggregate is not None and self.last is not None:
            self.theta = self.coupling.step(self.theta, self.last.ci, aggregate.ci)
        return self.theta

    def perturb(self, rng: np.random.Generator, strength: float) -> None:
        """Add ``strength * N(0, 1)`` to theta (clamped to the coupling bounds)."""
        lo, hi = math.log(self.coupling.gain_min), math.log(self.coupling.gain_max)
        self.theta = min(hi, max(lo, self.theta + strength * float(rng.standard_normal())))
