"""RunLoop: step a field (or a swarm) in compiled chunks and call trackers at their intervals.

The loop knows nothing of measures, databases, terminals or browsers: it advances the
stepped object by as many steps as it can before the next tracker is due (one compiled
call per chunk), then calls the trackers that are due, in the order given. Everything a
command does besides stepping (measuring, storing, progress, live frames, signatures,
controllers, stop conditions) is a tracker (see :mod:`resonance_engine.loop.tracker`).

Example
-------
>>> from resonance_engine import default_pond
>>> from resonance_engine.loop import RunLoop, StopWhen, Tracker
>>> class Peak(Tracker):
...     def __init__(self):
...         super().__init__(interval=5, final=True)
...         self.peaks = []
...     def handle(self, solver, t):
...         self.peaks.append(round(float(abs(solver.u).max()), 6))
>>> peak = Peak()
>>> run = RunLoop(default_pond(32).build(), [peak], steps=12).run()
>>> run.status, run.done, len(peak.peaks)    # handled at steps 5, 10 and the last (12)
('finished', 12, 3)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Protocol

from resonance_engine.errors import ConfigError
from resonance_engine.loop.interrupts import discard_pending, raise_if_pending, shielded
from resonance_engine.loop.tracker import Interval, as_interval

__all__ = ["RunLoop", "Run", "Stepper"]


class Stepper(Protocol):
    """What the loop steps: :class:`~resonance_engine.field.solver.WaveSolver2D` is one."""

    @property
    def step_count(self) -> int: ...

    @property
    def t(self) -> float: ...

    def step(self, n: int = 1) -> Any: ...


class Run:
    """One pass of a :class:`RunLoop`, as the trackers see it.

    Attributes
    ----------
    state : object
        The object handed to every ``handle`` (the solver, or the swarm).
    stepper : Stepper
        What is stepped (usually ``state`` itself).
    steps : int or None
        Steps this run makes (None: until a tracker stops it).
    start_step : int
        ``stepper.step_count`` when the run started.
    status : str
        ``"running"``, then the status ``finish`` was called with.
    error : str or None
        ``"ErrorType: message"`` of the exception that failed the run.
    stop_reason : str or None
        Why a tracker stopped the run (:meth:`stop`).
    frame : object or None
        The newest measured frame (see :meth:`add_frame`), e.g. a ComplexityMetrics.
    frames : int
        Frames measured so far.
    ending : bool
        True while the loop makes its final ``handle`` calls (``final=True`` trackers).
    info : dict
        What trackers add to the run's summary (e.g. the AgentDB ``run_id``).
    started_wall : float
        ``time.perf_counter()`` at the start.
    """

    def __init__(self, state: Any, stepper: Stepper, steps: int | None) -> None:
        self.state = state
        self.stepper = stepper
        self.steps = steps
        self.start_step = int(stepper.step_count)
        self.status = "running"
        self.error: str | None = None
        self.stop_reason: str | None = None
        self.frame: Any = None
        self.frames = 0
        self.ending = False
        self.info: dict[str, Any] = {}
        self.started_wall = time.perf_counter()
        self._frame_trackers: list[Any] = []

    @property
    def done(self) -> int:
        """Steps made by this run so far."""
        return int(self.stepper.step_count) - self.start_step

    @property
    def last_step(self) -> bool:
        """True at the run's last step (its step budget is used, or it is ending)."""
        return self.ending or (self.steps is not None and self.done >= self.steps)

    @property
    def wall_s(self) -> float:
        """Wall time since the start (s)."""
        return time.perf_counter() - self.started_wall

    @property
    def steps_per_s(self) -> float:
        """Steps per wall-clock second so far."""
        wall = self.wall_s
        return self.done / wall if wall > 0 else 0.0

    def stop(self, reason: str) -> None:
        """Ask the loop to stop after the current trackers (status ``"stopped"``)."""
        if self.stop_reason is None:
            self.stop_reason = reason

    def add_frame(self, frame: Any) -> None:
        """Publish a new measured frame and call the ``"frame"`` trackers with it."""
        self.frame = frame
        self.frames += 1
        for tracker in self._frame_trackers:
            tracker.handle(self.state, float(self.stepper.t))


