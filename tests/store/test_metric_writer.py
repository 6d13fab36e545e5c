"""MetricWriter: batching, threads, background flush, backpressure, failures."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import apsw
import numpy as np
import pytest

from resonance_engine.errors import RejectedRecordsError, StoreError
from resonance_engine.store import AgentDB, MetricRecord, MetricWriter, VectorRecord


def _stored(db: AgentDB, sid: int) -> set[tuple[int, float]]:
    return {(p.timestamp, p.value) for p in db.range(sid)}


def test_add_and_flush(db: AgentDB) -> None:
    sid = db.series_id(db.create_run({}, 0), "ci")
    with MetricWriter(db, max_buffer_size=64, flush_interval=10.0) as writer:
        for t in range(1000):
            writer.add(MetricRecord(sid, t, t * 0.25))
        writer.flush()
        assert writer.pending == 0
        assert db.count(sid) == 1000
        assert writer.batches_written >= 1000 // 64
    assert _stored(db, sid) == {(t, t * 0.25) for t in range(1000)}


def test_many_producer_threads_lose_nothing(db: AgentDB) -> None:
    run = db.create_run({}, 0)
    sids = [db.series_id(run, "ci", agent_id=f"a{i}") for i in range(4)]
    errors: list[BaseException] = []

    def produce(sid: int) -> None:
        try:
            for start in range(0, 20_000, 500):
                writer.add_many([MetricRecord(sid, t, float(t)) for t in range(start, start + 500)])
            for t in range(20_000, 20_100):
                writer.add(MetricRecord(sid, t, float(t)))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    with MetricWriter(db, max_buffer_size=2000, flush_interval=0.01) as writer:
        threads = [threading.Thread(target=produce, args=(s,)) for s in sids]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    assert errors == []
    for sid in sids:
        assert _stored(db, sid) == {(t, float(t)) for t in range(20_100)}


def test_background_flush_without_new_records(db_path: Path, db: AgentDB) -> None:
    sid = db.series_id(db.create_run({}, 0), "ci")
    reader = AgentDB(db_path, readonly=True)
    with MetricWriter(db, max_buffer_size=10_000, flush_interval=0.05) as writer:
        writer.add_many([MetricRecord(sid, t, 1.0) for t in range(10)])
        deadline = time.monotonic() + 10
        while reader.count(sid) < 10 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert reader.count(sid) == 10  # written by the interval, no flush() call
        assert writer.pending == 0
    reader.close()


def _hold_write_lock(path: Path) -> apsw.Connection:
    blocker = apsw.Connection(str(path))
    blocker.execute("BEGIN IMMEDIATE")
    return blocker


def test_add_blocks_when_the_database_is_slower(db_path: Path, db: AgentDB) -> None:
    sid = db.series_id(db.create_run({}, 0), "ci")
    writer = MetricWriter(db, max_buffer_size=100, flush_interval=0.01)
    blocker = _hold_write_lock(db_path)
    done = threading.Event()

    def produce() -> None:
        for t in range(1000):
            writer.add(MetricRecord(sid, t, 1.0))
        done.set()

    producer = threading.Thread(target=produce)
    producer.start()
    time.sleep(0.5)
    assert not done.is_set()  # blocked: the writer cannot commit
    assert writer.pending <= 2 * 100  # the buffer did not grow without bound
    blocker.execute("COMMIT")
    blocker.close()
    producer.join(timeout=30)
    assert done.is_set()
    writer.close()
    assert db.count(sid) == 1000


def test_failing_flush_raises_and_keeps_records(db_path: Path) -> None:
    db = AgentDB(db_path, busy_timeout_ms=50)
    sid = db.series_id(db.create_run({}, 0), "ci")
    writer = MetricWriter(db, max_buffer_size=1000, flush_interval=0.02)
    blocker = _hold_write_lock(db_path)
    writer.add_many([MetricRecord(sid, t, 2.0) for t in range(300)])
    with pytest.raises(StoreError, match="stay buffered"):
        writer.flush()
    assert writer.pending == 300
    blocker.execute("ROLLBACK")
    blocker.close()
    writer.flush()
    writer.close()
    assert db.count(sid) == 300
    db.close()


def test_rejected_records_come_back_through_flush(db: AgentDB) -> None:
    sid = db.series_id(db.create_run({}, 0), "ci")
    dup = MetricRecord(sid, 5, 7.0)
    with MetricWriter(db, flush_interval=10.0) as writer:
        writer.add_many([MetricRecord(sid, t, 1.0) for t in range(10)])
        writer.add(dup)
        writer.add(MetricRecord(sid + 99, 0, 1.0))
        with pytest.raises(RejectedRecordsError) as info:
            writer.flush()
        assert dup in info.value.records and len(info.value.records) == 2
        writer.add(MetricRecord(sid, 10, 1.0))
        writer.flush()  # the writer goes on after a rejection
    assert db.count(sid) == 11
    assert db.range(sid, 5, 5)[0].value == 1.0


def test_vectors_through_the_writer(db: AgentDB) -> None:
    sid = db.series_id(db.create_run({}, 0), "ci")
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(20, 128)).astype(np.float32)
    with MetricWriter(db) as writer:
        for i, v in enumerate(vecs):
            writer.add_vector(VectorRecord(sid, i * 1000, v, float(i)))
        with pytest.raises(StoreError, match="shape"):
            writer.add_vector(VectorRecord(sid, 0, v[:10], 0.0))
    buckets, stored = db.vectors(sid)
    assert buckets.tolist() == [i * 1000 for i in range(20)]
    np.testing.assert_array_equal(stored, vecs)


def test_validation_and_closed_writer(db: AgentDB) -> None:
    sid = db.series_id(db.create_run({}, 0), "ci")
    writer = MetricWriter(db)
    with pytest.raises(StoreError, match="NaN"):
        writer.add_many([MetricRecord(sid, 1, 1.0), MetricRecord(sid, 2, float("nan"))])
    assert writer.pending == 0
    writer.close()
    writer.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        writer.add(MetricRecord(sid, 3, 1.0))
    with pytest.raises(StoreError):
        MetricWriter(db, max_buffer_size=0)
