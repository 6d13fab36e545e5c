"""MeasureTracker: the run loop's measuring step (D, G, C, tau and CI of the field).

Example
-------
>>> from resonance_engine import ComplexityAnalyzer, default_pond
>>> from resonance_engine.loop import RunLoop
>>> from resonance_engine.metrics import MeasureTracker
>>> measure = MeasureTracker(ComplexityAnalyzer(), interval=10)
>>> run = RunLoop(default_pond(32).build(), [measure], steps=25).run()
>>> [frame.step for frame in measure.history]     # every 10 steps and the last one
[10, 20, 25]
>>> run.frame is measure.history[-1] and run.frame.ci_field is not None
True
"""

from __future__ import annotations

from typing import Any

from resonance_engine.loop import Run, Tracker

__all__ = ["MeasureTracker"]


class MeasureTracker(Tracker):
    """Measures the stepped solver's field with an analyzer and publishes each frame.

    Every frame goes to ``run.add_frame`` (so ``"frame"`` trackers, e.g. the recorder,
    see it) and into :attr:`history`. The last frame of the run keeps its fields
    (``ci_field`` ...) for pictures; the others do not (memory).

    Parameters
    ----------
    analyzer : ComplexityAnalyzer
        Or anything with ``observe(solver, keep_fields=...)`` and ``update(u, step=...,
        t=..., keep_fields=...)``.
    interval : int, sequence of int or Realtime
        When to measure (see :func:`resonance_engine.loop.as_interval`).
    final : bool
        Measure the step where the run ended too (default True).
    resident : bool
        Measure through ``analyzer.observe(solver)`` (on the GPU for a GPU-resident
        field); False measures ``solver.u`` on the CPU.
    keep_history : bool
        Keep every frame in :attr:`history` (False: only the newest, for endless runs).
    """

    def __init__(
        self,
        analyzer: Any,
        interval: Any,
        *,
        final: bool = True,
        resident: bool = True,
        keep_history: bool = True,
    ) -> None:
        super().__init__(interval, final=final)
        self.analyzer = analyzer
        self.resident = resident
        self.keep_history = keep_history
        self.history: list[Any] = []
        self.run: Run | None = None

    def start(self, run: Run) -> None:
        self.run = run

    def handle(self, state: Any, t: float) -> None:
        run = self.run
        assert run is not None, "start(run) was not called"
        keep = run.last_step
        if self.resident:
            frame = self.analyzer.observe(state, keep_fields=keep)
        else:
            frame = self.analyzer.update(state.u, step=state.step_count, t=t, keep_fields=keep)
        if self.history and self.history[-1].step == frame.step:
            self.history[-1] = frame  # the same step again (the run ended there): keep fields
        elif self.keep_history or not self.history:
            self.history.append(frame)
        else:
            self.history[-1] = frame
        run.add_frame(frame)
