"""MetricWriter: batching, threads, background flush, backpressure, failures."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import apsw
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resonance_engine.errors import RejectedRecordsError, StoreError
from resonance_engine.store import AgentDB, MetricRecord, MetricWriter, VectorRecord
from resonance_engine.store.batch import validate_records


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
    # the buffer did not grow without bound: two batches, each with at most one stage
    # of this producer's on top of max_buffer_size, and the stage it is filling
    assert writer.pending <= 2 * (100 + writer.stage_size) + writer.stage_size
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


def test_a_writer_installs_no_signal_handler(db: AgentDB) -> None:
    """The library used to install a SIGTERM handler, which stayed installed when the
    last writer was closed from another thread."""
    import signal

    sid = db.series_id(db.create_run({}, 0), "ci")
    before = signal.getsignal(signal.SIGTERM)
    writer = MetricWriter(db)
    assert signal.getsignal(signal.SIGTERM) is before
    writer.add(MetricRecord(sid, 0, 1.0))
    closer = threading.Thread(target=writer.close)
    closer.start()
    closer.join()
    assert signal.getsignal(signal.SIGTERM) is before
    assert db.count(sid) == 1


def _in_thread(target) -> BaseException | None:  # type: ignore[no-untyped-def]
    """Run ``target`` in a new thread; return what it raised."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as exc:  # noqa: BLE001
            raised.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return raised[0] if raised else None


def test_rejections_go_to_the_producer_whose_records_failed(db: AgentDB) -> None:
    """Producer B used to get producer A's RejectedRecordsError from its own add(), and
    B's record was dropped."""
    sid = db.series_id(db.create_run({}, 0), "ci")
    db.insert([MetricRecord(sid, 0, 1.0)])
    dup = MetricRecord(sid, 0, 9.0)  # the key (sid, 0) is stored already
    writer = MetricWriter(db, flush_interval=0.01)
    results: dict[str, BaseException | None] = {}

    class Producer(threading.Thread):
        def __init__(self) -> None:
            super().__init__()
            self.todo: list = []  # callables, run one by one in this thread
            self.ready = threading.Event()
            self.done = threading.Event()
            self.raised: BaseException | None = None

        def run(self) -> None:
            while True:
                self.ready.wait()
                self.ready.clear()
                job = self.todo.pop()
                if job is None:
                    return
                try:
                    job()
                    self.raised = None
                except BaseException as exc:  # noqa: BLE001
                    self.raised = exc
                self.done.set()

        def do(self, job) -> BaseException | None:  # type: ignore[no-untyped-def]
            self.done.clear()
            self.todo.append(job)
            self.ready.set()
            self.done.wait(30)
            return self.raised

        def stop(self) -> None:
            self.todo.append(None)
            self.ready.set()
            self.join()

    a, b = Producer(), Producer()
    a.start()
    b.start()
    try:
        assert a.do(lambda: writer.add(dup)) is None
        writer.flush()  # written: the duplicate is rejected; the main thread added nothing
        results["b"] = b.do(lambda: writer.add(MetricRecord(sid, 1, 2.0)))
        results["b flush"] = b.do(writer.flush)
        results["a"] = a.do(lambda: writer.add(MetricRecord(sid, 2, 3.0)))
    finally:
        a.stop()
        b.stop()
    assert results["b"] is None and results["b flush"] is None
    assert isinstance(results["a"], RejectedRecordsError)
    assert results["a"].records == [dup]
    writer.close()
    # everything accepted is stored, B's and A's later record included; the first value won
    assert _stored(db, sid) == {(0, 1.0), (1, 2.0), (2, 3.0)}


def test_rejections_nobody_collected_are_raised_by_close(db: AgentDB) -> None:
    sid = db.series_id(db.create_run({}, 0), "ci")
    writer = MetricWriter(db, flush_interval=0.01)
    dups = [MetricRecord(sid, 5, 1.0), MetricRecord(sid, 5, 2.0)]
    assert _in_thread(lambda: writer.add_many(dups)) is None  # that thread is gone now
    writer.flush()
    writer.add(MetricRecord(sid, 6, 1.0))  # the main thread's own records are fine
    with pytest.raises(RejectedRecordsError, match="not collected") as info:
        writer.close()
    assert info.value.records == [dups[1]]
    assert _stored(db, sid) == {(5, 1.0), (6, 1.0)}


