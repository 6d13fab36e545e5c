"""RunRecorder: store one simulation run (its metric series and fingerprints).

Example
-------
>>> import numpy as np
>>> from resonance_engine.store import AgentDB, RunRecorder
>>> db = AgentDB(":memory:")
>>> with RunRecorder.start(db, {"steps": 3}, seed=0) as rec:
...     for step in range(3):
...         m = {"fractal_dim": 1.5, "gain": 0.2, "coherence": 0.7, "dwell": 3.0,
...              "ci": 0.1 * step, "t": 0.05 * step}
...         rec.record(m, field=np.random.default_rng(step).normal(size=(32, 32)), step=step)
>>> [round(p.value, 2) for p in db.range(rec.series["ci"])]
[0.0, 0.1, 0.2]
>>> db.run(rec.run_id).status
'finished'
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from resonance_engine.errors import StoreError
from resonance_engine.store.db import SERIES_TYPES, AgentDB
from resonance_engine.store.fingerprint import fingerprint
from resonance_engine.store.metric_writer import MetricWriter
from resonance_engine.store.records import MetricRecord, VectorRecord

__all__ = ["RunRecorder", "DEFAULT_BUCKET_US"]

#: Default width of a fingerprint time bucket: 0.1 s of simulated time (us).
DEFAULT_BUCKET_US = 100_000


def _get(metrics: Any, name: str) -> Any:
    if isinstance(metrics, Mapping):
        return metrics.get(name)
    return getattr(metrics, name, None)


class RunRecorder:
    """Writes the frames of one run into an AgentDB.

    Each :meth:`record` call stores the five scalar series ``fractal_dim``, ``gain``,
    ``coherence``, ``dwell`` and ``ci`` at one timestamp, and, for the first frame of
    every time bucket that comes with a field, the field's :func:`fingerprint` linked to
    the ``fingerprint_series`` series (value: that series' value).

    Timestamps: microseconds since the epoch, ``run.started_at + round(t * 1e6)`` for a
    frame at simulated time ``t`` seconds, so one simulated second is 1e6 us after the
    run's start and the series of a seeded run always have the same relative times.

    Parameters
    ----------
    db : AgentDB
    run_id : int
        An existing run (see :meth:`start` to create one).
    agent_id : str, optional
        For swarms: one recorder per agent.
    bucket_us : int
        Fingerprint bucket width (us of simulated time after the start); default 0.1 s.
    writer : MetricWriter, optional
        Share one writer between several recorders (one writer per database); by
        default the recorder opens and closes its own.
    fingerprint_series : str
        Series type the fingerprints are linked to.
    series_types : tuple of str
        The series stored per frame (default the five measures; a sweep adds "energy").

    Attributes
    ----------
    series : dict of str to int
        Series type -> series_id.
    frames, values, skipped, fingerprints : int
        Frames recorded, values stored, NaN (and infinite) values skipped (e.g. D of an empty field:
        nothing is stored for that series at that time), fingerprints stored.
    """

    def __init__(
        self,
        db: AgentDB,
        run_id: int,
        *,
        agent_id: str | None = None,
        bucket_us: int = DEFAULT_BUCKET_US,
        writer: MetricWriter | None = None,
        fingerprint_series: str = "ci",
        series_types: tuple[str, ...] = SERIES_TYPES,
    ) -> None:
        if not isinstance(bucket_us, int) or bucket_us <= 0:
            raise StoreError(f"bucket_us must be a positive int (us), got {bucket_us!r}")
        if fingerprint_series not in series_types:
            raise StoreError(
                f"fingerprint_series must be one of {series_types}, got {fingerprint_series!r}"
            )
        self.db = db
        self.run_id = run_id
        self.started_at = db.run(run_id).started_at
        self.bucket_us = bucket_us
        self.fingerprint_series = fingerprint_series
        self.series = {name: db.series_id(run_id, name, agent_id) for name in series_types}
        self._owns_writer = writer is None
        self.writer = writer if writer is not None else MetricWriter(db)
        self._last_bucket: int | None = None
        self._last_stamp: int | None = None
        self.frames = 0
        self.values = 0
        self.skipped = 0
        self.fingerprints = 0
        self._closed = False

    @classmethod
    def start(
        cls,
        db: AgentDB,
        config: Any,
        seed: int | None,
        *,
        name: str | None = None,
        key: str | None = None,
        **kwargs: Any,
    ) -> RunRecorder:
        """Create a ``runs`` row for ``config``/``seed`` and a recorder for it.

        ``key``: the run's identity, unique in the database (``DuplicateRunError`` when
        a run with it is already stored; see :meth:`AgentDB.create_run`).
        """
        return cls(db, db.create_run(config, seed, name=name, key=key), **kwargs)

    def timestamp(self, t: float) -> int:
        """Timestamp (us since the epoch) of simulated time ``t`` (s)."""
        return self.started_at + round(t * 1e6)

    def record(
        self,
        metrics: Any,
        field: Any = None,
        *,
        t: float | None = None,
        step: int | None = None,
        timestamp_us: int | None = None,
    ) -> None:
        """Store one frame.

        Parameters
        ----------
        metrics : ComplexityMetrics or mapping
            Attributes/keys ``fractal_dim``, ``gain``, ``coherence``, ``dwell``, ``ci``
            (missing or NaN ones are skipped) and ``t`` (simulated time, s) and ``step``
            when ``t``/``step`` are not given.
        field : array-like of shape (ny, nx), or a callable returning one, optional
            The wave field of the frame, for the bucket's fingerprint. A callable is
            called only for the first frame of each bucket (so a GPU-resident field is
            read back once per bucket, not once per frame).
        t : float, optional
            Simulated time (s); default ``metrics.t``.
        step : int, optional
            Stored as ``{"step": step}`` metadata; default ``metrics.step``. Replays
            order and group frames by it (a swarm's tick), not by the timestamp.
        timestamp_us : int, optional
            The frame's timestamp (us since the epoch) instead of one from ``t``: for
            values without a simulated time, e.g. a swarm's signatures (their wall-clock
            stamp). The stamps of one recorder are kept strictly increasing.
        """
        if self._closed:
            raise StoreError("this RunRecorder is closed")
        step = _get(metrics, "step") if step is None else step
        if timestamp_us is None:
            t = _get(metrics, "t") if t is None else t
            if t is None or not math.isfinite(float(t)):
                raise StoreError(f"record() needs the simulated time t in seconds, got {t!r}")
            stamp = self.timestamp(float(t))
        else:
            stamp = int(timestamp_us)
            if self._last_stamp is not None and stamp <= self._last_stamp:
                stamp = self._last_stamp + 1  # (series, timestamp) is the primary key
        self._last_stamp = stamp
        meta = None if step is None else json.dumps({"step": int(step)})
        records = []
        for name in self.series:
            value = _get(metrics, name)
            if value is None or not math.isfinite(float(value)):
                self.skipped += 1
                continue
            records.append(MetricRecord(self.series[name], stamp, float(value), meta))
        self.writer.add_many(records)
        self.values += len(records)
        self.frames += 1
        if field is not None:
            offset = stamp - self.started_at
            bucket = self.started_at + offset - offset % self.bucket_us
            if bucket != self._last_bucket:
                value = _get(metrics, self.fingerprint_series)
                value = 0.0 if value is None or math.isnan(float(value)) else float(value)
                vector = fingerprint(field() if callable(field) else field, metrics)
                series_id = self.series[self.fingerprint_series]
                self.writer.add_vector(VectorRecord(series_id, bucket, vector, value))
                self._last_bucket = bucket
                self.fingerprints += 1

    def close(
        self,
        status: str = "finished",
        summary: Mapping[str, Any] | None = None,
        *,
        error: str | None = None,
    ) -> None:
        """Write everything buffered and mark the run ``status`` (idempotent).

        A run whose data did not reach the database is stored ``failed``, whatever
        ``status`` says, with the reason as the summary's ``error``; the writer's error
        is raised after that. ``error`` (e.g. the exception that failed the run) is
        stored the same way.
        """
        if self._closed:
            return
        self._closed = True
        summary = dict(summary) if summary is not None else None
        if error is not None:
            summary = {**(summary or {}), "error": error}
        try:
            if self._owns_writer:
                self.writer.close()
            else:
                self.writer.flush()
        except BaseException as exc:
            reason = f"data not stored: {type(exc).__name__}: {exc}"
            self.db.finish_run(self.run_id, "failed", {**(summary or {}), "error": reason})
            raise
        self.db.finish_run(self.run_id, status, summary)

    def __enter__(self) -> RunRecorder:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is None:
            self.close("finished")
        elif issubclass(exc_type, KeyboardInterrupt | SystemExit):
            self.close("interrupted")
        else:
            self.close("failed", error=f"{exc_type.__name__}: {exc[0]}")
