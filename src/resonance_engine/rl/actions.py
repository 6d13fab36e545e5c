"""What an RL agent does: bounded changes of its field's drive (gain, frequency, phase).

An action is three numbers in [-1, 1] per field, scaled by :class:`ActionLimits`:

- ``a[0]``: change of the log drive gain ln(g) by at most ``gain_step`` per tick
  (every source's amplitude is ``base amplitude * g``, g kept in [gain_min, gain_max]);
- ``a[1]``: change of the log frequency factor ln(k) by at most ``frequency_step``
  (every source's frequency is ``base frequency * k``, so their ratios stay; k kept in
  [frequency_min, frequency_max]). The source phases are shifted so that each drive
  ``sin(2 pi f t + phi)`` stays continuous in time when f changes;
- ``a[2]``: change of every source's phase by at most ``phase_step`` radians (wrapped to
  [0, 2 pi)).

Invalid actions never crash an episode. With ``invalid="clip"`` (the default) components
outside [-1, 1] are clipped and NaN/inf components mean "no change"; with
``invalid="refuse"`` an action with any such component is ignored as a whole (no change
to that field). Either way the step's info counts them (``invalid_actions``), and the
action cost is computed from the action actually applied.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from resonance_engine.errors import ConfigError
from resonance_engine.field.solver import WaveSolver2D

__all__ = ["ACTION_SIZE", "ActionLimits", "DriveActuator", "sanitize_actions"]

#: Numbers per field in an action: (gain, frequency, phase).
ACTION_SIZE = 3


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
        if not 0 < self.gain_min <= 1 <= self.gain_max < math.inf:
            raise ConfigError(
                f"ActionLimits needs 0 < gain_min <= 1 <= gain_max, got "
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

    @property
    def steps(self) -> np.ndarray:
        """(gain_step, frequency_step, phase_step), shape (3,)."""
        return np.array([self.gain_step, self.frequency_step, self.phase_step])

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def sanitize_actions(
    actions: np.ndarray, invalid: Literal["clip", "refuse"] = "clip"
) -> tuple[np.ndarray, int]:
    """Valid actions from ``actions`` (shape (n, 3)) and how many rows were invalid.

    "clip": clip each component to [-1, 1], NaN/inf -> 0. "refuse": a row with any
    non-finite or out-of-bounds component becomes all zeros (no change).
    """
    a = np.asarray(actions, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != ACTION_SIZE:
        raise ConfigError(f"actions must have shape (n, {ACTION_SIZE}), got {a.shape}")
    finite = np.isfinite(a)
    bad_rows = ~(finite & (np.abs(np.where(finite, a, 0.0)) <= 1.0)).all(axis=1)
    if invalid == "refuse":
        clean = np.where(bad_rows[:, None], 0.0, a)
    else:
        clean = np.clip(np.where(finite, a, 0.0), -1.0, 1.0)
    return clean, int(bad_rows.sum())


class DriveActuator:
    """Applies actions to the drive of the members of a (batched) solver.

    Holds each member's log gain and log frequency factor; the solver's
    ``drive_amplitude`` must be set from :attr:`theta` by the caller (the swarm does it every
    tick from its agents; :meth:`write_amplitude` does it otherwise).

    Parameters
    ----------
    solver : WaveSolver2D
        Its current ``drive_amplitude`` and ``drive_frequency`` are taken as the base
        (gain 1, factor 1) divided by ``exp(theta)``.
    theta : ndarray, shape (members,)
        Initial log drive gain of each member.
    limits : ActionLimits
    """

    def __init__(self, solver: WaveSolver2D, theta: np.ndarray, limits: ActionLimits) -> None:
        self.solver = solver
        self.limits = limits
        self.theta = np.clip(
            np.asarray(theta, dtype=np.float64),
            math.log(limits.gain_min),
            math.log(limits.gain_max),
        )
        self.log_frequency = np.zeros_like(self.theta)
        self.base_frequency = solver.drive_frequency.copy()

    def apply(self, actions: np.ndarray) -> tuple[np.ndarray, int]:
        """Move every member's drive by ``actions`` (shape (members, 3)); returns the actions
        applied (after :func:`sanitize_actions`) and the number of invalid rows."""
        lim = self.limits
        clean, invalid = sanitize_actions(actions, lim.invalid)
        if clean.shape[0] != self.theta.shape[0]:
            raise ConfigError(
                f"expected an action for each of {self.theta.shape[0]} fields, got {clean.shape[0]}"
            )
        delta = clean * lim.steps
        self.theta = np.clip(
            self.theta + delta[:, 0], math.log(lim.gain_min), math.log(lim.gain_max)
        )
        new_log_f = np.clip(
            self.log_frequency + delta[:, 1],
            math.log(lim.frequency_min),
            math.log(lim.frequency_max),
        )
        solver = self.solver
        old_f = solver.drive_frequency.copy()
        new_f = self.base_frequency * np.exp(new_log_f)[:, None]
        # keep sin(2 pi f t + phi) continuous at the current time when f changes
        phase = solver.drive_phase + 2 * np.pi * (old_f - new_f) * solver.t + delta[:, 2:3]
        solver.drive_frequency[:] = new_f
        solver.drive_phase[:] = np.mod(phase, 2 * np.pi)
        self.log_frequency = new_log_f
        return clean, invalid

    def write_amplitude(self, base_amplitude: np.ndarray) -> None:
        """Set the solver's drive amplitude to ``base_amplitude * exp(theta)``
        (``base_amplitude`` of shape (members, n_sources) or (n_sources,))."""
        self.solver.drive_amplitude[:] = np.asarray(base_amplitude) * np.exp(self.theta)[:, None]
