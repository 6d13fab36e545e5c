"""The tracker protocol: what the run loop calls, and when.

A tracker is any object with

- ``interval``: when :meth:`handle` is due (see :func:`as_interval`): an ``int`` n (every
  n steps of the loop, counted from the run's first step), a sequence of steps, a
  :class:`Realtime` period (wall-clock seconds), :data:`EVERY_FRAME` (right after a tracker
  measured a new frame, see :attr:`Run.frame <resonance_engine.loop.controller.Run.frame>`)
  or ``None`` (never; only ``start`` and ``finish``);
- ``start(run)``: once, before the first step;
- ``handle(state, t)``: at its interval, with the stepped object (a
  :class:`~resonance_engine.field.solver.WaveSolver2D`, or a swarm) and its simulated
  time ``t`` (s);
- ``finish(run, status)``: once, at the end, with the run's status: ``"finished"``
  (reached its last step), ``"stopped"`` (a tracker called ``run.stop``),
  ``"interrupted"`` (Ctrl-C / SIGTERM) or ``"failed"`` (an exception; ``run.error``
  says which).

and optionally ``final = True`` (default: False): ``handle`` is called once more at the
step where the run ended (finished, stopped or interrupted) unless it was just called
there, so that a measurement or a picture shows the last state.

:class:`Tracker` is a base class with those defaults; subclassing it is optional.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from resonance_engine.errors import ConfigError

if TYPE_CHECKING:
    from resonance_engine.loop.controller import Run

__all__ = [
    "Tracker",
    "TrackerProtocol",
    "Realtime",
    "EVERY_FRAME",
    "Interval",
    "as_interval",
    "STATUSES",
]

#: The statuses ``finish`` can be called with (the ``runs.status`` column of AgentDB).
STATUSES = ("finished", "stopped", "interrupted", "failed")

#: Interval of a tracker called after every new measured frame.
EVERY_FRAME = "frame"


@dataclass(frozen=True)
class Realtime:
    """Interval of wall-clock seconds: ``handle`` is due at most once per ``seconds``.

    The loop looks at the clock between chunks of steps, so a realtime tracker runs
    between two chunks (bound them with ``RunLoop(chunk=...)``).
    """

    seconds: float

    def __post_init__(self) -> None:
        if not (isinstance(self.seconds, int | float) and self.seconds > 0):
            raise ConfigError(f"Realtime needs seconds > 0, got {self.seconds!r}")


@runtime_checkable
class TrackerProtocol(Protocol):
    """What the run loop needs from a tracker (see the module docstring)."""

    interval: Any

    def start(self, run: Run) -> None: ...

    def handle(self, state: Any, t: float) -> None: ...

    def finish(self, run: Run, status: str) -> None: ...


class Tracker:
    """Base class of trackers: no-op ``start``/``handle``/``finish``, no interval.

    Parameters
    ----------
    interval : int, sequence of int, Realtime, "frame" or None
        When :meth:`handle` is called (see :func:`as_interval`).
    final : bool
        Also handle the step where the run ended.
    """

    interval: Any = None
    final: bool = False

    def __init__(self, interval: Any = None, *, final: bool = False) -> None:
        self.interval = interval
        self.final = final

    def start(self, run: Run) -> None:
        """Called once before the first step."""

    def handle(self, state: Any, t: float) -> None:
        """Called at the tracker's interval with the stepped object and its time (s)."""

    def finish(self, run: Run, status: str) -> None:
        """Called once at the end with the run's status (see :data:`STATUSES`)."""


class Interval:
    """A tracker's interval, normalised: when is ``handle`` due next?

    Attributes
    ----------
    kind : {"steps", "at", "realtime", "frame", "never"}
    every : int
        Steps between calls (kind "steps").
    at : tuple of int
        Steps after the start at which to call (kind "at"), increasing.
    seconds : float
        Wall-clock period (kind "realtime").
    """

    def __init__(
        self, kind: str, every: int = 0, at: Sequence[int] = (), seconds: float = 0.0
    ) -> None:
        self.kind = kind
        self.every = every
        self.at = tuple(at)
        self.seconds = seconds

    def next_step(self, done: int) -> int | None:
        """The next step (counted from the run's start) strictly after ``done`` at which
        ``handle`` is due, or None when steps do not schedule this tracker."""
        if self.kind == "steps":
            return (done // self.every + 1) * self.every
        if self.kind == "at":
            for step in self.at:
                if step > done:
                    return step
        return None


def as_interval(value: Any) -> Interval:
    """Normalise a tracker's ``interval`` attribute.

    Parameters
    ----------
    value : int, sequence of int, Realtime, "frame" or None
        ``n``: every n steps (n >= 1); a sequence: at those steps after the start (>= 1);
        :class:`Realtime`: wall-clock period; ``"frame"``: after each new measured frame;
        ``None``: never.

    Raises
    ------
    ConfigError
        For anything else (the message names the value).
    """
    if value is None:
        return Interval("never")
    if isinstance(value, Realtime):
        return Interval("realtime", seconds=float(value.seconds))
    if isinstance(value, str):
        if value == EVERY_FRAME:
            return Interval("frame")
        raise ConfigError(f"a tracker interval string must be {EVERY_FRAME!r}, got {value!r}")
    if isinstance(value, bool):
        raise ConfigError(f"a tracker interval must be a number of steps, got {value!r}")
    if isinstance(value, int):
        if value < 1:
            raise ConfigError(f"a tracker interval must be >= 1 step, got {value}")
        return Interval("steps", every=value)
    if isinstance(value, Sequence):
        steps = sorted({int(s) for s in value})
        if not steps or steps[0] < 1 or any(int(s) != s for s in value):
            raise ConfigError(f"tracker steps must be integers >= 1, got {list(value)!r}")
        return Interval("at", at=steps)
    raise ConfigError(
        f"a tracker interval must be steps (int), a list of steps, Realtime(seconds), "
        f"{EVERY_FRAME!r} or None; got {value!r}"
    )
