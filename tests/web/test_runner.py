"""The simulation thread: stepping, controls, metrics, ticks, errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
import pytest

from resonance_engine.config import default_pond
from resonance_engine.errors import CFLViolation, ConfigError
from resonance_engine.web.chart_feeds import ComplexityFeed, FieldStatsFeed
from resonance_engine.web.protocol import decode_frame
from resonance_engine.web.runner import SimulationRunner, Tick


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


class Collector:
    def __init__(self) -> None:
        self.ticks: list[Tick] = []
        self.lock = threading.Lock()

    def __call__(self, tick: Tick) -> None:
        with self.lock:
            self.ticks.append(tick)

    def frames(self) -> list[bytes]:
        with self.lock:
            return [t.frame for t in self.ticks if t.frame is not None]


def test_runs_measures_and_stops(make_runner) -> None:
    runner = make_runner(metrics_every=5)
    runner.start()
    wait_for(lambda: len(runner.history()) >= 4)
    runner.stop()
    assert not runner.is_running()
    rows = runner.history()
    steps = [row[0] for row in rows]
    assert steps[0] == 0 and all(b - a == 5 for a, b in zip(steps, steps[1:], strict=False))
    assert all(len(row) == 2 + len(runner.metrics.names) for row in rows)
    assert rows[-1][1] == pytest.approx(rows[-1][0] * runner.solver.dt)
    assert not any(t.name == "resonance-sim" for t in threading.enumerate())


def test_frames_only_when_watched(make_runner) -> None:
    runner = make_runner()
    collect = Collector()
    runner.publish = collect
    watchers = [0]
    runner.watchers = lambda: watchers[0]
    runner.start()
    wait_for(lambda: runner.solver.step_count > 200)
    assert collect.frames() == []
    watchers[0] = 1
    wait_for(lambda: len(collect.frames()) >= 3)
    runner.stop()
    header, field = decode_frame(collect.frames()[-1])
    assert (header.width, header.height) == runner.frame_shape() == (48, 48)
    assert header.step > 0 and np.abs(field).max() > 0


def test_pause_stops_the_clock_and_resume_restarts_it(make_runner) -> None:
    runner = make_runner()
    runner.start()
    wait_for(lambda: runner.solver.step_count > 50)
    state = runner.request("pause").result(timeout=10)
    assert state["paused"] is True
    paused_at = runner.solver.step_count
    rows = len(runner.history())
    time.sleep(0.3)
    assert runner.solver.step_count == paused_at == state["step"]
    assert len(runner.history()) == rows
    runner.request("resume").result(timeout=10)
    wait_for(lambda: runner.solver.step_count > paused_at + 20)


def test_controls_go_through_the_thread(make_runner) -> None:
    runner = make_runner()
    runner.start()
    state = runner.request("set", param="damping", value=0.7).result(timeout=10)
    assert state["damping"] == 0.7 and runner.solver.damping == 0.7
    state = runner.request("set", param="frequency", value=12.0, source=0).result(timeout=10)
    assert state["frequencies"][0] == 12.0
    with pytest.raises(CFLViolation):
        runner.request("set", param="wave_speed", value=50.0).result(timeout=10)
    with pytest.raises(ConfigError, match="unknown parameter"):
        runner.request("set", param="gravity", value=1.0).result(timeout=10)
    with pytest.raises(ConfigError, match="unknown action"):
        runner.request("jump").result(timeout=10)
    before = runner.solver.step_count
    wait_for(lambda: runner.solver.step_count > before + 20)  # the run went on
    assert runner.solver.wave_speed == 1.0


def test_requests_apply_at_once_without_a_thread(make_runner) -> None:
    runner = make_runner()
    assert runner.request("set", param="damping", value=0.3).result(timeout=1)["damping"] == 0.3


def test_divergence_pauses_with_the_error(make_runner) -> None:
    config = default_pond(32)
    config.energy_limit = 1e-30
    config.check_interval = 10
    runner = SimulationRunner(config.build(), fps=60.0)
    collect = Collector()
    runner.publish = collect
    runner.start()
    try:
        wait_for(lambda: runner.error is not None)
        assert runner.paused and "energy" in runner.error
        wait_for(lambda: any(e["type"] == "error" for t in collect.ticks for e in t.events))
        with pytest.raises(ConfigError, match="cannot resume"):
            runner.request("resume").result(timeout=10)
    finally:
        runner.stop()


def test_bad_settings_are_refused() -> None:
    solver = default_pond(32).build()
    for kwargs, match in [
        ({"chunk": 0}, "chunk"),
        ({"metrics_every": 0}, "metrics_every"),
        ({"fps": 0}, "fps"),
        ({"fps": 120}, "fps"),
        ({"member": 1}, "member"),
    ]:
        with pytest.raises(ConfigError, match=match):
            SimulationRunner(solver, **kwargs)


def test_complexity_source_maps_the_analyzer_fields() -> None:
    class Result:
        fractal_dim, gain, coherence, dwell, ci = 1.6, 0.2, 0.9, 3.0, 0.05

    class Analyzer:
        seen: list[tuple[int, float]] = []

        def update(self, u: np.ndarray, *, step: int, t: float) -> Result:
            self.seen.append((step, t))
            return Result()

    analyzer = Analyzer()
    values = ComplexityFeed(analyzer).update(np.zeros((4, 4)), 7, 0.25)
    assert values == {"D": 1.6, "G": 0.2, "C": 0.9, "tau": 3.0, "CI": 0.05}
    assert analyzer.seen == [(7, 0.25)]


def test_field_stats_source() -> None:
    u = np.array([[3.0, -4.0], [0.0, 0.0]])
    values = FieldStatsFeed().update(u, 0, 0.0)
    assert values["peak"] == 4.0 and values["rms"] == pytest.approx(np.sqrt(25 / 4))


class Exploding(FieldStatsFeed):
    """A chart source that fails with a non-ResonanceError after a few rows."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.after = after

    def update(self, u, step, t):
        if step >= self.after:
            raise ZeroDivisionError("the chart source divided by zero")
        return super().update(u, step, t)


