"""MetricWriter: buffered, batched, thread-safe writes into an AgentDB.

Producers (any number of threads) call :meth:`MetricWriter.add` / ``add_many`` /
``add_vector``; one writer thread per database drains the buffer with a prepared
``executemany`` in one transaction per batch, when the buffer reaches
``max_buffer_size`` or ``flush_interval`` seconds after the last flush (even when no new
record arrives). While it writes, producers fill the next buffer; when that one is full
too, ``add`` blocks until the writer has caught up (backpressure: memory stays bounded by
about two batches and nothing is dropped).

Failures: a batch that cannot be written (disk full, I/O error, lock held past the busy
timeout) stays buffered and is retried after ``flush_interval``; the error is raised by
the next ``add``/``flush``/``close`` of any producer. Duplicates and unknown series are
not retried: the rest is written and :class:`~resonance_engine.errors.RejectedRecordsError`
hands the rejected records back (see :mod:`resonance_engine.store.batch`).

Shutdown: :meth:`close` (or leaving the ``with`` block, also by Ctrl-C) writes everything
buffered. Writers still open at interpreter exit are closed by an ``atexit`` hook, and
with ``handle_sigterm=True`` (the default, main thread only) SIGTERM raises
``SystemExit(143)`` in the main thread so that the same cleanup runs.
"""

from __future__ import annotations

import atexit
import signal
import threading
import time
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

import apsw

from resonance_engine.errors import RejectedRecordsError, StoreError
from resonance_engine.store.batch import BatchWriter, validate_records, validate_vector
from resonance_engine.store.connection import describe_error
from resonance_engine.store.db import AgentDB
from resonance_engine.store.records import MetricRecord, VectorRecord

__all__ = ["MetricWriter"]

_OPEN_WRITERS: weakref.WeakSet[MetricWriter] = weakref.WeakSet()


def _close_open_writers() -> None:
    for writer in list(_OPEN_WRITERS):
        try:
            writer.close()
        except Exception:  # noqa: BLE001 - best effort at exit; errors were raised before
            pass


atexit.register(_close_open_writers)


class _SigtermHandler:
    """SIGTERM -> SystemExit(143) in the main thread while any writer is open."""

    installed: Any = None  # the previous handler while ours is installed
    users = 0
    lock = threading.Lock()

    @classmethod
    def acquire(cls) -> bool:
        if threading.current_thread() is not threading.main_thread():
            return False
        with cls.lock:
            if cls.users == 0:
                previous = signal.getsignal(signal.SIGTERM)
                if previous not in (signal.SIG_DFL, None):
                    return False  # the application handles SIGTERM itself
                signal.signal(signal.SIGTERM, cls._handle)
                cls.installed = previous
            cls.users += 1
            return True

    @classmethod
    def release(cls) -> None:
        with cls.lock:
            cls.users -= 1
            if cls.users == 0 and threading.current_thread() is threading.main_thread():
                if signal.getsignal(signal.SIGTERM) is cls._handle:
                    signal.signal(signal.SIGTERM, cls.installed or signal.SIG_DFL)

    @staticmethod
    def _handle(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)


