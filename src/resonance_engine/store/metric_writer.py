"""MetricWriter: buffered, batched, thread-safe writes into an AgentDB.

Producers (any number of threads) call :meth:`MetricWriter.add` / ``add_many`` /
``add_vector``; one writer thread per database drains the buffer in one transaction per
batch (prepared INSERT statements of :data:`~resonance_engine.store.batch.ROWS_PER_INSERT`
records each), when the buffer reaches ``max_buffer_size`` or ``flush_interval`` seconds
after the last flush (even when no new record arrives). While it writes, producers fill
the next buffer; when that one is full too, ``add`` blocks until the writer has caught up
(backpressure: memory stays bounded by about two batches, plus a stage per producer, and
nothing is dropped).

``add`` stages a thread's records in a short list of its own (at most ``stage_size``,
256 by default) and hands them to the buffer together, so that producer threads do not
take the shared lock once per record: with 4 producers, the lock passed between threads
that the interpreter lock had just switched cost more than the record itself. The writer
collects every stage each time it wakes, ``flush`` and ``close`` collect them too, a
staged record counts as ``pending``, and it waits no longer than ``flush_interval``.

Failures, and who hears of them:

- A batch that cannot be written (disk full, I/O error, lock held past the busy timeout)
  stays buffered and is retried every ``flush_interval``. ``flush`` raises the failure;
  a producer that has to wait for room in a full buffer while it lasts gets it too (the
  message says how many of its records were buffered). Nothing accepted is dropped.
- Duplicates and unknown series are not retried: the rest is written and the rejected
  records go back, as :class:`~resonance_engine.errors.RejectedRecordsError`, to the
  thread that added them, by its next ``add``/``add_many``/``add_vector``/``flush``;
  ``add`` buffers the record it was given first, so an error about earlier records never
  costs the new one. Rejections that no producer has collected are raised by ``close``.

Shutdown: :meth:`close` (or leaving the ``with`` block, also by Ctrl-C) writes everything
buffered. Writers still open at interpreter exit are closed by an ``atexit`` hook. The
library installs no signal handlers: an application that wants SIGTERM to flush too
turns it into an exception in its main thread (``resonance``'s CLI turns it into
KeyboardInterrupt), for example ``signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))``.
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from _thread import get_ident
from collections.abc import Iterable, Sequence
from typing import Any

import apsw

from resonance_engine.errors import RejectedRecordsError, StoreError
from resonance_engine.store.batch import BatchWriter, validate_records, validate_vector
from resonance_engine.store.connection import describe_error
from resonance_engine.store.db import AgentDB
from resonance_engine.store.records import MetricRecord, VectorRecord

__all__ = ["MetricWriter", "WAL_CHECKPOINT_PAGES"]

WAL_CHECKPOINT_PAGES = 10_000
"""Write-ahead-log pages (4 KiB each) after which a commit of the writer copies the log
into the database file (SQLite's ``wal_autocheckpoint`` on the writer's connection).
SQLite's default of 1000 pages made every other 50000-record batch pay a checkpoint and
its fsync, a tenth of the writer's time on this project's benchmark machine; the log now
grows to about 40 MB before it is copied, and :meth:`MetricWriter.close` copies what is
left."""

_OPEN_WRITERS: weakref.WeakSet[MetricWriter] = weakref.WeakSet()


def _close_open_writers() -> None:
    for writer in list(_OPEN_WRITERS):
        try:
            writer.close()
        except Exception:  # noqa: BLE001 - best effort at exit; errors were raised before
            pass


atexit.register(_close_open_writers)


class MetricWriter:
    """High-rate writer of metric values and fingerprints into one database.

    Parameters
    ----------
    db : AgentDB
        The database (the writer opens its own connection to it).
    max_buffer_size : int
        Records per batch; producers block when this many are waiting while the
        previous batch is being written. The default 50000 keeps commits rare (on this
        project's benchmark machine a commit of 50000 records took 3 ms, median, and a
        checkpoint with its fsync up to 100 ms: see :data:`WAL_CHECKPOINT_PAGES`) for
        about 10 MB of buffered records at most.
    flush_interval : float
        Longest time a record waits in the buffer (s).
    stage_size : int, optional
        Records ``add`` stages per thread before it takes the lock (default
        min(256, max_buffer_size // 16), at least 1).

    Examples
    --------
    >>> from resonance_engine.store import AgentDB, MetricRecord, MetricWriter
    >>> db = AgentDB(":memory:")
    >>> sid = db.series_id(db.create_run({}, seed=0), "ci")
    >>> with MetricWriter(db, max_buffer_size=1000) as w:
    ...     for t in range(5000):
    ...         w.add(MetricRecord(sid, t, 1.0))
    >>> db.count(sid)
    5000
    """

    def __init__(
        self,
        db: AgentDB,
        max_buffer_size: int = 50_000,
        flush_interval: float = 0.1,
        stage_size: int | None = None,
    ) -> None:
        if not isinstance(max_buffer_size, int) or max_buffer_size < 1:
            raise StoreError(f"max_buffer_size must be an int >= 1, got {max_buffer_size!r}")
        if not flush_interval > 0:
            raise StoreError(f"flush_interval must be > 0 s, got {flush_interval!r}")
        if stage_size is None:
            stage_size = min(256, max(1, max_buffer_size // 16))
        if not isinstance(stage_size, int) or stage_size < 1:
            raise StoreError(f"stage_size must be an int >= 1, got {stage_size!r}")
        if db.readonly:
            raise StoreError(f"cannot write to {db.path!r}: it was opened with readonly=True")
        self.db = db
        self.max_buffer_size = max_buffer_size
        self.flush_interval = float(flush_interval)
        self.stage_size = stage_size
        self._conn = db.connect()
        self._conn.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        self._batch = BatchWriter(self._conn)
        # one lock, three conditions: the writer waits for work, producers for room in
        # the buffer, flush() for commits (separate, so nobody wakes the wrong waiters)
        self._cond = threading.Lock()
        self._work = threading.Condition(self._cond)
        self._room = threading.Condition(self._cond)
        self._flushed = threading.Condition(self._cond)
        self._records: list[MetricRecord] = []
        self._vectors: list[VectorRecord] = []
        # the producer (thread ident) of each buffered record / vector, in the same order
        self._record_owners: list[int] = []
        self._vector_owners: list[int] = []
        # rejected items and the reasons, per producer, until that producer collects them
        self._rejected: dict[int, list[Any]] = {}
        self._reasons: dict[int, list[str]] = {}
        self._added = 0  # items (records + vectors) ever added
        self._done = 0  # items written or rejected
        self._writing = 0  # items in the batch being written
        self._flush_requested = False
        self._closing = False
        self._closed = False
        self._failure: BaseException | None = None  # of the last attempt; None once one works
        self._attempts = 0  # batch writes tried (a waiter raises a failure newer than itself)
        self._retry_at = 0.0
        self._oldest = 0.0  # time.monotonic() when the oldest buffered item was added
        # each producer's staged records (add): (thread, records, [time of the first])
        self._stages: list[tuple[threading.Thread, list[MetricRecord], list[float]]] = []
        self._local = threading.local()
        self.batches_written = 0
        self.records_written = 0
        self._thread = threading.Thread(
            target=self._run, name=f"MetricWriter({db.path})", daemon=True
        )
        self._thread.start()
        _OPEN_WRITERS.add(self)

    # ------------------------------------------------------------------ producers
    def __enter__(self) -> MetricWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pending(self) -> int:
        """Items added but not yet written (or rejected)."""
        with self._cond:
            return self._added - self._done + sum(len(stage[1]) for stage in self._stages)

    def _raise_rejected(self) -> None:
        """Raise the rejections of the calling thread's records, if any (under the lock)."""
        if not self._rejected:
            return
        owner = threading.get_ident()
        records = self._rejected.pop(owner, None)
        if records is not None:
            reasons = self._reasons.pop(owner)
            raise RejectedRecordsError(
                f"{len(records)} of the items this thread added were rejected: "
                + "; ".join(reasons),
                records,
            )

    def _check_open(self) -> None:
        if self._closing:
            raise StoreError("this MetricWriter is closed; create a new one")

    def _wait_for_room(self, accepted: int, given: int) -> None:
        """Block until the buffer has room; raise a lasting write failure meanwhile
        (saying how many of the call's ``given`` items are buffered: ``accepted``)."""
        attempts = self._attempts
        while len(self._records) + len(self._vectors) >= self.max_buffer_size:
            self._check_open()
            if self._failure is not None and self._attempts > attempts:
                raise StoreError(
                    f"{self._failure} (of the {given} items of this call, {accepted} are "
                    "buffered and will be written; the others were not added)"
                )
            if not self._flush_requested:
                self._flush_requested = True
                self._work.notify()
            self._room.wait(self.flush_interval)

    def _mark_oldest(self) -> None:
        if not self._records and not self._vectors:
            self._oldest = time.monotonic()

    def add(self, record: MetricRecord) -> None:
        """Buffer one record (blocks while the buffer is full). Thread-safe.

        Raises the rejections of this thread's earlier records (after buffering this one).
        """
        # the common case inline (a MetricRecord of ints and a float, nothing rejected):
        # one call per record costs less than the INSERT it buffers
        if not (type(record) is MetricRecord and type(record[0]) is int
                and type(record[1]) is int and type(record[2]) is float
                and record[2] == record[2] and record[3] is None):
            validate_records((record,))
        if self._closing:
            self._check_open()
        try:
            stage, since = self._local.stage
        except AttributeError:
            stage, since = self._new_stage()
        if len(stage) >= self.stage_size:  # hand the stage over first: may block or raise
            with self._cond:
                self._check_open()
                self._wait_for_room(0, 1)
                self._move(stage, since, get_ident())
        if not stage:
            since[0] = time.monotonic()
        # no lock: only this thread appends, and the writer takes a stage's records by
        # slicing off its first n, which the interpreter does in one step either side
        stage.append(record)
        if self._rejected:
            with self._cond:
                self._raise_rejected()

    def _new_stage(self) -> tuple[list[MetricRecord], list[float]]:
        """The calling thread's stage, registered for the writer, flush and close."""
        stage: list[MetricRecord] = []
        since = [0.0]
        with self._cond:
            # stages of threads that ended, once collected, are forgotten
            self._stages = [s for s in self._stages if s[1] or s[0].is_alive()]
            self._stages.append((threading.current_thread(), stage, since))
        self._local.stage = (stage, since)
        return stage, since

    def _move(self, stage: list[MetricRecord], since: list[float], owner: int) -> None:
        """Move a stage's records into the buffer (under the lock)."""
        n = len(stage)
        if not n:
            return
        records = stage[:n]
        del stage[:n]  # records appended meanwhile stay staged
        if not self._records and not self._vectors:
            self._oldest = since[0]
        else:
            self._oldest = min(self._oldest, since[0])
        self._records.extend(records)
        self._record_owners.extend([owner] * n)
        self._added += n
        if len(self._records) >= self.max_buffer_size:
            self._work.notify()

    def _collect_stages(self) -> None:
        """Move every thread's staged records into the buffer (under the lock)."""
        for thread, stage, since in self._stages:
            if stage:
                self._move(stage, since, thread.ident or 0)

    def _move_own_stage(self) -> None:
        """Move the calling thread's staged records first, so that its records reach the
        buffer in the order it added them (under the lock)."""
        own = getattr(self._local, "stage", None)
        if own is not None and own[0]:
            self._move(own[0], own[1], get_ident())

    def add_many(self, records: Sequence[MetricRecord] | Iterable[MetricRecord]) -> None:
        """Buffer many records (fewer lock round trips than ``add``). Thread-safe.

        Validation happens first: a bad record raises and nothing of the call is added.
        Raises the rejections of this thread's earlier records (after buffering these).
        """
        records = records if isinstance(records, list) else list(records)
        validate_records(records)
        owner = threading.get_ident()
        start = 0
        with self._cond:
            self._check_open()
            self._move_own_stage()
            while start < len(records):
                self._wait_for_room(start, len(records))
                room = self.max_buffer_size - len(self._records) - len(self._vectors)
                chunk = records[start : start + room]
                self._mark_oldest()
                self._records.extend(chunk)
                self._record_owners.extend([owner] * len(chunk))
                self._added += len(chunk)
                start += len(chunk)
                if len(self._records) >= self.max_buffer_size:
                    self._work.notify()
            self._raise_rejected()

    def add_vector(self, record: VectorRecord) -> None:
        """Buffer one fingerprint (validated now: dimension, finite, not zero).

        Raises the rejections of this thread's earlier items (after buffering this one).
        """
        checked = validate_vector(record)
        with self._cond:
            self._check_open()
            self._move_own_stage()
            self._wait_for_room(0, 1)
            self._mark_oldest()
            self._vectors.append(checked)
            self._vector_owners.append(threading.get_ident())
            self._added += 1
            self._raise_rejected()

    def flush(self, timeout: float | None = None) -> None:
        """Write everything added so far (by any thread) and wait until it is committed.

        Raises the failure of a batch that cannot be written now (its records stay
        buffered for retry), or :class:`~resonance_engine.errors.RejectedRecordsError`
        for this thread's rejected items.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._collect_stages()
            target = self._added
            attempts = self._attempts
            self._flush_requested = True
            self._work.notify()
            while self._done < target:
                if self._failure is not None and self._attempts > attempts:
                    raise StoreError(
                        f"{self._failure} ({target - self._done} items not yet written)"
                    )
                if not self._thread.is_alive():
                    raise StoreError("the MetricWriter thread has stopped; records are unwritten")
                wait = None if deadline is None else deadline - time.monotonic()
                if wait is not None and wait <= 0:
                    raise StoreError(
                        f"flush timed out after {timeout} s with {target - self._done} items "
                        "unwritten (they stay buffered)"
                    )
                self._flushed.wait(min(wait, 0.5) if wait is not None else 0.5)
            self._raise_rejected()

    def close(self) -> None:
        """Write everything buffered, stop the writer thread, close its connection.

        Idempotent. Raises if buffered records could not be written (they are lost
        after this call: the exception says how many), else the rejections no producer
        has collected yet (:class:`~resonance_engine.errors.RejectedRecordsError`).
        """
        with self._cond:
            if self._closed:
                return
            self._closing = True
            self._retry_at = 0.0  # one last attempt now, even right after a failure
            self._work.notify()
            self._room.notify_all()
        self._thread.join()
        with self._cond:
            self._closed = True
            # records staged by a thread that added while close() ran are not written
            unwritten = self._added - self._done + sum(len(s[1]) for s in self._stages)
            failure = self._failure
            rejected = [item for items in self._rejected.values() for item in items]
            reasons = [reason for items in self._reasons.values() for reason in items]
            self._rejected.clear()
            self._reasons.clear()
        _OPEN_WRITERS.discard(self)
        try:  # what this writer left in the log, unless a reader holds it (PASSIVE)
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except apsw.Error:
            pass  # the next checkpoint copies it
        self._conn.close()
        if unwritten:
            raise StoreError(
                f"MetricWriter closed with {unwritten} records unwritten "
                f"({failure if failure is not None else 'writer stopped'})"
            )
        if rejected:
            raise RejectedRecordsError(
                f"{len(rejected)} items were rejected and not collected by their producers: "
                + "; ".join(reasons),
                rejected,
            )

    # ------------------------------------------------------------------ writer thread
    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    self._collect_stages()
                    now = time.monotonic()
                    pending = len(self._records) + len(self._vectors)
                    if now < self._retry_at:
                        if self._closing:
                            return  # the last attempt failed: close() says so
                        self._work.wait(self._retry_at - now)
                        continue
                    if self._closing or self._flush_requested:
                        break
                    if pending >= self.max_buffer_size:
                        break
                    due = self._oldest + self.flush_interval
                    if pending and now >= due:
                        break
                    self._work.wait(max(due - now, 0.001) if pending else self.flush_interval)
                records, self._records = self._records, []
                vectors, self._vectors = self._vectors, []
                record_owners, self._record_owners = self._record_owners, []
                vector_owners, self._vector_owners = self._vector_owners, []
                self._flush_requested = False
                self._writing = len(records) + len(vectors)
                # wake producers blocked on a full buffer
                self._room.notify_all()
                if not records and not vectors:
                    self._writing = 0
                    if self._closing:
                        return
                    continue
            rejected: RejectedRecordsError | None = None
            failure: BaseException | None = None
            try:
                self._batch.write(records, vectors)
            except RejectedRecordsError as exc:
                rejected = exc
            except StoreError as exc:
                failure = exc
            except apsw.Error as exc:
                failure = StoreError(
                    f"writing a batch of {len(records)} records and {len(vectors)} fingerprints "
                    f"to {self.db.path!r} failed ({describe_error(exc)}); they stay buffered "
                    "and are retried"
                )
            except BaseException as exc:  # noqa: BLE001 - keep the records, report it
                failure = exc
            with self._cond:
                self._writing = 0
                self._attempts += 1
                if failure is not None:
                    self._records[:0] = records
                    self._vectors[:0] = vectors
                    self._record_owners[:0] = record_owners
                    self._vector_owners[:0] = vector_owners
                    self._oldest = time.monotonic()
                    self._retry_at = self._oldest + self.flush_interval
                    self._failure = failure
                else:
                    self._done += len(records) + len(vectors)
                    self.batches_written += 1
                    self.records_written += len(records)
                    self._retry_at = 0.0
                    self._failure = None
                    if rejected is not None:
                        self.records_written -= sum(
                            isinstance(r, MetricRecord) for r in rejected.records
                        )
                        self._route_rejected(
                            rejected, records + vectors, record_owners + vector_owners
                        )
                self._flushed.notify_all()
                self._room.notify_all()

    def _route_rejected(
        self, error: RejectedRecordsError, items: list[Any], owners: list[int]
    ) -> None:
        """Hand each rejected item to the producer that added it (under the lock)."""
        owner_of: dict[int, list[int]] = {}
        for item, owner in zip(items, owners, strict=True):
            owner_of.setdefault(id(item), []).append(owner)
        for item in error.records:
            candidates = owner_of.get(id(item))
            owner = candidates.pop(0) if candidates else threading.get_ident()
            self._rejected.setdefault(owner, []).append(item)
            reasons = self._reasons.setdefault(owner, [])
            if str(error) not in reasons:
                reasons.append(str(error))