def test_a_blocked_producer_hears_of_a_lasting_failure(db_path: Path) -> None:
    """A producer waiting for room while every write fails gets the failure instead of
    blocking forever; every record it was told is buffered reaches the database."""
    db = AgentDB(db_path, busy_timeout_ms=20)
    sid = db.series_id(db.create_run({}, 0), "ci")
    writer = MetricWriter(db, max_buffer_size=10, flush_interval=0.02)
    blocker = _hold_write_lock(db_path)
    accepted = 0
    try:
        with pytest.raises(StoreError, match="0 are buffered"):
            for t in range(1000):
                writer.add(MetricRecord(sid, t, 1.0))
                accepted += 1
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert 10 <= accepted < 1000
    writer.close()
    assert _stored(db, sid) == {(t, 1.0) for t in range(accepted)}
    db.close()


@pytest.mark.parametrize(
    "record",
    [
        MetricRecord(1, 2, float("nan")),
        MetricRecord(1, 2.0, 1.0),  # type: ignore[arg-type]
        MetricRecord(1.0, 2, 1.0),  # type: ignore[arg-type]
        MetricRecord(True, 2, 1.0),
        MetricRecord(1, 2, "1.0"),  # type: ignore[arg-type]
        MetricRecord(1, 2, 1.0, {"step": 1}),  # type: ignore[arg-type]
        (1, 2, 1.0),
    ],
)
def test_add_validates_what_its_fast_path_does_not_take(db: AgentDB, record: Any) -> None:
    db.series_id(db.create_run({}, 0), "ci")
    with MetricWriter(db) as writer:
        with pytest.raises(StoreError):
            writer.add(record)
        assert writer.pending == 0
        writer.add(MetricRecord(1, 3, 2))  # an int value is a number: taken
    assert db.count(1) == 1


@pytest.mark.parametrize(
    "record",
    [
        MetricRecord(1, 2, float("nan")),
        MetricRecord(1, 2.0, 1.0),  # type: ignore[arg-type]
        MetricRecord(True, 2, 1.0),
        MetricRecord(1, 2, "1.0"),  # type: ignore[arg-type]
        MetricRecord(1, 2, 1.0, {"step": 1}),  # type: ignore[arg-type]
        (1, 2, 1.0),
    ],
)
def test_add_many_finds_a_bad_record_behind_good_ones_and_adds_nothing(
    db: AgentDB, record: Any
) -> None:
    db.series_id(db.create_run({}, 0), "ci")
    good = [MetricRecord(1, t, 1.0) for t in range(10, 15)]
    with MetricWriter(db) as writer:
        with pytest.raises(StoreError, match="record #5"):
            writer.add_many([*good, record, MetricRecord(1, 20, 1.0)])
        assert writer.pending == 0
        # numbers that are ints and JSON metadata are taken (by the full checks)
        writer.add_many([*good, MetricRecord(1, 3, 2), MetricRecord(1, 4, 1.0, "{}")])
    assert db.count(1) == 7


_FIELD_VALUES = (1, 2, 0, -1, 2.0, 0.5, float("nan"), float("inf"), float("-inf"), True,
                 None, "{}", "1.0", np.float64(1.0), np.float32(1.0))
_ANY_FIELDS = st.tuples(*[st.sampled_from(_FIELD_VALUES)] * 4)
# the fast path's case: the value alone varies (NaN, infinities of both signs)
_COMMON_FIELDS = st.tuples(st.just(1), st.just(2), st.sampled_from(_FIELD_VALUES[4:9]),
                           st.none())


@settings(max_examples=300, deadline=None)
@given(st.lists(_COMMON_FIELDS | _ANY_FIELDS, max_size=6))
def test_validate_records_takes_exactly_what_the_rules_allow(fields: list[tuple]) -> None:
    """The C-looped fast path and the per-record checks give the documented verdict:
    int series and timestamps, a float/int value that is not NaN (a NaN sum from
    infinities of both signs is fine), str/None metadata."""
    records = [MetricRecord(*f) for f in fields]

    def allowed(r: MetricRecord) -> bool:
        return (type(r[0]) is int and type(r[1]) is int
                and isinstance(r[2], float | int) and r[2] == r[2]
                and (r[3] is None or type(r[3]) is str))

    verdicts = [allowed(r) for r in records]
    if all(verdicts):
        validate_records(records)
    else:
        with pytest.raises(StoreError, match=f"record #{verdicts.index(False)}"):
            validate_records(records)


