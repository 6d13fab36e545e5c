"""ProgressTracker: the commands' progress bar (or log lines) as a run-loop tracker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from resonance_engine.loop import Run, Tracker

__all__ = ["ProgressTracker"]


class ProgressTracker(Tracker):
    """Advances a progress bar (:func:`resonance_engine.cli.common.progress_bar`).

    Parameters
    ----------
    bar : rich Progress or LogLines
        An entered progress bar.
    description : str
        The task's name.
    total : int, optional
        Steps of the run (default: the run's step budget).
    interval : default "frame"
        When to update (e.g. every measured frame, or every tick of a swarm).
    status : callable, optional
        ``status(run, state) -> str`` shown beside the bar.
    """

    def __init__(
        self,
        bar: Any,
        description: str,
        *,
        total: int | None = None,
        interval: Any = "frame",
        status: Callable[[Run, Any], str] | None = None,
    ) -> None:
        super().__init__(interval)
        self.bar = bar
        self.description = description
        self.total = total
        self.status = status
        self.run: Run | None = None
        self.task: Any = None

    def start(self, run: Run) -> None:
        self.run = run
        total = self.total if self.total is not None else run.steps
        self.task = self.bar.add_task(self.description, total=total, status="")

    def handle(self, state: Any, t: float) -> None:
        run = self.run
        assert run is not None
        status = self.status(run, state) if self.status is not None else ""
        self.bar.update(self.task, completed=run.done, status=status)
