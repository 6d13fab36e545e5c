"""Plain records written to and read from AgentDB.

Every record is a :class:`typing.NamedTuple`: it prints readably, unpacks like a tuple
and (for :class:`MetricRecord`) its fields go to SQLite's bindings as they are.
Query results come back as a :class:`RecordList`, a list with ``to_dataframe()`` (pandas,
optional) and ``column(name)`` (numpy).
"""

from __future__ import annotations

from typing import Any, Generic, NamedTuple, TypeVar

import numpy as np

from resonance_engine.errors import StoreError

__all__ = [
    "MetricRecord",
    "VectorRecord",
    "RunInfo",
    "SeriesInfo",
    "Point",
    "SeriesStats",
    "Aggregate",
    "SimilarHit",
    "Alert",
    "RecordList",
]


class MetricRecord(NamedTuple):
    """One value of one series.

    Attributes
    ----------
    series_id : int
        From :meth:`AgentDB.series_id <resonance_engine.store.AgentDB.series_id>`.
    timestamp : int
        Microseconds since the Unix epoch (a Python ``int``; floats are refused).
    value : float
        The value; NaN is refused (SQLite cannot store it), +-inf is stored.
    metadata : str or None
        Optional JSON text.
    """

    series_id: int
    timestamp: int
    value: float
    metadata: str | None = None


class VectorRecord(NamedTuple):
    """One fingerprint of one series in one time bucket.

    Attributes
    ----------
    series_id : int
    timestamp_bucket : int
        Start of the time bucket (us since the epoch).
    embedding : ndarray, shape (128,)
        Finite, not all zero (cosine distance); converted to float32.
    value : float
        The series value the fingerprint goes with (returned by similarity queries).
    spatial_location : str or None
        Optional JSON, e.g. ``{"x": 0.3, "y": 0.5}``.
    """

    series_id: int
    timestamp_bucket: int
    embedding: Any
    value: float
    spatial_location: str | None = None


class RunInfo(NamedTuple):
    """A row of ``runs`` (times in us since the epoch; config and summary decoded)."""

    run_id: int
    name: str | None
    started_at: int
    finished_at: int | None
    status: str
    seed: int | None
    config: dict[str, Any]
    package_version: str
    summary: dict[str, Any] | None


class SeriesInfo(NamedTuple):
    """A row of ``metric_series``."""

    series_id: int
    run_id: int | None
    agent_id: str | None
    series_name: str
    series_type: str
    created_at: int


class Point(NamedTuple):
    """One stored value: timestamp (us), value, metadata (JSON text or None)."""

    timestamp: int
    value: float
    metadata: str | None


class SeriesStats(NamedTuple):
    """Summary of one series: n values between first and last (us); min, mean, max."""

    series_id: int
    n: int
    first: int | None
    last: int | None
    min: float | None
    mean: float | None
    max: float | None


class Aggregate(NamedTuple):
    """Downsampled values of one time bucket [bucket, bucket + width): n values."""

    bucket: int
    n: int
    min: float
    mean: float
    max: float


class SimilarHit(NamedTuple):
    """One result of :meth:`AgentDB.similar <resonance_engine.store.AgentDB.similar>`."""

    series_id: int
    timestamp_bucket: int
    value: float
    distance: float
    run_id: int | None
    series_type: str
    vector_rowid: int


class Alert(NamedTuple):
    """A row of ``alerts``."""

    alert_id: int
    run_id: int | None
    agent_id: str | None
    timestamp: int
    kind: str
    message: str
    value: float | None


T = TypeVar("T", bound=tuple)


class RecordList(list[T], Generic[T]):
    """A list of named tuples with conversions to numpy and pandas."""

    def __init__(self, rows: list[T] | None = None, fields: tuple[str, ...] = ()) -> None:
        super().__init__(rows or [])
        self.fields = fields

    def column(self, name: str) -> np.ndarray:
        """The values of one field as a numpy array, shape (len(self),)."""
        if name not in self.fields:
            raise StoreError(f"no column {name!r}; the columns are {list(self.fields)}")
        index = self.fields.index(name)
        return np.array([row[index] for row in self])

    def to_dataframe(self) -> Any:
        """A :class:`pandas.DataFrame` with one column per field (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            raise StoreError(
                "to_dataframe() needs pandas: pip install 'resonance-engine[export]'"
            ) from None
        return pd.DataFrame.from_records(list(self), columns=list(self.fields))