def _checkpointed(db_path: Path, copy: Path, sid: int) -> int:
    """Records of ``sid`` in the database file itself (a copy without the log)."""
    shutil.copyfile(db_path, copy)
    with AgentDB(copy) as file_only:
        return file_only.count(sid)


def test_the_writer_checkpoints_rarely_and_when_it_closes(
    db_path: Path, db: AgentDB, tmp_path: Path
) -> None:
    """The writer lets the log grow to WAL_CHECKPOINT_PAGES between checkpoints (with
    SQLite's 1000, the first commits below would have been copied into the file), and
    close() copies what it left."""
    sid = db.series_id(db.create_run({}, 0), "ci")
    db.checkpoint()  # the schema and the series are in the file
    copy = tmp_path / "file-only.db"
    with MetricWriter(db, max_buffer_size=5000) as writer:
        writer.add_many([MetricRecord(sid, t, 0.5) for t in range(250_000)])
        writer.flush()
        assert Path(f"{db_path}-wal").stat().st_size > 1000 * 4096
        assert _checkpointed(db_path, copy, sid) == 0
    assert _checkpointed(db_path, copy, sid) == 250_000


def test_staged_records_count_as_pending_and_any_thread_flushes_them(db: AgentDB) -> None:
    """add() stages a thread's records without the shared lock; they are pending, and a
    flush() from another thread writes them (every stage is collected)."""
    sid = db.series_id(db.create_run({}, 0), "ci")
    writer = MetricWriter(db, flush_interval=30.0)
    assert writer.stage_size == 256
    assert _in_thread(lambda: [writer.add(MetricRecord(sid, t, 1.0)) for t in range(5)]) is None
    assert writer.pending == 5 and db.count(sid) == 0  # staged: not in the buffer yet
    writer.flush()  # the main thread added nothing itself
    assert writer.pending == 0 and db.count(sid) == 5
    writer.close()


def test_staged_records_are_written_by_the_interval_and_by_close(
    db_path: Path, db: AgentDB
) -> None:
    sid = db.series_id(db.create_run({}, 0), "ci")
    reader = AgentDB(db_path, readonly=True)
    writer = MetricWriter(db, flush_interval=0.05)
    assert _in_thread(lambda: [writer.add(MetricRecord(sid, t, 1.0)) for t in range(3)]) is None
    deadline = time.monotonic() + 10
    while reader.count(sid) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert reader.count(sid) == 3  # the writer collected the stage of a thread that ended
    slow = MetricWriter(db, flush_interval=30.0)
    assert _in_thread(lambda: slow.add(MetricRecord(sid, 3, 1.0))) is None
    slow.close()  # long before the interval
    assert reader.count(sid) == 4
    writer.close()
    reader.close()


def test_a_thread_s_staged_records_go_before_its_add_many(db: AgentDB) -> None:
    """The first value of a key wins: add(first) then add_many([second]) from one thread
    stores the first (the stage is handed over before the add_many records)."""
    sid = db.series_id(db.create_run({}, 0), "ci")
    writer = MetricWriter(db, flush_interval=30.0)
    writer.add(MetricRecord(sid, 0, 1.0))
    writer.add_many([MetricRecord(sid, 0, 2.0), MetricRecord(sid, 1, 2.0)])
    with pytest.raises(RejectedRecordsError) as info:
        writer.flush()
    assert info.value.records == [MetricRecord(sid, 0, 2.0)]
    writer.close()
    assert _stored(db, sid) == {(0, 1.0), (1, 2.0)}


@pytest.mark.parametrize("stage_size", [0, -1, 2.5])
def test_a_bad_stage_size_is_refused(db: AgentDB, stage_size: Any) -> None:
    with pytest.raises(StoreError, match=f"stage_size must be an int >= 1, got {stage_size}"):
        MetricWriter(db, stage_size=stage_size)