def test_any_exception_while_stepping_is_reported_and_requests_answered(make_runner) -> None:
    runner = make_runner(metrics=Exploding(after=20))
    collect = Collector()
    runner.publish = collect
    runner.start()
    wait_for(lambda: runner.error is not None)
    assert runner.error == "ZeroDivisionError: the chart source divided by zero"
    wait_for(
        lambda: any(
            e["type"] == "error" and "ZeroDivisionError" in e["message"]
            for t in collect.ticks
            for e in t.events
        )
    )
    state = runner.state()
    assert state["error"] == runner.error and state["paused"] and state["running"]
    # the thread still answers: a change is applied, resume is refused with the reason
    assert runner.request("set", param="damping", value=0.4).result(timeout=10)["damping"] == 0.4
    with pytest.raises(ConfigError, match="ZeroDivisionError"):
        runner.request("resume").result(timeout=10)
    runner.stop()


def test_a_failure_outside_the_step_ends_the_thread_loudly(make_runner) -> None:
    runner = make_runner()
    published: list[Tick] = []

    def publish(tick: Tick) -> None:
        published.append(tick)
        if len(published) == 3:
            runner.request("pause")  # queued while the thread is about to fail
            raise MemoryError("no memory for the tick")

    runner.publish = publish
    runner.start()
    wait_for(lambda: not runner.is_running())
    assert runner.error == "MemoryError: no memory for the tick"
    last = published[-1]
    assert last.state is not None and last.state["running"] is False
    assert last.events[0]["message"] == runner.error
    assert runner.state()["error"] == runner.error
    # the request queued before the failure was answered, and later ones are refused
    with pytest.raises(ConfigError, match="cannot resume"):
        runner.request("resume").result(timeout=1)
