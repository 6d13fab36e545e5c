"""Where sweep results are kept: one result store on the client, keyed by the run key.

A result store is anything with ``has(key)``, ``get(key)``, ``write(result)`` and ``close()``
(:class:`ResultStore`). :func:`~resonance_engine.dist.sweep.run_sweep` calls them on the
client only, so a database has exactly one writing process however many workers run.

- :class:`MemoryResults`: a dict (the default; tests).
- :class:`JsonlResults`: one JSON line per run in a file; reopening resumes the sweep.
- :class:`AgentDBResults`: a ``runs`` row per run in an AgentDB (name ``sweep:<key>``,
  config, seed, the scalar results as the run summary) plus the per-frame series.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from resonance_engine.dist.sweep import RunResult
from resonance_engine.errors import StoreError

__all__ = ["ResultStore", "MemoryResults", "JsonlResults", "AgentDBResults", "RUN_NAME_PREFIX"]

#: Name of the AgentDB run of a sweep point: this prefix and the run key.
RUN_NAME_PREFIX = "sweep:"


@runtime_checkable
class ResultStore(Protocol):
    """What :func:`~resonance_engine.dist.sweep.run_sweep` needs from a store."""

    def has(self, key: str) -> bool:
        """True when a result with this run key is stored."""
        ...

    def get(self, key: str) -> RunResult | None:
        """The stored result with this key, or None."""
        ...

    def write(self, result: RunResult) -> None:
        """Store one result (called once per key)."""
        ...

    def close(self) -> None:
        """Flush and release the store."""
        ...


class MemoryResults:
    """Results in a dict (key -> result); ``writes`` lists every key written, in order."""

    def __init__(self) -> None:
        self.results: dict[str, RunResult] = {}
        self.writes: list[str] = []

    def has(self, key: str) -> bool:
        return key in self.results

    def get(self, key: str) -> RunResult | None:
        return self.results.get(key)

    def write(self, result: RunResult) -> None:
        self.results[result.key] = result
        self.writes.append(result.key)

    def close(self) -> None:
        pass

    def __enter__(self) -> MemoryResults:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class JsonlResults(MemoryResults):
    """One JSON object per line (``RunResult.to_dict()``), flushed and fsynced per run.

    Opening an existing file loads its results, so running the same sweep again only
    runs what is missing. A truncated last line (the client was killed mid-write) is
    ignored.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.path = Path(path)
        try:
            if self.path.exists():
                for line in self.path.read_text(encoding="utf-8").splitlines():
                    try:
                        result = RunResult.from_dict(json.loads(line))
                    except (json.JSONDecodeError, TypeError):
                        continue
                    self.results[result.key] = result
            self._file = self.path.open("a", encoding="utf-8")
        except OSError as exc:
            raise StoreError(f"cannot open results file {str(self.path)!r}: {exc}") from None

    def write(self, result: RunResult) -> None:
        self._file.write(json.dumps(result.to_dict(), default=str) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        super().write(result)

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


def _finite(value: float) -> float | None:
    return value if isinstance(value, float) and math.isfinite(value) else None


class AgentDBResults(MemoryResults):
    """Sweep results in an AgentDB (:class:`resonance_engine.store.AgentDB`).

    Each run becomes a ``runs`` row named ``sweep:<key>`` with the run's configuration and
    seed, status ``finished`` and, as its summary, the parameters and scalar results.
    The per-frame series (CI, D, C, G, tau, energy) go into ``metric_series`` /
    ``timeseries_data`` with the simulated time as the timestamp (microseconds).

    Parameters
    ----------
    db : str, PathLike or AgentDB
        The database (opened here and closed by :meth:`close` when a path is given).
    owned : bool, optional
        Close the database in :meth:`close` (default: only when opened here).
    """

    #: Per-frame series written for each run (series_type = name).
    SERIES = ("ci", "fractal_dim", "coherence", "gain", "dwell", "energy")

    def __init__(self, db: Any, owned: bool | None = None) -> None:
        super().__init__()
        self.run_ids: dict[str, int] = {}
        try:
            from resonance_engine.store import AgentDB
        except ImportError:
            raise StoreError(
                "storing sweeps needs resonance_engine.store (AgentDB) and its dependencies "
                "(apsw, sqlite-vec); install resonance-engine with them or use --no-db"
            ) from None
        opened_here = not isinstance(db, AgentDB)
        self._owned = opened_here if owned is None else owned
        self.db = AgentDB(db) if opened_here else db
        # key -> run_id of rows a killed or interrupted client left unfinished
        self._partial: dict[str, list[int]] = {}
        for run in self.db.runs():
            if not (run.name and run.name.startswith(RUN_NAME_PREFIX)):
                continue
            summary = run.summary or {}
            if run.status == "finished" and "result" in summary:
                result = RunResult.from_dict(summary["result"])
                self.results[result.key] = result
                self.run_ids[result.key] = run.run_id
            else:
                key = run.name.removeprefix(RUN_NAME_PREFIX)
                self._partial.setdefault(key, []).append(run.run_id)

    def write(self, result: RunResult) -> None:
        from resonance_engine.store import now_us

        # a row left half-written by an earlier, interrupted client is replaced
        for stale in self._partial.pop(result.key, []):
            self.db.delete_run(stale)
        run_id = self.db.create_run(
            result.config, result.seed, name=f"{RUN_NAME_PREFIX}{result.key}",
            started_at=(started_at := now_us()),
        )
        try:
            self._fill(run_id, started_at, result)
        except BaseException:
            # Ctrl-C or an error in the middle: leave no half-written run behind (if even
            # this is interrupted, the next writer on this database replaces the row)
            self._partial.setdefault(result.key, []).append(run_id)
            try:
                self.db.delete_run(run_id)
                self._partial[result.key].remove(run_id)
            except Exception:  # noqa: BLE001 - the original error matters more
                pass
            raise
        self.run_ids[result.key] = run_id
        super().write(result)

    def _fill(self, run_id: int, started_at: int, result: RunResult) -> None:
        from resonance_engine.store import MetricRecord

        # timestamps: run start + simulated time, as RunRecorder does
        times = [started_at + round(t * 1e6) for t in result.series.get("t", [])]
        for series_type in self.SERIES:
            values = result.series.get(series_type) or []
            records = [
                (ts, float(v)) for ts, v in zip(times, values, strict=False) if math.isfinite(v)
            ]
            if records:
                series_id = self.db.series_id(run_id, series_type)
                self.db.insert([MetricRecord(series_id, ts, v) for ts, v in records])
        summary = {
            "params": result.params,
            **{k: _finite(v) for k, v in result.scalars().items()},
            "result": result.to_dict(),
        }
        self.db.finish_run(run_id, "finished", json.loads(json.dumps(summary, default=str)))

    def close(self) -> None:
        if self._owned:
            self.db.close()
