"""Storing the dashboard's metrics in AgentDB and replaying a stored run read-only."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

from resonance_engine.config import default_pond
from resonance_engine.errors import ConfigError, StoreError
from resonance_engine.web import create_app
from resonance_engine.web.chart_feeds import ComplexityFeed, FieldStatsFeed
from resonance_engine.web.replay import ReplayRunner
from resonance_engine.web.runner import SimulationRunner

from .conftest import local_client, require

store = require("resonance_engine.store")


class StepAnalyzer:
    """A stand-in analyzer whose values are simple functions of the step."""

    def update(self, u: np.ndarray, *, step: int, t: float):  # type: ignore[no-untyped-def]
        class Result:
            fractal_dim = 1.0 + step * 1e-3
            gain = 0.5 * t
            coherence = math.nan if step == 10 else 0.25
            dwell = float(step % 7)
            ci = float(np.abs(u).mean())

        return Result()


def test_live_rows_are_stored_and_replayed(tmp_path) -> None:
    db = store.AgentDB(tmp_path / "runs.db")
    recorder = store.RunRecorder.start(db, {"what": "test"}, seed=3, name="serve")
    runner = SimulationRunner(
        default_pond(32).build(),
        ComplexityFeed(StepAnalyzer()),
        metrics_every=5,
        recorder=recorder,
    )
    runner.start()
    deadline = time.monotonic() + 30
    while len(runner.history()) < 8:
        assert time.monotonic() < deadline and runner.error is None, runner.error
        time.sleep(0.01)
    runner.stop()
    recorder.close()
    live = runner.history()
    replay = ReplayRunner.from_db(db, recorder.run_id)
    assert replay.series == ("D", "G", "C", "tau", "CI")
    assert len(replay.rows) == len(live)
    for stored, shown in zip(replay.rows, live, strict=True):
        assert stored[0] == shown[0]  # step, from the metadata
        assert stored[1] == pytest.approx(shown[1], abs=1e-6)  # t, to the microsecond
        np.testing.assert_allclose(stored[2:], shown[2:], rtol=1e-12)  # NaN where not stored
    assert math.isnan(replay.rows[2][4])  # C of step 10 was NaN: not stored
    assert replay.state()["replay"]["status"] == "finished"
    db.close()


def test_only_complexity_measures_are_stored(tmp_path) -> None:
    with pytest.raises(ConfigError, match="cannot"):
        SimulationRunner(default_pond(32).build(), FieldStatsFeed(), recorder=object())


def test_missing_runs_and_series_are_store_errors(tmp_path) -> None:
    db = store.AgentDB(tmp_path / "runs.db")
    with pytest.raises(StoreError, match="no run"):
        ReplayRunner.from_db(db, 42)
    empty = db.create_run({}, seed=None)
    with pytest.raises(StoreError, match="no D, G, C, tau or CI"):
        ReplayRunner.from_db(db, empty)
    db.close()


def test_replay_over_the_websocket() -> None:
    require("httpx2")

    rows = [[10.0 * i, 0.1 * i, 1.5, 0.2, 0.3, 1.0, 0.01 * i] for i in range(50)]
    app = create_app(ReplayRunner(rows, "run 7", {"run": 7}))
    with local_client(app) as client, client.websocket_connect("/ws") as ws:
        hello = ws.receive_json()
        assert hello["mode"] == "replay" and hello["history"] == rows
        assert hello["state"]["step"] == 490 and hello["frame"] == [0, 0]
        ws.send_json({"type": "resume", "id": 1})
        reply = ws.receive_json()
        assert reply["type"] == "error" and "read-only" in reply["message"]
        assert client.get("/api/state").json()["running"] is False


def test_a_stored_swarm_run_is_replayed(tmp_path) -> None:
    swarm_layer = require("resonance_engine.swarm")
    from resonance_engine.swarm.storage import AgentDBRecorder

    db = store.AgentDB(tmp_path / "swarm.db")
    recorder = AgentDBRecorder(db, {"agents": 3}, seed=1, name="serve")
    swarm = swarm_layer.Swarm(
        3,
        swarm_layer.SwarmConfig(size=32, steps_per_tick=5),
        coupling=0.3,
        seed=1,
        recorder=recorder,
    )
    swarm.run(12)
    recorder.close()
    replay = ReplayRunner.from_db(db, recorder.run_id)
    assert replay.series[:6] == ("D", "G", "C", "tau", "CI", "CS")
    assert replay.series[6:] == ("CI agent 0", "CI agent 1", "CI agent 2")
    assert [title for title, _ in replay.groups][-1] == "CI per agent"
    rows = np.array(replay.rows)
    assert rows.shape == (12, 2 + 9)
    stored_ci = swarm.ci_series()  # (ticks, agents), as the agents signed it
    np.testing.assert_allclose(rows[:, 8:], stored_ci, rtol=1e-6)
    np.testing.assert_allclose(rows[:, 6], stored_ci.mean(axis=1), rtol=1e-6)
    assert np.all(np.diff(rows[:, 1]) >= 0)
    cs = np.array(swarm.coordinator.cs_history)  # NaN until the window fills; not stored
    assert len(cs) == 12 and np.isfinite(cs).any()
    np.testing.assert_allclose(rows[:, 7], cs, rtol=1e-9)  # NaN where NaN
    db.close()


def test_a_swarm_replay_groups_values_by_tick_not_by_timestamp(tmp_path) -> None:
    require("resonance_engine.swarm")
    from resonance_engine.swarm.signature import Signature
    from resonance_engine.swarm.storage import AgentDBRecorder

    db = store.AgentDB(tmp_path / "swarm.db")
    recorder = AgentDBRecorder(db, {"agents": 2}, seed=0)
    base = db.run(recorder.run_id).started_at
    # agent 1 (another process) is late: its tick-0 signature is stamped after agent 0's
    # tick-1 one, so the wall-clock order of the values is not their tick order
    stamped = [(0, 0, 10), (0, 1, 20), (1, 0, 30), (1, 1, 40)]
    for agent, tick, offset in stamped:
        ci = 1.0 + 10 * agent + tick  # agent 0: 1, 2; agent 1: 11, 12
        recorder.record_signatures(
            [Signature(agent, tick, 1.5, 0.5, 0.2, 1.0, ci, timestamp_us=base + offset)]
        )
    recorder.record_sync(0, base + 35, 0.25, 0.0)
    recorder.record_sync(1, base + 45, 0.75, 0.0)
    recorder.close()
    rows = np.array(ReplayRunner.from_db(db, recorder.run_id).rows)
    assert rows[:, 0].tolist() == [0, 1]
    assert rows[:, 8:].tolist() == [[1.0, 11.0], [2.0, 12.0]]  # CI per agent, by tick
    assert rows[:, 6].tolist() == [6.0, 7.0] and rows[:, 7].tolist() == [0.25, 0.75]
    points = db.range(db.series(run_id=recorder.run_id, series_type="ci")[0].series_id)
    assert [json.loads(p.metadata)["step"] for p in points] == [0, 1]
    db.close()