class RunLoop:
    """Steps ``state`` and calls ``trackers`` at their intervals.

    Parameters
    ----------
    state : object
        Handed to every tracker's ``handle``; stepped too unless ``stepper`` is given.
    trackers : sequence of trackers
        Called in this order (so a tracker that measures comes before one that stores).
    steps : int, optional
        Steps to make (>= 0); None runs until a tracker calls ``run.stop`` (or Ctrl-C).
    stepper : Stepper, optional
        What is stepped, when it is not ``state`` (e.g. a swarm's ticks).
    chunk : int, optional
        Largest number of steps per compiled call (default: up to the next due tracker).
        Realtime trackers are looked at between chunks.

    Notes
    -----
    Errors: an exception in a step or a tracker fails the run (``finish(run, "failed")``
    is called on every started tracker, ``run.error`` says what happened) and is raised
    again. Ctrl-C (KeyboardInterrupt, which the CLI also raises on SIGTERM) ends the run
    ``"interrupted"`` and is not raised: :meth:`run` returns and the caller reports.
    With :func:`resonance_engine.loop.interrupts.interrupt_between_steps` as the SIGINT
    handler (the CLI installs it) a Ctrl-C ends the run after a chunk of steps, before its
    trackers, never in the middle of a frame being measured or stored.
    An exception in one tracker's ``finish`` does not keep the others from finishing; the
    first one is raised afterwards.
    """

    def __init__(
        self,
        state: Any,
        trackers: Sequence[Any] = (),
        *,
        steps: int | None = None,
        stepper: Stepper | None = None,
        chunk: int | None = None,
    ) -> None:
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int)
                                  or steps < 0):
            raise ConfigError(f"steps must be an integer >= 0 or None, got {steps!r}")
        if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, int)
                                  or chunk < 1):
            raise ConfigError(f"chunk must be an integer >= 1 step or None, got {chunk!r}")
        self.state = state
        self.stepper: Stepper = stepper if stepper is not None else state
        self.trackers = list(trackers)
        self.intervals: list[Interval] = [as_interval(tr.interval) for tr in self.trackers]
        self.steps = steps
        self.chunk = chunk
        scheduled = any(iv.kind in ("steps", "at") for iv in self.intervals)
        if steps is None and chunk is None and not scheduled:
            raise ConfigError(
                "a run without a step budget needs chunk=... or a tracker with an interval "
                "in steps (otherwise it would step forever in one call)"
            )

    def run(self) -> Run:
        """Run to the end; returns the :class:`Run` (its ``status`` says how it ended)."""
        run = Run(self.state, self.stepper, self.steps)
        run._frame_trackers = [
            tr for tr, iv in zip(self.trackers, self.intervals, strict=True) if iv.kind == "frame"
        ]
        started: list[Any] = []
        error: BaseException | None = None
        last: dict[int, int] = {}
        try:
            for tracker in self.trackers:
                tracker.start(run)
                started.append(tracker)
            self._loop(run, last)
            run.status = "stopped" if run.stop_reason is not None else "finished"
        except KeyboardInterrupt:
            run.status = "interrupted"
        except BaseException as exc:  # noqa: BLE001 - reported to the trackers, raised below
            run.status, run.error, error = "failed", f"{type(exc).__name__}: {exc}", exc
        if run.status != "failed":
            try:
                with shielded():
                    self._final_round(run, started, last)
            except KeyboardInterrupt:
                run.status = "interrupted"
            except BaseException as exc:  # noqa: BLE001
                run.status, run.error, error = "failed", f"{type(exc).__name__}: {exc}", exc
        finish_error: BaseException | None = None
        with shielded():  # the run is ending anyway: a Ctrl-C now must not split a finish
            for tracker in started:
                try:
                    tracker.finish(run, run.status)
                except BaseException as exc:  # noqa: BLE001 - finish the others first
                    finish_error = finish_error or exc
            discard_pending()
        if error is not None:
            raise error
        if finish_error is not None:
            raise finish_error
        return run

    def _loop(self, run: Run, last: dict[int, int]) -> None:
        scheduled = [
            (i, iv) for i, iv in enumerate(self.intervals) if iv.kind in ("steps", "at")
        ]
        realtime = [(i, iv) for i, iv in enumerate(self.intervals) if iv.kind == "realtime"]
        due = {i: iv.next_step(0) for i, iv in scheduled}
        clock = time.monotonic()
        due_at = {i: clock + iv.seconds for i, iv in realtime}
        stepper, state = self.stepper, self.state
        # Ctrl-C (with the CLI's handler) is raised after a chunk of steps and before its
        # trackers: the final round then measures and stores that step whole
        with shielded():
            while run.stop_reason is None:
                done = run.done
                left = None if self.steps is None else self.steps - done
                if left is not None and left <= 0:
                    return
                targets = [d - done for d in due.values() if d is not None]
                n = min(targets) if targets else (left if left is not None else self.chunk)
                if n is None:  # only trackers that are done scheduling: step by chunks
                    raise ConfigError(
                        "nothing left to schedule this unbounded run; give chunk=...")
                if left is not None:
                    n = min(n, left)
                if self.chunk is not None:
                    n = min(n, self.chunk)
                stepper.step(n)
                raise_if_pending()
                done = run.done
                t = float(stepper.t)
                for i, iv in scheduled:
                    step = due[i]
                    if step is not None and step <= done:
                        self.trackers[i].handle(state, t)
                        last[i] = done
                        due[i] = iv.next_step(done)
                if realtime:
                    clock = time.monotonic()
                    for i, iv in realtime:
                        if clock >= due_at[i]:
                            self.trackers[i].handle(state, t)
                            last[i] = done
                            due_at[i] = clock + iv.seconds

    def _final_round(self, run: Run, started: list[Any], last: dict[int, int]) -> None:
        run.ending = True
        done = run.done
        t = float(self.stepper.t)
        for i, tracker in enumerate(self.trackers):
            if tracker in started and getattr(tracker, "final", False) and last.get(i) != done:
                if self.intervals[i].kind != "frame":
                    tracker.handle(self.state, t)
