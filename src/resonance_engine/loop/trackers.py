"""Trackers that need nothing but the loop: callbacks and stop conditions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from resonance_engine.loop.controller import Run
from resonance_engine.loop.tracker import Tracker

__all__ = ["Callback", "StopWhen"]


class Callback(Tracker):
    """Calls ``fn(state, t)`` at ``interval`` (e.g. a plot, a log line, a controller).

    Parameters
    ----------
    fn : callable
        ``fn(state, t)``; its return value is ignored.
    interval : int, sequence of int, Realtime or "frame"
    final : bool
        Also call it at the step where the run ended.
    """

    def __init__(self, fn: Callable[[Any, float], Any], interval: Any, *, final: bool = False):
        super().__init__(interval, final=final)
        self.fn = fn

    def handle(self, state: Any, t: float) -> None:
        self.fn(state, t)


class StopWhen(Tracker):
    """Stops the run (status ``"stopped"``) when ``condition(state, t)`` is true.

    Parameters
    ----------
    condition : callable
        ``condition(state, t) -> bool``, looked at every ``interval``.
    interval : int, sequence of int, Realtime or "frame"
    reason : str
        Stored as ``run.stop_reason`` (and in the run's summary by the commands).

    Examples
    --------
    >>> from resonance_engine import default_pond
    >>> from resonance_engine.loop import RunLoop, StopWhen
    >>> solver = default_pond(32).build()
    >>> run = RunLoop(solver, [StopWhen(lambda s, t: t > 0.1, 1, "t > 0.1 s")]).run()
    >>> run.status, run.stop_reason, solver.t > 0.1
    ('stopped', 't > 0.1 s', True)
    """

    def __init__(
        self, condition: Callable[[Any, float], bool], interval: Any, reason: str
    ) -> None:
        super().__init__(interval)
        self.condition = condition
        self.reason = reason
        self.run: Run | None = None

    def start(self, run: Run) -> None:
        self.run = run

    def handle(self, state: Any, t: float) -> None:
        if self.run is not None and self.condition(state, t):
            self.run.stop(self.reason)
