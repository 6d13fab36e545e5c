"""AgentDB: opening, schema versioning, bad files, runs, series, values, alerts."""

from __future__ import annotations

import sys
from pathlib import Path

import apsw
import numpy as np
import pytest

from resonance_engine.errors import RejectedRecordsError, StoreError
from resonance_engine.store import (
    SCHEMA_VERSION,
    AgentDB,
    MetricRecord,
    MetricWriter,
    VectorRecord,
)
from resonance_engine.store.schema import APPLICATION_ID


def test_new_file_has_schema_version_and_pragmas(db: AgentDB, db_path: Path) -> None:
    conn = db.conn
    assert conn.execute("PRAGMA user_version").fetchall()[0][0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA application_id").fetchall()[0][0] == APPLICATION_ID
    assert conn.execute("PRAGMA journal_mode").fetchall()[0][0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchall()[0][0] == 1  # NORMAL
    assert conn.execute("PRAGMA busy_timeout").fetchall()[0][0] > 0
    assert conn.execute("PRAGMA cache_size").fetchall()[0][0] < -1000  # KiB, > 1 MiB
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema").fetchall()}
    assert {
        "runs",
        "metric_series",
        "timeseries_data",
        "metric_vectors",
        "metric_vector_links",
        "alerts",
    } <= tables
    sql = conn.execute("SELECT sql FROM sqlite_schema WHERE name = 'timeseries_data'").fetchall()[
        0
    ][0]
    assert "WITHOUT ROWID" in sql.upper()


def test_reopen_keeps_data(db_path: Path) -> None:
    with AgentDB(db_path) as db:
        run = db.create_run({"a": 1}, seed=3)
        sid = db.series_id(run, "ci")
        db.insert([MetricRecord(sid, 10, 1.5)])
    with AgentDB(db_path) as db:
        assert db.run(run).config == {"a": 1}
        assert db.latest(sid) == (10, 1.5, None)


def test_newer_schema_is_refused(db_path: Path) -> None:
    AgentDB(db_path).close()
    conn = apsw.Connection(str(db_path))
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        AgentDB(db_path)


def test_not_a_database_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"this is not an sqlite file at all\n" * 200)
    with pytest.raises(StoreError, match="not an SQLite database"):
        AgentDB(path)
    assert path.read_bytes().startswith(b"this is not")  # left untouched


def test_database_of_another_application(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = apsw.Connection(str(path))
    conn.execute("CREATE TABLE customers(id INTEGER PRIMARY KEY)")
    conn.close()
    with pytest.raises(StoreError, match="another application"):
        AgentDB(path)


@pytest.mark.parametrize("readonly", [False, True])
def test_a_foreign_database_stays_byte_identical(tmp_path: Path, readonly: bool) -> None:
    """The refusal came after the switch to WAL: the file was changed (journal mode in
    its header, -wal/-shm files) before it was refused."""
    import sqlite3

    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:  # another application's file, rollback journal
        conn.execute("CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT)")
        conn.executemany("INSERT INTO customers(name) VALUES (?)", [("a",), ("b",)])
    conn.close()
    before = path.read_bytes()
    for _ in range(2):
        with pytest.raises(StoreError, match="another application.*left untouched"):
            AgentDB(path, readonly=readonly)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()


def test_unwritable_locations(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        AgentDB(tmp_path / "missing-folder" / "x.db")
    with pytest.raises(StoreError, match="cannot open"):
        AgentDB("/proc/resonance-agent.db")  # read-only file system, even for root


def test_readonly_open_refuses_writes(db_path: Path) -> None:
    with AgentDB(db_path) as db:
        db.create_run({}, seed=0)
    with AgentDB(db_path, readonly=True) as ro:
        assert len(ro.runs()) == 1
        with pytest.raises(StoreError, match="read-only"):
            ro.create_run({}, seed=1)
        with pytest.raises(StoreError, match="readonly"):
            MetricWriter(ro)
    with pytest.raises(StoreError, match="does not exist"):
        AgentDB(db_path.with_name("nothing.db"), readonly=True)


def test_missing_sqlite_vec_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sqlite_vec", None)
    with pytest.raises(StoreError, match="sqlite-vec"):
        AgentDB(":memory:")


def test_runs_lifecycle(db: AgentDB) -> None:
    a = db.create_run({"steps": 5}, seed=1, name="first")
    b = db.create_run(None, seed=None)
    assert [r.run_id for r in db.runs()] == [b, a]
    info = db.run(a)
    assert (info.name, info.seed, info.status, info.config) == ("first", 1, "running", {"steps": 5})
    db.finish_run(a, "interrupted", {"steps_done": 3})
    info = db.run(a)
    assert info.status == "interrupted" and info.summary == {"steps_done": 3}
    assert info.finished_at is not None and info.finished_at >= info.started_at
    with pytest.raises(StoreError, match="no run 999"):
        db.run(999)
    sid = db.series_id(a, "ci")
    db.insert([MetricRecord(sid, 1, 1.0)], [VectorRecord(sid, 0, np.ones(128, np.float32), 1.0)])
    db.add_alert(a, 5, "cs_low", "sync lost", 0.4)
    db.delete_run(a)
    assert [r.run_id for r in db.runs()] == [b]
    assert db.count() == 0 and db.series(run_id=a) == [] and db.alerts() == []
    assert db.conn.execute("SELECT count(*) FROM metric_vectors").fetchall()[0][0] == 0


def test_series_get_or_create(db: AgentDB) -> None:
    run = db.create_run({}, seed=0)
    ci = db.series_id(run, "ci")
    assert db.series_id(run, "ci") == ci
    agent = db.series_id(run, "ci", agent_id="a1")
    free = db.series_id(None, "cs")
    assert len({ci, agent, free}) == 3
    assert db.series_id(None, "cs") == free
    assert [s.series_id for s in db.series(run_id=run)] == [ci, agent]
    assert [s.series_id for s in db.series(agent_id="a1")] == [agent]
    assert db.series(series_type="cs")[0].run_id is None
    with pytest.raises(StoreError, match="type 'ci'"):
        db.series_id(run, "gain", name="ci")
    with pytest.raises(StoreError, match="series_type"):
        db.series_id(run, "bad name; drop table")
    with pytest.raises(StoreError, match="no run"):
        db.series_id(run + 100, "ci")


def test_range_latest_and_out_of_order_timestamps(db: AgentDB) -> None:
    sid = db.series_id(db.create_run({}, 0), "gain")
    rng = np.random.default_rng(1)
    stamps = rng.permutation(200) * 1000 - 50_000
    values = rng.normal(size=200)
    db.insert([MetricRecord(sid, int(t), float(v)) for t, v in zip(stamps, values, strict=True)])
    order = np.argsort(stamps)
    got = db.range(sid)
    assert [p.timestamp for p in got] == stamps[order].tolist()
    np.testing.assert_array_equal(got.column("value"), values[order])
    window = db.range(sid, t0=-10_000, t1=20_000)
    expected = np.sort(stamps[(stamps >= -10_000) & (stamps <= 20_000)])
    assert [p.timestamp for p in window] == expected.tolist()
    assert len(db.range(sid, limit=7)) == 7
    t, v = db.range_arrays(sid, t0=0)
    assert t.dtype == np.int64 and t.tolist() == np.sort(stamps[stamps >= 0]).tolist()
    assert db.latest(sid).value == values[np.argmax(stamps)]
    assert db.latest(db.series_id(None, "ci")) is None


def test_aggregate_matches_numpy(db: AgentDB) -> None:
    sid = db.series_id(db.create_run({}, 0), "ci")
    rng = np.random.default_rng(2)
    stamps = np.unique(rng.integers(-5_000_000, 5_000_000, 3000))
    values = rng.normal(size=stamps.size)
    db.insert([MetricRecord(sid, int(t), float(v)) for t, v in zip(stamps, values, strict=True)])
    width = 700_000
    rows = db.aggregate(sid, width, t0=-4_000_000)
    keep = stamps >= -4_000_000
    buckets = (stamps[keep] // width) * width
    for row in rows:
        sel = values[keep][buckets == row.bucket]
        assert row.n == sel.size
        assert row.min == sel.min() and row.max == sel.max()
        assert row.mean == pytest.approx(sel.mean(), rel=1e-12, abs=1e-12)
    assert [r.bucket for r in rows] == np.unique(buckets).tolist()
    with pytest.raises(StoreError):
        db.aggregate(sid, 0)


def test_bad_records_are_refused_before_storing(db: AgentDB) -> None:
    sid = db.series_id(db.create_run({}, 0), "ci")
    with pytest.raises(StoreError, match="NaN"):
        db.insert([MetricRecord(sid, 1, 1.0), MetricRecord(sid, 2, float("nan"))])
    with pytest.raises(StoreError, match="ints"):
        db.insert([MetricRecord(sid, 1.5, 1.0)])  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="MetricRecord"):
        db.insert([(sid, 1)])  # type: ignore[list-item]
    assert db.count() == 0
    db.insert([MetricRecord(sid, 3, float("inf"))])
    assert db.latest(sid).value == float("inf")


@pytest.mark.parametrize(
    ("embedding", "match"),
    [
        (np.ones(127, np.float32), "shape"),
        (np.r_[np.ones(127), np.nan], "non-finite"),
        (np.r_[np.ones(127), np.inf], "non-finite"),
        (np.zeros(128), "all zeros"),
    ],
)
def test_bad_vectors_are_refused(db: AgentDB, embedding: np.ndarray, match: str) -> None:
    sid = db.series_id(db.create_run({}, 0), "ci")
    with pytest.raises(StoreError, match=match):
        db.insert([], [VectorRecord(sid, 0, embedding, 1.0)])
    with pytest.raises(StoreError, match=match):
        db.similar(embedding)


def test_duplicates_keep_the_first_value_and_hand_back_the_rest(db: AgentDB) -> None:
    sid = db.series_id(db.create_run({}, 0), "ci")
    db.insert([MetricRecord(sid, 1, 1.0)])
    batch = [MetricRecord(sid, 1, 9.0), MetricRecord(sid, 2, 2.0), MetricRecord(sid, 2, 8.0)]
    with pytest.raises(RejectedRecordsError, match="duplicate") as info:
        db.insert(batch)
    assert info.value.records == [batch[0], batch[2]]
    assert [(p.timestamp, p.value) for p in db.range(sid)] == [(1, 1.0), (2, 2.0)]
    vec = np.ones(128, np.float32)
    db.insert([], [VectorRecord(sid, 0, vec, 1.0)])
    with pytest.raises(RejectedRecordsError) as info:
        db.insert([MetricRecord(sid, 3, 3.0)], [VectorRecord(sid, 0, -vec, 2.0)])
    assert len(info.value.records) == 1 and db.count(sid) == 3
    np.testing.assert_array_equal(db.vector(sid, 0), vec)


def test_unknown_series_is_rejected(db: AgentDB) -> None:
    sid = db.series_id(db.create_run({}, 0), "ci")
    good, bad = MetricRecord(sid, 1, 1.0), MetricRecord(sid + 50, 1, 1.0)
    with pytest.raises(RejectedRecordsError, match="unknown series_id") as info:
        db.insert([good, bad])
    assert info.value.records == [bad]
    assert db.count() == 1


def test_alerts(db: AgentDB) -> None:
    run = db.create_run({}, 0)
    db.add_alert(run, 300, "cs_low", "CS 0.61 < 0.7", 0.61, agent_id="a2")
    db.add_alert(run, 100, "basin_unstable", "BS 0.4 < 0.5", 0.4)
    db.add_alert(None, 200, "cs_low", "global")
    assert [a.timestamp for a in db.alerts(run_id=run)] == [100, 300]
    assert [a.message for a in db.alerts(kind="cs_low")] == ["global", "CS 0.61 < 0.7"]
    assert [a.timestamp for a in db.alerts(t0=150, t1=250)] == [200]
    assert db.alerts(run_id=run)[1].agent_id == "a2"
    with pytest.raises(StoreError):
        db.add_alert(run, 1.5, "x", "y")  # type: ignore[arg-type]


def test_memory_database_is_shared_with_its_writer() -> None:
    with AgentDB(":memory:") as db:
        sid = db.series_id(db.create_run({}, 0), "ci")
        with MetricWriter(db) as writer:
            writer.add_many([MetricRecord(sid, t, 1.0) for t in range(100)])
        assert db.count(sid) == 100
    with AgentDB(":memory:") as other:
        assert other.count() == 0


def test_to_dataframe(db: AgentDB, pandas) -> None:  # type: ignore[no-untyped-def]
    sid = db.series_id(db.create_run({}, 0), "ci")
    db.insert([MetricRecord(sid, t, t / 2) for t in range(5)])
    frame = db.range(sid).to_dataframe()
    assert list(frame.columns) == ["timestamp", "value", "metadata"]
    assert frame["value"].tolist() == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert len(db.runs().to_dataframe()) == 1
