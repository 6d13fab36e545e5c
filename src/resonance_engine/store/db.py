"""AgentDB: the metric history of runs in one SQLite file, with fingerprint search.

Example
-------
>>> from resonance_engine.store import AgentDB, MetricRecord, MetricWriter
>>> db = AgentDB(":memory:")
>>> run = db.create_run({"steps": 10}, seed=1)
>>> sid = db.series_id(run, "ci")
>>> with MetricWriter(db) as writer:
...     writer.add_many([MetricRecord(sid, t, 0.5 * t) for t in range(3)])
>>> [p.value for p in db.range(sid)]
[0.0, 0.5, 1.0]
>>> db.latest(sid).timestamp
2
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, cast

import apsw
import numpy as np

from resonance_engine.errors import DuplicateRunError, StoreError
from resonance_engine.store.batch import BatchWriter, validate_records, validate_vector
from resonance_engine.store.connection import (
    DEFAULT_BUSY_TIMEOUT_MS,
    DEFAULT_CACHE_MIB,
    describe_error,
    memory_uri,
    open_connection,
    write_transaction,
)
from resonance_engine.store.optimizations import OptimizationTable
from resonance_engine.store.records import (
    Aggregate,
    Alert,
    MetricRecord,
    Point,
    RecordList,
    RunInfo,
    SeriesInfo,
    SeriesStats,
    SimilarHit,
    VectorRecord,
)
from resonance_engine.store.schema import (
    APPLICATION_ID,
    MIGRATIONS,
    PARTITION_US,
    SCHEMA_VERSION,
    VECTOR_DIM,
)
from resonance_engine.store.trajectories import TrajectoryTable
from resonance_engine.version import package_version

__all__ = ["AgentDB", "SERIES_TYPES", "now_us"]

#: Series types written by ``resonance run`` (others, e.g. "cs", are allowed).
SERIES_TYPES = ("fractal_dim", "gain", "coherence", "dwell", "ci")

#: Largest k of one KNN query (a limit of sqlite-vec).
MAX_K = 4096

_NAME = re.compile(r"^[A-Za-z0-9_.:/\-]{1,100}$")


def now_us() -> int:
    """Wall-clock time in microseconds since the Unix epoch."""
    return time.time_ns() // 1000


def _int_scalar(conn: apsw.Connection, sql: str) -> int:
    value: Any = conn.execute(sql).fetchall()[0][0]
    return int(value)


def _json_config(config: Any) -> str:
    if config is None:
        return "{}"
    if hasattr(config, "model_dump"):
        config = config.model_dump(mode="json")
    if not isinstance(config, Mapping):
        raise StoreError(f"run config must be a mapping or a pydantic model, got {type(config)}")
    try:
        return json.dumps(config, sort_keys=True, default=str)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"run config is not JSON-serializable: {exc}") from None


def _check_int(name: str, value: Any, optional: bool = True) -> None:
    if value is None and optional:
        return
    if type(value) is not int and not isinstance(value, np.integer):
        raise StoreError(f"{name} must be an int (microseconds for times), got {value!r}")


class AgentDB(TrajectoryTable, OptimizationTable):
    """An AgentDB database file (or ``":memory:"``).

    Opening loads sqlite-vec (a missing extension is a :class:`StoreError`, never a
    silent fallback), sets WAL, ``synchronous=NORMAL``, a busy timeout and a page cache,
    and creates or migrates the schema (see :mod:`resonance_engine.store.schema`). A file
    written by a newer resonance-engine, or an SQLite file of another application, is
    refused.

    Parameters
    ----------
    path : str or os.PathLike
        Database file; ``":memory:"`` for a private in-memory database (shared with the
        :class:`~resonance_engine.store.MetricWriter` opened on it, gone when closed).
    readonly : bool
        Open an existing database for reading only (no schema changes).
    busy_timeout_ms : int
        How long a connection waits for another one's lock (ms).
    cache_size_mib : int
        SQLite page cache per connection (MiB).

    Notes
    -----
    Methods are thread-safe (one lock per AgentDB). High-rate writes go through one
    :class:`~resonance_engine.store.MetricWriter` per database, which writes on its own
    connection and thread; the few metadata writes here (runs, series, alerts) use
    ``BEGIN IMMEDIATE`` and wait for the writer's lock.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = ":memory:",
        *,
        readonly: bool = False,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
        cache_size_mib: int = DEFAULT_CACHE_MIB,
    ) -> None:
        path = os.fspath(path)
        self.is_memory = path == ":memory:"
        self.path = path
        self._uri = memory_uri() if self.is_memory else path
        self.readonly = readonly and not self.is_memory
        self._options = {"busy_timeout_ms": busy_timeout_ms, "cache_size_mib": cache_size_mib}
        self._lock = threading.RLock()
        self._conn: apsw.Connection | None = self.connect(readonly=self.readonly)
        try:
            self._check_and_migrate()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ lifecycle
    def connect(self, readonly: bool = False) -> apsw.Connection:
        """A new connection to this database (sqlite-vec loaded, pragmas set)."""
        return open_connection(self._uri, readonly=readonly, **self._options)

    @property
    def conn(self) -> apsw.Connection:
        """The connection of this object (raises after :meth:`close`)."""
        if self._conn is None:
            raise StoreError(f"database {self.path!r} is closed")
        return self._conn

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> AgentDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"AgentDB({self.path!r}{', readonly=True' if self.readonly else ''})"

    def _check_and_migrate(self) -> None:
        conn = self.conn
        version = _int_scalar(conn, "PRAGMA user_version")  # a foreign file: refused in connect
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path!r} has schema version {version}, newer than this "
                f"resonance-engine understands ({SCHEMA_VERSION}); upgrade resonance-engine"
            )
        if version == SCHEMA_VERSION:
            return
        if self.readonly:
            raise StoreError(
                f"{self.path!r} has schema version {version} < {SCHEMA_VERSION} and needs a "
                "migration; open it once without readonly=True"
            )
        try:
            with write_transaction(conn):
                # re-read under the write lock: another process may have migrated it
                version = _int_scalar(conn, "PRAGMA user_version")
                for step in range(version, SCHEMA_VERSION):
                    MIGRATIONS[step](conn)
                conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except apsw.Error as exc:
            raise StoreError(
                f"cannot create or migrate the schema of {self.path!r} ({describe_error(exc)})"
            ) from None

    def _write(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> int:
        """Run one write statement in an IMMEDIATE transaction; returns last_insert_rowid."""
        with self._lock:
            conn = self.conn
            try:
                with write_transaction(conn):
                    conn.execute(sql, params)
                    return int(conn.last_insert_rowid())
            except apsw.ReadOnlyError:
                raise StoreError(
                    f"database {self.path!r} is read-only; open it without readonly=True"
                ) from None
            except apsw.Error as exc:
                raise StoreError(f"write to {self.path!r} failed ({describe_error(exc)})") from None

    def _query(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self.conn.execute(sql, params).fetchall()
            except apsw.Error as exc:
                raise StoreError(f"query on {self.path!r} failed ({describe_error(exc)})") from None

    # ------------------------------------------------------------------ runs
    def create_run(
        self,
        config: Mapping[str, Any] | Any | None,
        seed: int | None,
        *,
        name: str | None = None,
        started_at: int | None = None,
        key: str | None = None,
    ) -> int:
        """Insert a ``runs`` row; returns its ``run_id``.

        Parameters
        ----------
        config : mapping or pydantic model
            Stored as JSON.
        seed : int or None
        name : str, optional
        started_at : int, optional
            Start time (us since the epoch); default now.
        key : str, optional
            The run's identity (e.g. a sweep's run key): unique in the database.

        Raises
        ------
        DuplicateRunError
            When a run with this ``key`` is already stored (its ``run_id`` is attached):
            the caller skips or reuses it.
        """
        _check_int("seed", seed)
        _check_int("started_at", started_at)
        values = (name, int(started_at) if started_at is not None else now_us(),
                  None if seed is None else int(seed), _json_config(config),
                  package_version(), key)
        with self._lock:
            conn = self.conn
            try:
                with write_transaction(conn):
                    if key is not None:
                        row = conn.execute(
                            "SELECT run_id FROM runs WHERE run_key = ?", (key,)
                        ).fetchall()
                        if row:
                            raise DuplicateRunError(
                                f"a run with key {key!r} is already stored (run {row[0][0]})",
                                run_id=int(cast(int, row[0][0])),
                            )
                    conn.execute(
                        "INSERT INTO runs(name, started_at, status, seed, config, "
                        "package_version, run_key) VALUES (?, ?, 'running', ?, ?, ?, ?)",
                        values,
                    )
                    return int(conn.last_insert_rowid())
            except apsw.ReadOnlyError:
                raise StoreError(
                    f"database {self.path!r} is read-only; open it without readonly=True"
                ) from None
            except apsw.ConstraintError:
                # another process stored the key between our check and insert
                row = self._query("SELECT run_id FROM runs WHERE run_key = ?", (key,))
                raise DuplicateRunError(
                    f"a run with key {key!r} is already stored", run_id=row[0][0] if row else None
                ) from None
            except apsw.Error as exc:
                raise StoreError(f"write to {self.path!r} failed ({describe_error(exc)})") from None

    def run_for_key(self, key: str) -> RunInfo | None:
        """The run stored with this key (see :meth:`create_run`), or None."""
        rows = self._query(f"SELECT {self._RUN_COLUMNS} FROM runs WHERE run_key = ?", (key,))
        return self._run_info(rows[0]) if rows else None

    def finish_run(
        self, run_id: int, status: str = "finished", summary: Mapping[str, Any] | None = None
    ) -> None:
        """Set a run's status ("finished", "stopped", "interrupted", "failed"), end time
        and summary."""
        self.run(run_id)
        text = None if summary is None else json.dumps(summary, default=str, sort_keys=True)
        self._write(
            "UPDATE runs SET status = ?, finished_at = ?, summary = ? WHERE run_id = ?",
            (status, now_us(), text, run_id),
        )

    _RUN_COLUMNS = (
        "run_id, name, started_at, finished_at, status, seed, config, package_version, summary"
    )

    @staticmethod
    def _run_info(row: tuple[Any, ...]) -> RunInfo:
        values = list(row)
        values[6] = json.loads(values[6])
        values[8] = None if values[8] is None else json.loads(values[8])
        return RunInfo(*values)

    def run(self, run_id: int) -> RunInfo:
        """The run with this id (StoreError if there is none)."""
        rows = self._query(f"SELECT {self._RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,))
        if not rows:
            last = self._query("SELECT max(run_id) FROM runs")[0][0]
            raise StoreError(
                f"no run {run_id!r} in {self.path!r} (run ids go up to {last}); "
                "list them with 'resonance db runs'"
            )
        return self._run_info(rows[0])

    def runs(self, limit: int | None = None) -> RecordList[RunInfo]:
        """All runs, newest first (at most ``limit``)."""
        rows = self._query(
            f"SELECT {self._RUN_COLUMNS} FROM runs ORDER BY run_id DESC LIMIT ?",
            (-1 if limit is None else int(limit),),
        )
        return RecordList([self._run_info(r) for r in rows], RunInfo._fields)

    def delete_run(self, run_id: int) -> None:
        """Delete a run with its series, values, fingerprints and alerts."""
        self.run(run_id)
        series = "SELECT series_id FROM metric_series WHERE run_id = ?"
        with self._lock:
            conn = self.conn
            try:
                with write_transaction(conn):
                    conn.execute(
                        "DELETE FROM metric_vectors WHERE rowid IN (SELECT vector_rowid FROM "
                        f"metric_vector_links WHERE series_id IN ({series}))", (run_id,))
                    conn.execute(
                        f"DELETE FROM metric_vector_links WHERE series_id IN ({series})",
                        (run_id,))
                    conn.execute(
                        f"DELETE FROM timeseries_data WHERE series_id IN ({series})", (run_id,))
                    conn.execute("DELETE FROM metric_series WHERE run_id = ?", (run_id,))
                    conn.execute("DELETE FROM alerts WHERE run_id = ?", (run_id,))
                    conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
            except apsw.Error as exc:
                raise StoreError(f"cannot delete run {run_id} ({describe_error(exc)})") from None

    # ------------------------------------------------------------------ series
    def series_id(
        self,
        run_id: int | None,
        series_type: str,
        agent_id: str | None = None,
        name: str | None = None,
    ) -> int:
        """The id of the series (run, agent, name), created if it does not exist yet.

        Parameters
        ----------
        run_id : int or None
            Owning run (None for series outside any run).
        series_type : str
            What it measures: "fractal_dim", "gain", "coherence", "dwell", "ci", "cs", ...
        agent_id : str, optional
            The agent (None for a single-field run).
        name : str, optional
            Series name, unique per (run, agent); defaults to ``series_type``.
        """
        for label, text in (("series_type", series_type), ("name", name)):
            if text is not None and not (isinstance(text, str) and _NAME.match(text)):
                raise StoreError(
                    f"{label} must be 1-100 characters of letters, digits and _.:/-, got {text!r}"
                )
        if agent_id is not None and not isinstance(agent_id, str):
            raise StoreError(f"agent_id must be a string or None, got {agent_id!r}")
        name = name or series_type
        key = (run_id, agent_id, name)
        find = (
            "SELECT series_id, series_type FROM metric_series WHERE coalesce(run_id, 0) = "
            "coalesce(?, 0) AND coalesce(agent_id, '') = coalesce(?, '') AND series_name = ?"
        )
        with self._lock:
            rows = self._query(find, key)
            if not rows:
                if run_id is not None:
                    self.run(run_id)
                conn = self.conn
                try:
                    with write_transaction(conn):
                        rows = conn.execute(find, key).fetchall()
                        if not rows:
                            conn.execute(
                                "INSERT INTO metric_series(series_name, series_type, agent_id, "
                                "created_at, run_id) VALUES (?, ?, ?, ?, ?)",
                                (name, series_type, agent_id, now_us(), run_id),
                            )
                            return int(conn.last_insert_rowid())
                except apsw.Error as exc:
                    raise StoreError(
                        f"cannot create series {name!r} ({describe_error(exc)})"
                    ) from None
        sid, stored_type = rows[0]
        if stored_type != series_type:
            raise StoreError(
                f"series {name!r} of run {run_id} agent {agent_id!r} exists with type "
                f"{stored_type!r}, not {series_type!r}; use another name"
            )
        return int(sid)

    def series(
        self,
        run_id: int | None = None,
        agent_id: str | None = None,
        series_type: str | None = None,
    ) -> RecordList[SeriesInfo]:
        """Series matching every given filter, ordered by id."""
        where, params = [], []
        for column, value in (("run_id", run_id), ("agent_id", agent_id),
                              ("series_type", series_type)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = ("SELECT series_id, run_id, agent_id, series_name, series_type, created_at "
               "FROM metric_series")
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._query(sql + " ORDER BY series_id", params)
        return RecordList([SeriesInfo(*r) for r in rows], SeriesInfo._fields)

    # ------------------------------------------------------------------ values
    def insert(
        self, records: Sequence[MetricRecord], vectors: Sequence[VectorRecord] = ()
    ) -> None:
        """Write records and fingerprints now, in one transaction (no writer thread).

        For high rates use :class:`~resonance_engine.store.MetricWriter`. Raises
        :class:`~resonance_engine.errors.RejectedRecordsError` for duplicates and
        unknown series (after writing the rest).
        """
        records = list(records)
        validate_records(records)
        checked = [validate_vector(v) for v in vectors]
        with self._lock:
            try:
                BatchWriter(self.conn).write(records, checked)
            except StoreError:
                raise
            except apsw.Error as exc:
                raise StoreError(f"write to {self.path!r} failed ({describe_error(exc)})") from None

    @staticmethod
    def _time_where(
        t0: int | None, t1: int | None, column: str = "timestamp"
    ) -> tuple[str, list[Any]]:
        _check_int("t0", t0)
        _check_int("t1", t1)
        sql, params = "", []
        if t0 is not None:
            sql += f" AND {column} >= ?"
            params.append(int(t0))
        if t1 is not None:
            sql += f" AND {column} <= ?"
            params.append(int(t1))
        return sql, params

    def range(
        self, series_id: int, t0: int | None = None, t1: int | None = None,
        limit: int | None = None,
    ) -> RecordList[Point]:
        """Values of a series with t0 <= timestamp <= t1 (us; None = open), by time."""
        where, params = self._time_where(t0, t1)
        rows = self._query(
            "SELECT timestamp, value, metadata FROM timeseries_data WHERE series_id = ?"
            f"{where} ORDER BY timestamp LIMIT ?",
            [series_id, *params, -1 if limit is None else int(limit)],
        )
        return RecordList([Point(*r) for r in rows], Point._fields)

    def range_arrays(
        self, series_id: int, t0: int | None = None, t1: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`range` as arrays: timestamps int64 (us) and values float64, shape (n,)."""
        where, params = self._time_where(t0, t1)
        rows = self._query(
            f"SELECT timestamp, value FROM timeseries_data WHERE series_id = ?{where} "
            "ORDER BY timestamp", [series_id, *params])
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        arr = np.array(rows, dtype=np.float64)
        stamps = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        return stamps, arr[:, 1]

    def latest(self, series_id: int) -> Point | None:
        """The most recent value of a series, or None if it has none."""
        rows = self._query(
            "SELECT timestamp, value, metadata FROM timeseries_data WHERE series_id = ? "
            "ORDER BY timestamp DESC LIMIT 1", (series_id,))
        return Point(*rows[0]) if rows else None

    def count(self, series_id: int | None = None) -> int:
        """Number of stored values (of one series, or of all)."""
        if series_id is None:
            return int(self._query("SELECT count(*) FROM timeseries_data")[0][0])
        return int(self._query(
            "SELECT count(*) FROM timeseries_data WHERE series_id = ?", (series_id,))[0][0])

    def stats(self, series_id: int) -> SeriesStats:
        """Count, first and last timestamp, min, mean and max of a series."""
        row = self._query(
            "SELECT count(*), min(timestamp), max(timestamp), min(value), avg(value), "
            "max(value) FROM timeseries_data WHERE series_id = ?", (series_id,))[0]
        return SeriesStats(series_id, *row)

    def aggregate(
        self, series_id: int, bucket_us: int, t0: int | None = None, t1: int | None = None
    ) -> RecordList[Aggregate]:
        """Downsampled values: count, min, mean and max per bucket of ``bucket_us``.

        Buckets start at multiples of ``bucket_us`` (us since the epoch); empty buckets
        are left out.
        """
        _check_int("bucket_us", bucket_us, optional=False)
        if bucket_us <= 0:
            raise StoreError(f"bucket_us must be > 0, got {bucket_us}")
        where, params = self._time_where(t0, t1)
        b = int(bucket_us)
        # floor division for negative timestamps too
        bucket = f"((timestamp - ((timestamp % {b}) + {b}) % {b}))"
        rows = self._query(
            f"SELECT {bucket} AS b, count(*), min(value), avg(value), max(value) "
            f"FROM timeseries_data WHERE series_id = ?{where} GROUP BY b ORDER BY b",
            [series_id, *params])
        return RecordList([Aggregate(*r) for r in rows], Aggregate._fields)

    # ------------------------------------------------------------------ vectors
    def vector(self, series_id: int, timestamp_bucket: int) -> np.ndarray | None:
        """The fingerprint of a series in one bucket, float32 shape (128,), or None."""
        rows = self._query(
            "SELECT v.embedding FROM metric_vector_links l JOIN metric_vectors v "
            "ON v.rowid = l.vector_rowid WHERE l.series_id = ? AND l.timestamp_bucket = ?",
            (series_id, timestamp_bucket))
        return np.frombuffer(rows[0][0], dtype=np.float32).copy() if rows else None

    def vectors(self, series_id: int) -> tuple[np.ndarray, np.ndarray]:
        """All fingerprints of a series: buckets int64 (n,) and float32 (n, 128), by time."""
        rows = self._query(
            "SELECT l.timestamp_bucket, v.embedding FROM metric_vector_links l JOIN "
            "metric_vectors v ON v.rowid = l.vector_rowid WHERE l.series_id = ? "
            "ORDER BY l.timestamp_bucket", (series_id,))
        buckets = np.array([r[0] for r in rows], dtype=np.int64)
        emb = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
        return buckets, emb.reshape(len(rows), VECTOR_DIM)

    def similar(
        self,
        vector: Any,
        t0: int | None = None,
        t1: int | None = None,
        series_ids: Sequence[int] | None = None,
        k: int = 20,
        max_distance: float | None = 0.3,
        *,
        run_id: int | None = None,
        exclude_run_id: int | None = None,
        series_type: str | None = None,
    ) -> RecordList[SimilarHit]:
        """The blueprint's hybrid query: nearest fingerprints within a time window.

        All filters (time window on the bucket start, series ids, run, excluded run,
        series type) are constraints of the vec0 KNN search itself, so they select the
        candidates *before* the k nearest are chosen: a filter never makes the query
        return fewer than k rows while more matching rows exist.

        Parameters
        ----------
        vector : array-like, shape (128,)
            Query fingerprint (finite, not all zero).
        t0, t1 : int, optional
            Window on ``timestamp_bucket`` (us since the epoch, inclusive).
        series_ids : sequence of int, optional
            Only these series (an empty sequence returns nothing).
        k : int
            Number of nearest rows considered, 1 to 4096.
        max_distance : float or None
            Drop rows with cosine distance above this (None keeps all k).
        run_id, exclude_run_id : int, optional
            Only this run / every run but this one.
        series_type : str, optional
            Only series of this type (e.g. "ci").

        Returns
        -------
        RecordList of SimilarHit
            Ordered by cosine distance (1 - cos, in [0, 2]), nearest first.
        """
        if not (isinstance(k, int) and 1 <= k <= MAX_K):
            raise StoreError(f"k must be an int in 1..{MAX_K}, got {k!r}")
        query = validate_vector(VectorRecord(0, 0, vector, 0.0)).embedding
        clauses = ["embedding MATCH ?", "k = ?"]
        params: list[Any] = [query, k]
        _check_int("t0", t0)
        _check_int("t1", t1)
        if t0 is not None:
            clauses += ["time_partition >= ?", "timestamp_bucket >= ?"]
            params += [int(t0) // PARTITION_US, int(t0)]
        if t1 is not None:
            clauses += ["time_partition <= ?", "timestamp_bucket <= ?"]
            params += [int(t1) // PARTITION_US, int(t1)]
        if series_ids is not None:
            ids = [int(s) for s in series_ids]
            if not ids:
                return RecordList([], SimilarHit._fields)
            clauses.append(f"series_id IN ({','.join('?' * len(ids))})")
            params += ids
        if run_id is not None:
            clauses.append("run_id = ?")
            params.append(int(run_id))
        if exclude_run_id is not None:
            clauses.append("run_id != ?")
            params.append(int(exclude_run_id))
        if series_type is not None:
            clauses.append("series_type = ?")
            params.append(series_type)
        rows = self._query(
            "SELECT series_id, timestamp_bucket, value, distance, run_id, series_type, rowid "
            "FROM metric_vectors WHERE " + " AND ".join(clauses) + " ORDER BY distance",
            params,
        )
        limit = math.inf if max_distance is None else float(max_distance)
        hits = [
            SimilarHit(sid, bucket, value, dist, run or None, stype, rowid)
            for sid, bucket, value, dist, run, stype, rowid in rows
            if dist <= limit
        ]
        return RecordList(hits, SimilarHit._fields)

    # ------------------------------------------------------------------ alerts
    def add_alert(
        self,
        run_id: int | None,
        time_us: int,
        kind: str,
        message: str,
        value: float | None = None,
        agent_id: str | None = None,
    ) -> int:
        """Store a health alert (e.g. kind "cs_low", "basin_unstable"); returns its id."""
        _check_int("time_us", time_us, optional=False)
        if not isinstance(kind, str) or not kind:
            raise StoreError(f"alert kind must be a non-empty string, got {kind!r}")
        return self._write(
            "INSERT INTO alerts(run_id, agent_id, timestamp, kind, message, value) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (run_id, agent_id, int(time_us), kind, str(message),
             None if value is None else float(value)),
        )

    def alerts(
        self, run_id: int | None = None, t0: int | None = None, t1: int | None = None,
        kind: str | None = None,
    ) -> RecordList[Alert]:
        """Alerts matching the filters, by time."""
        where, params = self._time_where(t0, t1)
        if run_id is not None:
            where += " AND run_id = ?"
            params.append(run_id)
        if kind is not None:
            where += " AND kind = ?"
            params.append(kind)
        rows = self._query(
            "SELECT alert_id, run_id, agent_id, timestamp, kind, message, value FROM alerts "
            f"WHERE 1{where} ORDER BY timestamp, alert_id", params)
        return RecordList([Alert(*r) for r in rows], Alert._fields)

    # ------------------------------------------------------------------ maintenance
    def integrity_check(self) -> str:
        """``PRAGMA integrity_check``: "ok" or the problems found."""
        rows = self._query("PRAGMA integrity_check")
        return "\n".join(str(r[0]) for r in rows)

    def checkpoint(self) -> None:
        """Copy the WAL into the database file and truncate it."""
        self._query("PRAGMA wal_checkpoint(TRUNCATE)")
