"""What an RL agent does: bounded changes of its field's drive (gain, frequency, phase).

An action (``mode="global"``, the default) is three numbers in [-1, 1] per field, scaled
by :class:`ActionLimits`:

- ``a[0]``: change of the log drive gain ln(g) by at most ``gain_step`` per tick
  (every source's amplitude is ``base amplitude * g``, g kept in [gain_min, gain_max]);
- ``a[1]``: change of the log frequency factor ln(k) by at most ``frequency_step``
  (every source's frequency is ``natural frequency * k``, so their ratios stay; k kept in
  [frequency_min, frequency_max]). The drive phases are integrated continuously, so a
  frequency change bends the drive without a jump;
- ``a[2]``: a shift of every source's drive phase by at most ``phase_step`` radians: the
  one discontinuous move (of the source term, not of the field), bounded and paid for.

With ``mode="per-source"`` (swarms) an action is ``2 + n_sources`` numbers: ``a[0]`` and
``a[1]`` as above, then one *phase nudge* per source: ``a[2 + k]`` advances (or holds back)
source k's drive phase by up to ``phase_step`` radians over the next tick, continuously,
by adding ``a[2 + k] phase_step / (2 pi tick)`` to that source's drive frequency for one
tick (the swarm's coupling sets the tick's frequencies afresh after every tick). This is
what a policy needs to line its drive up with the others' source by source, as the
``kuramoto`` coupling does; one common shift of all phases (``global``) cannot, because
the sources of an agent have different frequencies and so different phase gaps.

Invalid actions never crash an episode. With ``invalid="clip"`` (the default) components
outside [-1, 1] are clipped and NaN/inf components mean "no change"; with
``invalid="refuse"`` an action with any such component is ignored as a whole (no change
to that field). Either way the step's info counts them (``invalid_actions``), and the
action cost is computed from the action actually applied.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal, cast

import numpy as np

from resonance_engine.errors import ConfigError
from resonance_engine.swarm.agent import SwarmAgent

__all__ = [
    "ACTION_SIZE",
    "ACTION_MODES",
    "ActionLimits",
    "DriveActuator",
    "action_size",
    "sanitize_actions",
]

#: Numbers per field in a ``global`` action: (gain, frequency, phase).
ACTION_SIZE = 3
#: The action layouts (see the module docstring).
ACTION_MODES = ("global", "per-source")

ActionMode = Literal["global", "per-source"]


def action_size(mode: ActionMode, n_sources: int) -> int:
    """Numbers per field in an action of ``mode`` for a drive of ``n_sources`` sources."""
    if mode not in ACTION_MODES:
        raise ConfigError(f"action mode must be one of {', '.join(ACTION_MODES)}, got {mode!r}")
    return ACTION_SIZE if mode == "global" else 2 + int(n_sources)


@dataclass(frozen=True)
class ActionLimits:
    """Scale of an action and the bounds of the drive it moves (see the module docstring).

    Attributes
    ----------
    gain_step : float
        Largest change of ln(gain) per tick.
    frequency_step : float
        Largest change of ln(frequency factor) per tick.
    phase_step : float
        Largest phase change per tick (rad).
    gain_min, gain_max : float
        Bounds of the drive gain g.
    frequency_min, frequency_max : float
        Bounds of the frequency factor k.
    invalid : {"clip", "refuse"}
        What happens to a NaN or out-of-bounds action.
    """

    gain_step: float = 0.1
    frequency_step: float = 0.02
    phase_step: float = 0.3
    gain_min: float = 0.25
    gain_max: float = 4.0
    frequency_min: float = 0.5
    frequency_max: float = 2.0
    invalid: Literal["clip", "refuse"] = "clip"

    def __post_init__(self) -> None:
        for name in ("gain_step", "frequency_step", "phase_step"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"ActionLimits.{name} must be finite and >= 0, got {value!r}")
        if not 0 < self.gain_min < 1 < self.gain_max < math.inf:
            raise ConfigError(
                f"ActionLimits needs 0 < gain_min < 1 < gain_max, got "
                f"[{self.gain_min}, {self.gain_max}]"
            )
        if not 0 < self.frequency_min <= 1 <= self.frequency_max < math.inf:
            raise ConfigError(
                f"ActionLimits needs 0 < frequency_min <= 1 <= frequency_max, got "
                f"[{self.frequency_min}, {self.frequency_max}]"
            )
        if self.invalid not in ("clip", "refuse"):
            raise ConfigError(
                f"ActionLimits.invalid must be 'clip' or 'refuse', got {self.invalid!r}"
            )

    def steps(self, size: int = ACTION_SIZE) -> np.ndarray:
        """Scale of each action component: (gain_step, frequency_step, phase_step, ...),
        ``phase_step`` repeated for every component from the third, shape (size,)."""
        steps = np.full(size, self.phase_step)
        steps[:2] = self.gain_step, self.frequency_step
        return steps

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def sanitize_actions(
    actions: np.ndarray, invalid: Literal["clip", "refuse"] = "clip", size: int = ACTION_SIZE
) -> tuple[np.ndarray, int]:
    """Valid actions from ``actions`` (shape (n, size)) and how many rows were invalid.

    "clip": clip each component to [-1, 1], NaN/inf -> 0. "refuse": a row with any
    non-finite or out-of-bounds component becomes all zeros (no change).
    """
    a = np.asarray(actions, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != size:
        raise ConfigError(f"actions must have shape (n, {size}), got {a.shape}")
    finite = np.isfinite(a)
    bad_rows = cast(np.ndarray, ~(finite & (np.abs(np.where(finite, a, 0.0)) <= 1.0)).all(axis=1))
    if invalid == "refuse":
        clean = np.where(bad_rows[:, None], 0.0, a)
    else:
        clean = np.clip(np.where(finite, a, 0.0), -1.0, 1.0)
    return clean, int(bad_rows.sum())


class DriveActuator:
    """Applies actions to the drives of agents (:class:`~resonance_engine.swarm.agent.SwarmAgent`).

    An agent holds its drive: log gain ``theta``, per-source ``natural_frequency`` and
    ``frequency`` (Hz) and ``phase`` (rad, integrated continuously by whoever steps it).
    An action moves theta, scales both frequencies by the same factor (relative to the
    natural frequencies the agent had when the actuator was made) and shifts the phases.
    A coupling of the swarm may move the same drive after every tick; the actuator reads
    the drive afresh each time.

    Parameters
    ----------
    agents : sequence of SwarmAgent
    limits : ActionLimits
    mode : {"global", "per-source"}
        Layout of an action (see the module docstring).
    tick_seconds : float, optional
        Simulated seconds per tick (> 0); needed by ``per-source`` nudges.
    """

    def __init__(
        self,
        agents: Sequence[SwarmAgent],
        limits: ActionLimits,
        mode: ActionMode = "global",
        tick_seconds: float | None = None,
    ) -> None:
        self.agents = list(agents)
        self.limits = limits
        n_sources = self.agents[0].phase.size if self.agents else 0
        self.size = action_size(mode, n_sources)
        self.mode = mode
        if mode == "per-source" and not (tick_seconds is not None and tick_seconds > 0):
            raise ConfigError(
                f"per-source phase nudges need tick_seconds > 0, got {tick_seconds!r}"
            )
        self.tick_seconds = tick_seconds
        self._natural0 = np.array([a.natural_frequency[0] for a in self.agents])
        lo, hi = math.log(limits.gain_min), math.log(limits.gain_max)
        for agent in self.agents:
            agent.theta = agent.coupling.clamp(min(hi, max(lo, agent.theta)))

    @property
    def theta(self) -> np.ndarray:
        """Log drive gain of every agent, shape (agents,)."""
        return np.array([a.theta for a in self.agents])

    @property
    def log_frequency(self) -> np.ndarray:
        """ln(frequency factor) of every agent, shape (agents,)."""
        now = np.array([a.natural_frequency[0] for a in self.agents])
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.nan_to_num(np.log(now / self._natural0))

    def apply(self, actions: np.ndarray) -> tuple[np.ndarray, int]:
        """Move every agent's drive by ``actions`` (shape (agents, size)); returns the
        actions applied (after :func:`sanitize_actions`) and the number of invalid rows."""
        lim = self.limits
        clean, invalid = sanitize_actions(actions, lim.invalid, self.size)
        if clean.shape[0] != len(self.agents):
            raise ConfigError(
                f"expected an action for each of {len(self.agents)} fields, got {clean.shape[0]}"
            )
        delta = clean * lim.steps(self.size)
        lo, hi = math.log(lim.gain_min), math.log(lim.gain_max)
        f_lo, f_hi = math.log(lim.frequency_min), math.log(lim.frequency_max)
        log_f = self.log_frequency
        for agent, d, old in zip(self.agents, delta, log_f, strict=True):
            agent.theta = agent.coupling.clamp(min(hi, max(lo, agent.theta + d[0])))
            scale = math.exp(min(f_hi, max(f_lo, old + d[1])) - old)
            agent.natural_frequency = agent.natural_frequency * scale
            agent.frequency = agent.frequency * scale
            if self.mode == "global":
                agent.phase = np.mod(agent.phase + d[2], 2 * np.pi)
            else:
                assert self.tick_seconds is not None
                agent.frequency = agent.frequency + d[2:] / (2 * np.pi * self.tick_seconds)
        return clean, invalid
