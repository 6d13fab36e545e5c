"""The simulation thread behind the dashboard.

:class:`SimulationRunner` owns a :class:`~resonance_engine.field.solver.WaveSolver2D`
and steps it in a background thread as fast as it can. Between chunks of steps it

- applies control requests (pause, resume, damping, wave speed, source frequency) that
  arrive through a thread-safe queue, each answered through a ``Future``;
- computes the chart values with a :class:`~resonance_engine.web.chart_feeds.ChartFeed`
  every ``metrics_every`` steps and keeps a bounded history of them;
- at most ``fps`` times a second, hands a *tick* (a binary frame when someone watches,
  the new metric rows, and the state when it changed) to the ``publish`` callback.

It knows nothing about HTTP or asyncio: the dashboard server passes a ``publish`` that
hops onto its event loop, and a ``watchers`` callable that says whether anyone watches
(no watcher, no frame encoding).
"""

from __future__ import annotations

import contextlib
import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from resonance_engine.errors import ConfigError, ResonanceError
from resonance_engine.field.solver import WaveSolver2D
from resonance_engine.loop import Run, RunLoop, Tracker
from resonance_engine.web.chart_feeds import ChartFeed, FieldStatsFeed
from resonance_engine.web.controls import (
    control_limits,
    set_damping,
    set_frequency,
    set_wave_speed,
    shown,
)
from resonance_engine.web.protocol import FrameEncoder
from resonance_engine.web.swarm_driver import SwarmDriver

__all__ = ["SimulationRunner", "Tick", "describe_error"]