class MetricWriter:
    """High-rate writer of metric values and fingerprints into one database.

    Parameters
    ----------
    db : AgentDB
        The database (the writer opens its own connection to it).
    max_buffer_size : int
        Records per batch; producers block when this many are waiting while the
        previous batch is being written.
    flush_interval : float
        Longest time a record waits in the buffer (s).
    handle_sigterm : bool
        Turn SIGTERM into ``SystemExit`` so buffered records are written (only when
        created in the main thread and SIGTERM has its default action).

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
        max_buffer_size: int = 5000,
        flush_interval: float = 0.1,
        *,
        handle_sigterm: bool = True,
    ) -> None:
        if not isinstance(max_buffer_size, int) or max_buffer_size < 1:
            raise StoreError(f"max_buffer_size must be an int >= 1, got {max_buffer_size!r}")
        if not flush_interval > 0:
            raise StoreError(f"flush_interval must be > 0 s, got {flush_interval!r}")
        if db.readonly:
            raise StoreError(f"cannot write to {db.path!r}: it was opened with readonly=True")
        self.db = db
        self.max_buffer_size = max_buffer_size
        self.flush_interval = float(flush_interval)
        self._conn = db.connect()
        self._batch = BatchWriter(self._conn)
        # one lock, three conditions: the writer waits for work, producers for room in
        # the buffer, flush() for commits (separate, so nobody wakes the wrong waiters)
        self._cond = threading.Lock()
        self._work = threading.Condition(self._cond)
        self._room = threading.Condition(self._cond)
        self._flushed = threading.Condition(self._cond)
        self._records: list[MetricRecord] = []
        self._vectors: list[VectorRecord] = []
        self._added = 0  # items (records + vectors) ever added
        self._done = 0  # items written or rejected
        self._writing = 0  # items in the batch being written
        self._flush_requested = False
        self._closing = False
        self._closed = False
        self._error: BaseException | None = None
        self._retry_at = 0.0
        self._oldest = 0.0  # time.monotonic() when the oldest buffered item was added
        self.batches_written = 0
        self.records_written = 0
        self._thread = threading.Thread(
            target=self._run, name=f"MetricWriter({db.path})", daemon=True
        )
        self._sigterm = handle_sigterm and _SigtermHandler.acquire()
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
            return self._added - self._done

    def _raise_error(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error

    def _check_open(self) -> None:
        if self._closing:
            raise StoreError("this MetricWriter is closed; create a new one")

    def _wait_for_room(self) -> None:
        while len(self._records) + len(self._vectors) >= self.max_buffer_size:
            self._raise_error()
            self._check_open()
            if not self._flush_requested:
                self._flush_requested = True
                self._work.notify()
            self._room.wait(self.flush_interval)

    def _mark_oldest(self) -> None:
        if not self._records and not self._vectors:
            self._oldest = time.monotonic()

    def add(self, record: MetricRecord) -> None:
        """Buffer one record (blocks while the buffer is full). Thread-safe."""
        validate_records((record,))
        with self._cond:
            self._check_open()
            self._raise_error()
            self._wait_for_room()
            self._mark_oldest()
            self._records.append(record)
            self._added += 1
            if len(self._records) >= self.max_buffer_size:
                self._work.notify()

    def add_many(self, records: Sequence[MetricRecord] | Iterable[MetricRecord]) -> None:
        """Buffer many records (fewer lock round trips than ``add``). Thread-safe.

        Validation happens first: a bad record raises and nothing of the call is added.
        """
        records = records if isinstance(records, list) else list(records)
        validate_records(records)
        start = 0
        with self._cond:
            self._check_open()
            self._raise_error()
            while start < len(records):
                self._wait_for_room()
                room = self.max_buffer_size - len(self._records) - len(self._vectors)
                chunk = records[start : start + room]
                self._mark_oldest()
                self._records.extend(chunk)
                self._added += len(chunk)
                start += len(chunk)
                if len(self._records) >= self.max_buffer_size:
                    self._work.notify()

    def add_vector(self, record: VectorRecord) -> None:
        """Buffer one fingerprint (validated now: dimension, finite, not zero)."""
        checked = validate_vector(record)
        with self._cond:
            self._check_open()
            self._raise_error()
            self._wait_for_room()
            self._mark_oldest()
            self._vectors.append(checked)
            self._added += 1

    def flush(self, timeout: float | None = None) -> None:
        """Write everything added so far (by any thread) and wait until it is committed.

        Raises the error of a failed flush (the records stay buffered for retry) or
        :class:`~resonance_engine.errors.RejectedRecordsError`.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._raise_error()
            target = self._added
            self._flush_requested = True
            self._work.notify()
            while self._done < target:
                if self._error is not None:
                    self._raise_error()
                if not self._thread.is_alive():
                    raise StoreError("the MetricWriter thread has stopped; records are unwritten")
                wait = None if deadline is None else deadline - time.monotonic()
                if wait is not None and wait <= 0:
                    raise StoreError(
                        f"flush timed out after {timeout} s with {target - self._done} items "
                        "unwritten (they stay buffered)"
                    )
                self._flushed.wait(min(wait, 0.5) if wait is not None else 0.5)
            self._raise_error()

    def close(self) -> None:
        """Write everything buffered, stop the writer thread, close its connection.

        Idempotent. Raises if buffered records could not be written (they are lost
        after this call: the exception says how many).
        """
        with self._cond:
            if self._closed:
                return
            self._closing = True
            self._work.notify()
            self._room.notify_all()
        self._thread.join()
        with self._cond:
            self._closed = True
            unwritten = self._added - self._done
            error, self._error = self._error, None
        _OPEN_WRITERS.discard(self)
        if self._sigterm:
            _SigtermHandler.release()
            self._sigterm = False
        self._conn.close()
        if unwritten:
            raise StoreError(
                f"MetricWriter closed with {unwritten} records unwritten "
                f"({error if error is not None else 'writer stopped'})"
            )
        if error is not None:
            raise error

    # ------------------------------------------------------------------ writer thread
    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    now = time.monotonic()
                    pending = len(self._records) + len(self._vectors)
                    if now < self._retry_at:
                        if self._closing:
                            return  # the last attempt failed: leave it to close()
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
                self._flush_requested = False
                self._writing = len(records) + len(vectors)
                # wake producers blocked on a full buffer
                self._room.notify_all()
                if not records and not vectors:
                    self._writing = 0
                    if self._closing:
                        return
                    continue
            error: BaseException | None = None
            retry = False
            try:
                self._batch.write(records, vectors)
            except RejectedRecordsError as exc:
                error = exc
            except StoreError as exc:
                error, retry = exc, True
            except apsw.Error as exc:
                retry = True
                error = StoreError(
                    f"writing a batch of {len(records)} records and {len(vectors)} fingerprints "
                    f"to {self.db.path!r} failed ({describe_error(exc)}); they stay buffered "
                    "and are retried"
                )
            except BaseException as exc:  # noqa: BLE001 - keep the records, report it
                retry = True
                error = exc
            with self._cond:
                self._writing = 0
                if retry:
                    self._records[:0] = records
                    self._vectors[:0] = vectors
                    self._oldest = time.monotonic()
                    self._retry_at = self._oldest + self.flush_interval
                else:
                    self._done += len(records) + len(vectors)
                    self.batches_written += 1
                    self.records_written += len(records)
                    if error is not None:
                        self.records_written -= sum(
                            isinstance(r, MetricRecord) for r in getattr(error, "records", [])
                        )
                    self._retry_at = 0.0
                if error is not None:
                    self._error = error
                self._flushed.notify_all()
                self._room.notify_all()
