"""Schema version 2: the trajectory table of learning MPC and the optimisation tables."""

from __future__ import annotations

import math

import numpy as np
import pytest

from resonance_engine.errors import StoreError
from resonance_engine.store import AgentDB, EvaluationRecord
from resonance_engine.store.connection import open_connection
from resonance_engine.store.schema import APPLICATION_ID, SCHEMA_V1, SCHEMA_VERSION


def test_a_version_1_file_is_migrated_and_keeps_its_runs(tmp_path):
    path = tmp_path / "v1.db"
    conn = open_connection(str(path))  # sqlite-vec loaded, as version 1 files were written
    conn.execute(SCHEMA_V1)
    conn.execute("INSERT INTO runs(started_at, config, package_version) VALUES (1, '{}', 'x')")
    conn.execute(f"PRAGMA application_id={APPLICATION_ID}; PRAGMA user_version=1")
    conn.close()
    with AgentDB(path) as db:
        assert db.conn.execute("PRAGMA user_version").fetchall()[0][0] == SCHEMA_VERSION == 3
        assert len(db.runs()) == 1
        assert db.add_trajectory("s", np.zeros((2, 1)), np.zeros((1, 1)), [0.0, 0.0]) == 0


def test_trajectories_round_trip_and_number_episodes(tmp_path, rng):
    path = tmp_path / "t.db"
    x, u = rng.normal(size=(6, 3)), rng.normal(size=(5, 2))
    cost = np.arange(6.0)[::-1]
    with AgentDB(path) as db:
        assert db.add_trajectory("lmpc", x, u, cost) == 0
        assert db.add_trajectory("lmpc", x[:3], u[:2], cost[:3]) == 1
        assert db.add_trajectory("other", x, u, cost) == 0
    with AgentDB(path) as second:  # another connection, as another process would open it
        stored = second.trajectories("lmpc")
        assert [t.episode for t in stored] == [0, 1]
        np.testing.assert_array_equal(stored[0].x, x)
        np.testing.assert_array_equal(stored[0].u, u)
        np.testing.assert_array_equal(stored[0].cost_to_go, cost)
        assert [t.episode for t in second.trajectories("lmpc", last=1)] == [1]
        assert second.safe_sets() == {"lmpc": 2, "other": 1}


def test_bad_trajectories_are_refused():
    db = AgentDB(":memory:")
    with pytest.raises(StoreError, match=r"needs x \(T \+ 1, n\)"):
        db.add_trajectory("s", np.zeros((3, 1)), np.zeros((3, 1)), np.zeros(3))
    with pytest.raises(StoreError, match="finite"):
        db.add_trajectory("s", np.full((2, 1), np.nan), np.zeros((1, 1)), np.zeros(2))
    assert db.safe_sets() == {}


def test_optimisation_rows_round_trip():
    db = AgentDB(":memory:")
    opt = db.create_optimization({"objective": "rosenbrock", "x0": [0, 0]}, seed=3, name="r")
    recs = [EvaluationRecord(i, i // 2, 0, (0.1 * i, 1.0), float(i), (7, 8)) for i in range(4)]
    db.add_evaluations(opt, recs[:2])
    db.add_evaluations(opt, recs[2:] + [EvaluationRecord(4, 2, 1, (0.0, 0.0), math.inf)])
    got = db.evaluations(opt)
    assert list(got[:4]) == recs
    assert got[4].value == math.inf and got[4].seeds == ()
    with pytest.raises(StoreError, match="cannot store evaluations"):
        db.add_evaluations(opt, recs[:1])  # evaluation 0 exists
    with pytest.raises(StoreError, match="NaN"):
        db.add_evaluations(opt, [EvaluationRecord(9, 0, 0, (0.0,), math.nan)])
    db.finish_optimization(opt, "finished", 0.0, (0.0, 1.0))
    info = db.optimization(opt)
    assert (info.status, info.best_value, info.best_params, info.seed) == (
        "finished", 0.0, [0.0, 1.0], 3)
    assert info.config["objective"] == "rosenbrock"
    assert [o.optimization_id for o in db.optimizations()] == [opt]
    with pytest.raises(StoreError, match="no optimisation 99"):
        db.optimization(99)