def describe_error(exc: BaseException) -> str:
    """One line for an error shown on the page: the message of a ResonanceError, the
    class name and message of anything else (an unexpected failure says what it was)."""
    if isinstance(exc, ResonanceError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


@dataclass
class Tick:
    """What the runner hands to the server at most ``fps`` times a second.

    Attributes
    ----------
    frame : bytes or None
        Encoded field frame (see :mod:`resonance_engine.web.protocol`).
    rows : list of list
        New metric rows ``[step, t, value per series...]``.
    state : dict or None
        The runner's state when it changed (or once a second).
    events : list of dict
        Other messages (e.g. ``{"type": "error", ...}`` when the run diverged).
    """

    frame: bytes | None = None
    rows: list[list[float]] = field(default_factory=list)
    state: dict[str, Any] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Request:
    action: str
    params: dict[str, Any]
    future: Future[dict[str, Any]]


class SimulationRunner:
    """Steps a solver in a background thread and reports frames, metrics and state.

    Parameters
    ----------
    solver : WaveSolver2D
        A single field (``batch=None``); for a batch, ``member`` selects the field shown.
    metrics : ChartFeed, optional
        What the charts show; :class:`FieldStatsFeed` when None.
    chunk : int
        Steps between two looks at the control queue (and the clock), >= 1.
    metrics_every : int
        Steps between two metric rows, >= 1.
    fps : float
        Largest rate of ticks (frames) per second, in (0, 60].
    max_side : int
        Largest frame side (cells); larger fields are block-averaged.
    history : int
        Metric rows kept for clients that connect later.
    member : int
        Batch member whose field is shown and measured.
    driver : SwarmDriver, optional
        Advance by swarm ticks instead (see :meth:`for_swarm`); ``metrics`` and
        ``metrics_every`` are then unused: every tick gives one row.
    recorder : RunRecorder, optional
        Also store every metric row there (anything with
        ``record(values, field=..., t=..., step=...)``, see
        :class:`resonance_engine.store.RunRecorder`); needs a chart feed with
        ``store_types`` (the complexity measures).
    """

    mode = "live"

    def __init__(
        self,
        solver: WaveSolver2D,
        metrics: ChartFeed | None = None,
        *,
        chunk: int = 10,
        metrics_every: int = 50,
        fps: float = 30.0,
        max_side: int = 256,
        history: int = 5000,
        member: int = 0,
        driver: SwarmDriver | None = None,
        recorder: Any = None,
    ) -> None:
        if not isinstance(chunk, int) or chunk < 1:
            raise ConfigError(f"chunk must be an integer >= 1 step, got {chunk!r}")
        if not isinstance(metrics_every, int) or metrics_every < 1:
            raise ConfigError(f"metrics_every must be an integer >= 1 step, got {metrics_every!r}")
        if not (isinstance(fps, int | float) and 0 < fps <= 60):
            raise ConfigError(f"fps must be in (0, 60] frames/s, got {fps!r}")
        if not 0 <= member < (solver.batch or 1):
            raise ConfigError(f"member must be in [0, {(solver.batch or 1) - 1}], got {member}")
        self.solver = solver
        self.metrics: ChartFeed = metrics if metrics is not None else FieldStatsFeed()
        self.chunk = chunk
        self.metrics_every = metrics_every
        self.fps = float(fps)
        self.member = member
        self.driver = driver
        self.recorder = recorder
        self._store_types: dict[str, str] | None = getattr(self.metrics, "store_types", None)
        if recorder is not None and (driver is not None or not self._store_types):
            raise ConfigError(
                "only the complexity measures of a single field can be stored (D, G, C, "
                f"tau, CI); {self.metrics.description} cannot"
            )
        self.series: tuple[str, ...] = driver.names if driver else self.metrics.names
        self.description: str = driver.description if driver else self.metrics.description
        #: Charts of the page: (title, series drawn together), in order.
        self.groups: list[tuple[str, list[str]]] = (
            driver.groups if driver else [(name, [name]) for name in self.series]
        )
        self.encoder = FrameEncoder(max_side)
        self.publish: Callable[[Tick], None] = lambda tick: None
        self.watchers: Callable[[], int] = lambda: 0
        self._history: deque[list[float]] = deque(maxlen=history)
        self._alerts: deque[dict[str, Any]] = deque(maxlen=200)
        self._history_lock = threading.Lock()
        self._requests: queue.Queue[_Request] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.paused = False
        self.error: str | None = None
        self.steps_per_s = 0.0
        self.frames_encoded = 0
        self._last_metrics_step: int | None = None
        self._frame_wanted = threading.Event()

    @classmethod
    def for_swarm(cls, swarm: Any, **kwargs: Any) -> SimulationRunner:
        """A runner that advances a :class:`resonance_engine.swarm.Swarm` tick by tick,
        showing one agent's field (``member``, changeable from the page)."""
        return cls(swarm.solver, driver=SwarmDriver(swarm), **kwargs)

    # ------------------------------------------------------------------ views
    def field(self) -> np.ndarray:
        """The field shown, shape (ny, nx) (a read-only view)."""
        u = self.solver.u
        return u if self.solver.batch is None else u[self.member]

    def frame_shape(self) -> tuple[int, int]:
        """(width, height) of the frames sent."""
        k = max(1, math.ceil(max(self.solver.nx, self.solver.ny) / self.encoder.max_side))
        return self.solver.nx // k, self.solver.ny // k

    def state(self) -> dict[str, Any]:
        """The run's state as a JSON-ready dict (what the page shows and controls)."""
        s = self.solver
        damping = np.atleast_1d(s.damping)[self.member]
        return {
            "paused": self.paused,
            "running": self.is_running(),
            "error": self.error,
            "step": s.step_count,
            "t": s.t,
            "dt": s.dt,
            "grid": [s.nx, s.ny],
            "dx": s.dx,
            "courant": s.courant_number,
            "damping": float(damping),
            "wave_speed": s.wave_speed,
            "frequencies": s.drive_frequency[self.member].tolist(),
            "member": self.member,
            "members": s.batch or 1,
            "steps_per_s": self.steps_per_s,
            "limits": control_limits(s),
        }

    def history(self) -> list[list[float]]:
        """Every metric row kept, oldest first: ``[step, t, value per series...]``."""
        with self._history_lock:
            return list(self._history)

    def request_frame(self) -> None:
        """Send a frame at the next tick even when paused (for a client that just joined)."""
        self._frame_wanted.set()

    def alerts(self) -> list[dict[str, Any]]:
        """The latest alerts (up to 200), oldest first, as sent to the page."""
        with self._history_lock:
            return list(self._alerts)

    # ------------------------------------------------------------------ control
    def request(self, action: str, **params: Any) -> Future[dict[str, Any]]:
        """Ask the simulation thread to ``pause``, ``resume`` or ``set`` a parameter.

        ``set`` takes ``param`` ("damping", "wave_speed" or "frequency"), ``value`` and,
        for the frequency, ``source`` (an index, or None for all sources). The future
        resolves to the new state, or to the ConfigError that refused the change.
        When the thread is not running the request is applied at once.
        """
        future: Future[dict[str, Any]] = Future()
        request = _Request(action, params, future)
        if self.is_running():
            self._requests.put(request)
            if not self.is_running():  # the thread ended meanwhile: nobody else answers
                self._answer_pending(ConfigError(f"the simulation has stopped: {self.error}"))
        else:
            self._apply(request)
        return future

    def _apply(self, request: _Request) -> bool:
        try:
            if request.action == "pause":
                self.paused = True
            elif request.action == "resume":
                if self.error is not None:
                    raise ConfigError(
                        f"the run stopped with an error and cannot resume: {self.error}"
                    )
                self.paused = False
            elif request.action == "set":
                param = request.params.get("param")
                value = request.params.get("value")
                if param == "damping":
                    set_damping(self.solver, value)
                elif param == "wave_speed":
                    set_wave_speed(self.solver, value)
                elif param == "frequency":
                    set_frequency(self.solver, value, request.params.get("source"))
                elif param == "member":
                    self._set_member(value)
                else:
                    raise ConfigError(
                        f"unknown parameter {param!r}; use 'damping', 'wave_speed', "
                        "'frequency' or 'member'"
                    )
            else:
                raise ConfigError(f"unknown action {request.action!r}; use pause, resume or set")
        except ResonanceError as exc:
            request.future.set_exception(exc)
            return False
        except Exception as exc:  # a bad value must never stop the simulation thread
            request.future.set_exception(
                ConfigError(f"{request.action} {request.params.get('param')!r} refused: {exc}")
            )
            return False
        request.future.set_result(self.state())
        return True

    def _set_member(self, value: Any) -> None:
        members = self.solver.batch or 1
        if self.driver is None:
            raise ConfigError("only a swarm shows another member; this run has one field")
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < members:
            raise ConfigError(
                f"member must be an agent index in [0, {members - 1}], got {shown(value)}"
            )
        self.member = value
        self.encoder.scale = 0.0
        self._frame_wanted.set()

    def _drain_requests(self, block: bool) -> bool:
        changed = False
        try:
            request = self._requests.get(timeout=0.05) if block else self._requests.get_nowait()
        except queue.Empty:
            return False
        while True:
            changed |= self._apply(request)
            try:
                request = self._requests.get_nowait()
            except queue.Empty:
                return changed

    # ------------------------------------------------------------------ thread
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the simulation thread (a no-op when it already runs)."""
        if self.is_running():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="resonance-sim", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread and wait for it; pending requests are answered with an error."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None
        self._answer_pending(ConfigError("the simulation has stopped"))

    def _measure(self) -> list[float]:
        s = self.solver
        values = self.metrics.update(self.field(), s.step_count, s.t)
        row: list[float] = [s.step_count, s.t]
        row.extend(float(values[name]) for name in self.metrics.names)
        self._keep(row)
        if self.recorder is not None and self._store_types and self.driver is None:
            stored = {kind: values[name] for name, kind in self._store_types.items()}
            self.recorder.record(stored, field=self.field(), t=s.t, step=s.step_count)
        self._last_metrics_step = s.step_count
        return row

    def _keep(self, row: list[float], alerts: Sequence[dict[str, Any]] = ()) -> None:
        with self._history_lock:
            self._history.append(row)
            self._alerts.extend(alerts)

    def _run(self) -> None:
        """The thread's body: :meth:`_loop`, and whatever it raises is reported (state,
        an error message to every client, an answer to every queued request) before the
        thread ends: it never dies silently."""
        try:
            self._loop()
        except BaseException as exc:
            self.error = describe_error(exc)
            self._answer_pending(ConfigError(f"the simulation stopped: {self.error}"))
            with contextlib.suppress(Exception):
                event = {"type": "error", "id": None, "message": self.error}
                self.publish(Tick(events=[event], state={**self.state(), "running": False}))
            if not isinstance(exc, Exception):
                raise

    def _answer_pending(self, error: Exception) -> None:
        while True:
            try:
                request = self._requests.get_nowait()
            except queue.Empty:
                return
            request.future.set_exception(error)

    def _loop(self) -> None:
        """Step through the run loop until :meth:`stop`: the charts (every
        ``metrics_every`` steps) and the live tracker (every ``chunk`` steps: controls,
        ticks to the page) are its trackers; a swarm advances one tick per loop step.

        A failure (a diverged field, a chart feed that raised) pauses the run with the
        error shown; the thread goes on answering requests and sending the state.
        """
        live = _Live(self)
        if self.driver is not None:
            trackers: list[Any] = [live]
            stepper: Any = _DriverTicks(self, live)
        else:
            trackers, stepper = [_Charts(self, live), live], self.solver
        try:
            RunLoop(self.solver, trackers, stepper=stepper).run()
        except _ServingFailed as failure:  # not the simulation's fault: the thread ends
            raise failure.error from None
        except Exception as exc:  # a step or a measure failed: paused, shown, answered
            self.error = describe_error(exc)
            self.paused = True
            live.state_due = True
            live.events.append({"type": "error", "id": None, "message": self.error})
            live.serve_while_paused()
        # publish the final state so that pages show the run stopped
        self.publish(Tick(rows=live.rows, state={**self.state(), "running": False}))


class _ServingFailed(Exception):
    """Wraps a failure of the serving side (publishing, controls), which ends the thread,
    unlike a failure of a step or a measure, which pauses the run."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class _Live(Tracker):
    """The dashboard's tracker, every ``chunk`` steps (every tick of a swarm): applies
    control requests, waits while paused, measures the step rate and hands a tick to
    ``publish`` at most ``fps`` times a second (sooner for a new state, an event or a
    frame a client asked for)."""

    def __init__(self, runner: SimulationRunner) -> None:
        super().__init__(1 if runner.driver is not None else runner.chunk)
        self.runner = runner
        self.rows: list[list[float]] = []
        self.events: list[dict[str, Any]] = []
        self.state_due = True
        self._last_state = 0.0
        self._period = 1.0 / runner.fps
        self._next_tick = time.monotonic()
        self._rate_time, self._rate_step = time.monotonic(), runner.solver.step_count
        self.run: Run | None = None

    def start(self, run: Run) -> None:
        self.run = run

    def handle(self, state: Any, t: float) -> None:
        runner = self.runner
        try:
            if runner._drain_requests(block=False):
                self.state_due = True
            self._publish()
            self.serve_while_paused()
        except Exception as exc:
            raise _ServingFailed(exc) from exc
        if runner._stop.is_set() and self.run is not None:
            self.run.stop("the dashboard stopped the simulation")

    def serve_while_paused(self) -> None:
        """Answer requests and send the state until resumed or stopped."""
        runner = self.runner
        while runner.paused and not runner._stop.is_set():
            if runner._drain_requests(block=True):
                self.state_due = True
            self._publish()

    def _publish(self) -> None:
        runner, s = self.runner, self.runner.solver
        now = time.monotonic()
        if now - self._rate_time >= 0.5:
            runner.steps_per_s = (s.step_count - self._rate_step) / (now - self._rate_time)
            self._rate_time, self._rate_step = now, s.step_count
        if now - self._last_state >= 1.0:
            self.state_due = True
        wanted = runner._frame_wanted.is_set()
        if not (now >= self._next_tick or self.state_due or self.events or wanted):
            return
        tick = Tick(rows=self.rows, events=self.events)
        if self.state_due:
            tick.state = runner.state()
            self._last_state = now
            self.state_due = False
        if wanted or (now >= self._next_tick and runner.watchers() > 0 and not runner.paused):
            runner._frame_wanted.clear()
            tick.frame = runner.encoder.encode(runner.field(), s.step_count, s.t, runner.member)
            runner.frames_encoded += 1
        if now >= self._next_tick:
            self._next_tick = max(self._next_tick + self._period, now)
        if tick.frame is not None or tick.rows or tick.state or tick.events:
            runner.publish(tick)
        self.rows, self.events = [], []


class _Charts(Tracker):
    """The chart values of a single field, every ``metrics_every`` steps (and once at the
    start when nothing was measured yet)."""

    def __init__(self, runner: SimulationRunner, live: _Live) -> None:
        super().__init__(runner.metrics_every)
        self.runner = runner
        self.live = live

    def start(self, run: Run) -> None:
        if self.runner._last_metrics_step is None:
            self.live.rows.append(self.runner._measure())

    def handle(self, state: Any, t: float) -> None:
        self.live.rows.append(self.runner._measure())


class _DriverTicks:
    """What the run loop steps for a swarm on the dashboard: one step is one swarm tick
    (its row of means, CS and per-agent CI, and its alerts, go to the page)."""

    def __init__(self, runner: SimulationRunner, live: _Live) -> None:
        self.runner = runner
        self.live = live
        self.step_count = 0

    @property
    def t(self) -> float:
        return float(self.runner.solver.t)

    def step(self, n: int = 1) -> None:
        driver = self.runner.driver
        assert driver is not None
        for _ in range(n):
            row, alerts = driver.advance()
            self.runner._keep(row, alerts)
            self.live.rows.append(row)
            self.live.events.extend(alerts)
            self.step_count += 1
