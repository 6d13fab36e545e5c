"""Validation of records and the one-transaction batch write used by the writer.

Documented behaviour for awkward input:

- NaN values, non-integer series ids or timestamps, and malformed fingerprints (wrong
  dimension, NaN/inf, all zero) raise :class:`~resonance_engine.errors.StoreError` when
  the record is added, before anything is buffered.
- Timestamps out of order are fine: rows are keyed by (series_id, timestamp) and every
  query returns them sorted by time.
- A duplicate key (the same (series_id, timestamp) twice, or a second fingerprint for
  the same (series_id, timestamp_bucket)) and an unknown series_id are rejected: the rest
  of the batch is written and :class:`~resonance_engine.errors.RejectedRecordsError`
  hands the rejected records back. The first stored value wins; nothing is overwritten.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any, cast

import apsw
import numpy as np

from resonance_engine.errors import RejectedRecordsError, StoreError
from resonance_engine.store.connection import write_transaction
from resonance_engine.store.records import MetricRecord, VectorRecord
from resonance_engine.store.schema import PARTITION_US, VECTOR_DIM

__all__ = ["validate_records", "validate_vector", "BatchWriter", "ROWS_PER_INSERT"]

INSERT_RECORD = (
    "INSERT INTO timeseries_data(series_id, timestamp, value, metadata) VALUES (?, ?, ?, ?)"
)
INSERT_LINK = (
    "INSERT INTO metric_vector_links(series_id, timestamp_bucket, vector_rowid, "
    "spatial_location) VALUES (?, ?, ?, ?)"
)
INSERT_VECTOR = (
    "INSERT INTO metric_vectors(rowid, time_partition, embedding, series_id, "
    "timestamp_bucket, series_type, run_id, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)

ROWS_PER_INSERT = 1000
"""Records one INSERT statement of :class:`BatchWriter` carries (``VALUES (?,?,?,?),
...``; fewer where SQLite allows fewer than 4000 parameters). One statement execution per
record cost the writer about a third of its time on this project's benchmark machine;
1000 rows keep the statement's text (10 KB) under apsw's 16 KB statement-cache limit,
beyond which it is compiled again each time."""


def validate_records(records: Sequence[Any]) -> None:
    """Check records before they are buffered (cheap: a few type checks per record).

    Raises
    ------
    StoreError
        A record is not a 4-field tuple (a :class:`MetricRecord`) of int series_id,
        int timestamp, a float or int value that is not NaN (numpy float64 is a float;
        convert numpy float32/int64 with ``float()``/``int()``), and str/None metadata.
    """
    # the common case first (MetricRecords of two ints, a float and no metadata) in
    # builtins that loop in C, at 0.8 of the cost per record of a Python loop; anything
    # else, and a NaN sum (a NaN, or infinities of both signs), takes the checks below
    n = len(records)
    if n and list(map(type, records)).count(MetricRecord) == n:
        series, stamps, values, metadata = zip(*records, strict=True)
        if (
            list(map(type, series)).count(int) == n
            and list(map(type, stamps)).count(int) == n
            and list(map(type, values)).count(float) == n
            and metadata.count(None) == n
            and not math.isnan(sum(values))
        ):
            return
    for index, record in enumerate(records):
        if not isinstance(record, tuple) or len(record) != 4:
            raise StoreError(
                f"record #{index} must be a MetricRecord(series_id, timestamp, value, "
                f"metadata=None), got {record!r}"
            )
        series_id, timestamp, value, metadata = record
        if type(series_id) is not int or type(timestamp) is not int:
            raise StoreError(
                f"record #{index}: series_id and timestamp must be Python ints "
                f"(timestamp in microseconds), got {series_id!r} and {timestamp!r}"
            )
        if not isinstance(value, float | int) or value != value:
            raise StoreError(
                f"record #{index} (series {series_id}, t={timestamp} us): value must be a "
                f"number and not NaN, got {value!r}; skip undefined values or store them "
                "in metadata"
            )
        if metadata is not None and type(metadata) is not str:
            raise StoreError(
                f"record #{index}: metadata must be JSON text or None, got {type(metadata)}"
            )


def validate_vector(record: VectorRecord) -> VectorRecord:
    """Check a fingerprint record; returns it with the embedding as float32 bytes.

    Raises
    ------
    StoreError
        Wrong dimension, non-finite or all-zero embedding, non-int ids, NaN value.
    """
    if not isinstance(record, VectorRecord):
        raise StoreError(f"expected a VectorRecord, got {type(record).__name__}")
    if type(record.series_id) is not int or type(record.timestamp_bucket) is not int:
        raise StoreError(
            f"VectorRecord series_id and timestamp_bucket must be ints, got "
            f"{record.series_id!r} and {record.timestamp_bucket!r}"
        )
    emb = record.embedding
    if isinstance(emb, bytes | bytearray | memoryview):
        emb = np.frombuffer(emb, dtype=np.float32)
    vec = np.asarray(emb, dtype=np.float32)
    if vec.shape != (VECTOR_DIM,):
        raise StoreError(
            f"fingerprint of series {record.series_id} must have shape ({VECTOR_DIM},), "
            f"got {vec.shape}; use resonance_engine.fingerprint()"
        )
    if not np.all(np.isfinite(vec)):
        raise StoreError(
            f"fingerprint of series {record.series_id} at {record.timestamp_bucket} us "
            f"holds {int(np.count_nonzero(~np.isfinite(vec)))} non-finite values"
        )
    if not np.any(vec):
        raise StoreError(
            f"fingerprint of series {record.series_id} is all zeros (cosine distance is "
            "undefined)"
        )
    value = float(record.value)
    if math.isnan(value):
        raise StoreError(f"fingerprint value of series {record.series_id} is NaN")
    return record._replace(embedding=vec.tobytes(), value=value)


def _describe(records: list[Any]) -> str:
    first = records[0]
    return f"{len(records)} record(s), first {type(first).__name__}{tuple(first[:2])}"


class BatchWriter:
    """Writes batches of records and fingerprints, each in one transaction.

    Parameters
    ----------
    conn : apsw.Connection
        Used only by this object (one writer per connection).
    """

    def __init__(self, conn: apsw.Connection) -> None:
        self.conn = conn
        self._series: dict[int, tuple[int, str]] = {}
        self._rows_per_insert = max(
            1, min(ROWS_PER_INSERT, conn.limit(apsw.SQLITE_LIMIT_VARIABLE_NUMBER) // 4)
        )
        self._insert_rows = INSERT_RECORD.replace(
            "(?, ?, ?, ?)", ",".join(["(?,?,?,?)"] * self._rows_per_insert)
        )

    def _known_series(self, ids: Iterable[int]) -> set[int]:
        missing = [i for i in ids if i not in self._series]
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(
                f"SELECT series_id, coalesce(run_id, 0), series_type FROM metric_series "
                f"WHERE series_id IN ({marks})",
                chunk,
            ).fetchall()
            for row in rows:
                sid, run_id, stype = cast(tuple[int, int, str], row)
                self._series[sid] = (run_id, stype)
        return {i for i in ids if i in self._series}

    def write(self, records: list[MetricRecord], vectors: list[VectorRecord]) -> None:
        """Write ``records`` and (validated) ``vectors`` in one transaction.

        Raises
        ------
        RejectedRecordsError
            After writing everything else: duplicates and unknown series.
        apsw.Error
            Anything else (disk full, I/O error, busy past the timeout): nothing of the
            batch was written; the caller may retry the same batch.
        """
        rejected: list[Any] = []
        reasons: list[str] = []
        fields: list[Any] = list(chain.from_iterable(records))  # four a record, as bound
        ids: set[int] = set(fields[0::4]) | {v.series_id for v in vectors}
        known = self._known_series(ids)
        if len(known) < len(ids):
            unknown = ids - known
            bad = [r for r in records if r[0] in unknown] + [
                v for v in vectors if v.series_id in unknown
            ]
            records = [r for r in records if r[0] not in unknown]
            fields = list(chain.from_iterable(records))
            vectors = [v for v in vectors if v.series_id not in unknown]
            rejected += bad
            reasons.append(f"unknown series_id {sorted(unknown)[:5]} ({_describe(bad)})")
        for _attempt in range(3):
            try:
                self._write_once(fields, vectors)
                break
            except apsw.ConstraintError:
                dup_records, records = self._split_duplicates(records)
                fields = list(chain.from_iterable(records))
                dup_vectors, vectors = self._split_duplicate_vectors(vectors)
                dups = dup_records + dup_vectors
                if not dups:
                    raise
                rejected += dups
                reasons.append(
                    f"duplicate (series_id, timestamp) keys, the first stored value is kept "
                    f"({_describe(dups)})"
                )
        else:  # pragma: no cover - a concurrent writer keeps inserting the same keys
            raise StoreError("batch kept colliding with concurrent writes; retry")
        if rejected:
            raise RejectedRecordsError(
                "rejected " + "; ".join(reasons) + "; the rest of the batch was written "
                "(the rejected records are in the exception's .records)",
                rejected,
            )

    def _write_once(self, fields: list[Any], vectors: list[VectorRecord]) -> None:
        """One transaction: the records' ``fields`` (four a record, flattened) in whole
        statements of ``_rows_per_insert`` records and the rest one a statement, then the
        ``vectors``."""
        if not fields and not vectors:
            return
        with write_transaction(self.conn) as conn:
            step = 4 * self._rows_per_insert
            whole = len(fields) - len(fields) % step
            if whole:
                conn.executemany(
                    self._insert_rows, (fields[i : i + step] for i in range(0, whole, step))
                )
            if whole < len(fields):
                conn.executemany(
                    INSERT_RECORD, (fields[i : i + 4] for i in range(whole, len(fields), 4))
                )
            if vectors:
                next_rowid: int = cast(Any, conn.execute(
                    "SELECT coalesce(max(vector_rowid), 0) + 1 FROM metric_vector_links"
                ).fetchall()[0][0])
                links = []
                rows = []
                for offset, v in enumerate(vectors):
                    rowid = next_rowid + offset
                    run_id, stype = self._series[v.series_id]
                    links.append((v.series_id, v.timestamp_bucket, rowid, v.spatial_location))
                    rows.append((
                        rowid, v.timestamp_bucket // PARTITION_US, v.embedding, v.series_id,
                        v.timestamp_bucket, stype, run_id, v.value,
                    ))
                conn.executemany(INSERT_LINK, links)
                conn.executemany(INSERT_VECTOR, rows)

    def _split_duplicates(
        self, records: list[MetricRecord]
    ) -> tuple[list[MetricRecord], list[MetricRecord]]:
        seen: set[tuple[int, int]] = set()
        dups, rest = [], []
        exists = "SELECT 1 FROM timeseries_data WHERE series_id = ? AND timestamp = ?"
        for r in records:
            key = (r[0], r[1])
            if key in seen or self.conn.execute(exists, key).fetchone() is not None:
                dups.append(r)
            else:
                seen.add(key)
                rest.append(r)
        return dups, rest

    def _split_duplicate_vectors(
        self, vectors: list[VectorRecord]
    ) -> tuple[list[VectorRecord], list[VectorRecord]]:
        seen: set[tuple[int, int]] = set()
        dups, rest = [], []
        exists = (
            "SELECT 1 FROM metric_vector_links WHERE series_id = ? AND timestamp_bucket = ?"
        )
        for v in vectors:
            key = (v.series_id, v.timestamp_bucket)
            if key in seen or self.conn.execute(exists, key).fetchone() is not None:
                dups.append(v)
            else:
                seen.add(key)
                rest.append(v)
        return dups, rest
