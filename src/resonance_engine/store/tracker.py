"""RecordTracker: the run loop's storing step (every measured frame into AgentDB).

Example
-------
>>> from resonance_engine import AgentDB, ComplexityAnalyzer, RunRecorder, default_pond
>>> from resonance_engine.loop import RunLoop
>>> from resonance_engine.metrics import MeasureTracker
>>> from resonance_engine.store import RecordTracker
>>> db = AgentDB(":memory:")
>>> recorder = RunRecorder.start(db, {"steps": 20}, seed=0, name="run")
>>> trackers = [MeasureTracker(ComplexityAnalyzer(), 10), RecordTracker(recorder)]
>>> run = RunLoop(default_pond(32).build(), trackers, steps=20).run()
>>> db.run(recorder.run_id).status, db.count(recorder.series["ci"])
('finished', 2)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from resonance_engine.loop import EVERY_FRAME, Run, Tracker
from resonance_engine.store.recorder import RunRecorder

__all__ = ["RecordTracker"]


def _solver_field(state: Any) -> Any:
    return state.u


class RecordTracker(Tracker):
    """Stores each new frame of the run (``run.frame``) through a :class:`RunRecorder`,
    and closes it at the end with the run's status and summary.

    The summary stored is ``run.info["summary"]`` (a tracker before this one may set it
    in its ``finish``); a failed run stores ``run.error`` as the summary's ``error``, and
    a run whose data did not reach the database is ``failed`` (see
    :meth:`RunRecorder.close`). ``run.info["run_id"]`` is the run's id.

    Parameters
    ----------
    recorder : RunRecorder
    field : callable, optional
        ``field(state)``: the field of the frame's fingerprint (default ``state.u``);
        None stores no fingerprints.
    values : callable, optional
        ``values(frame)``: the mapping or object :meth:`RunRecorder.record` stores
        (default: the frame itself, e.g. a ComplexityMetrics).
    interval : default "frame"
        Every new frame.
    """

    def __init__(
        self,
        recorder: RunRecorder,
        *,
        field: Callable[[Any], Any] | None = _solver_field,
        values: Callable[[Any], Any] | None = None,
        interval: Any = EVERY_FRAME,
    ) -> None:
        super().__init__(interval)
        self.recorder = recorder
        self.field = field
        self.values = values
        self.run: Run | None = None
        self._last_step: int | None = None

    def start(self, run: Run) -> None:
        self.run = run
        run.info["run_id"] = self.recorder.run_id

    def handle(self, state: Any, t: float) -> None:
        run = self.run
        frame = None if run is None else run.frame
        if frame is None:
            return
        step = getattr(frame, "step", None)
        if step is not None and step == self._last_step:
            return  # the same frame again (measured once more where the run ended)
        self._last_step = step
        read_field = self.field
        field = None if read_field is None else (lambda: read_field(state))
        values = frame if self.values is None else self.values(frame)
        self.recorder.record(values, field=field, t=t, step=step)

    def finish(self, run: Run, status: str) -> None:
        self.recorder.close(status, run.info.get("summary"), error=run.error)
