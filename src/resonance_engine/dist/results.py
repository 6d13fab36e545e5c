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
import os
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from resonance_engine.dist.sweep import RunResult
from resonance_engine.errors import DuplicateRunError, StoreError
from resonance_engine.json_safe import json_safe
from resonance_engine.store import AgentDB, RunRecorder

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

    def write(self, result: RunResult) -> bool | None:
        """Store one result (called once per key); False when it was not stored because
        another writer stored the same key meanwhile."""
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

    def write(self, result: RunResult) -> bool:
        self.results[result.key] = result
        self.writes.append(result.key)
        return True

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

    def write(self, result: RunResult) -> bool:
        self._file.write(json.dumps(result.to_dict(), default=str) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        return super().write(result)

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


class AgentDBResults(MemoryResults):
    """Sweep results in an AgentDB (:class:`resonance_engine.store.AgentDB`).

    Each run becomes a ``runs`` row named ``sweep:<key>`` whose ``run_key`` is the run key
    (unique in the database), with the run's configuration and seed, status ``finished``
    and, as its summary, the parameters and scalar results. The per-frame series (CI, D,
    C, G, tau, energy, each value with its step) are stored through the one recorder,
    :class:`resonance_engine.store.RunRecorder`, at the run's start plus the simulated
    time (microseconds).

    A key another writer stored meanwhile (two identical sweeps at once on one database)
    is not stored again: :meth:`write` returns False.

    Parameters
    ----------
    db : str, PathLike or AgentDB
        The database (opened here and closed by :meth:`close` when a path is given).
    owned : bool, optional
        Close the database in :meth:`close` (default: only when opened here).
    """

    #: Per-frame series written for each run (series_type = name).
    SERIES = ("ci", "fractal_dim", "coherence", "gain", "dwell", "energy")

    def __init__(self, db: str | os.PathLike[str] | AgentDB, owned: bool | None = None) -> None:
        super().__init__()
        self.run_ids: dict[str, int] = {}
        opened_here = not isinstance(db, AgentDB)
        self._owned = opened_here if owned is None else owned
        self.db: AgentDB = db if isinstance(db, AgentDB) else AgentDB(db)
        # key -> run_id of rows a killed or interrupted client left unfinished
        self._partial: dict[str, list[int]] = {}
        for run in self.db.runs():
            if not (run.name and run.name.startswith(RUN_NAME_PREFIX)):
                continue
            if self._load(run) is None:
                key = run.name.removeprefix(RUN_NAME_PREFIX)
                self._partial.setdefault(key, []).append(run.run_id)

    def _load(self, run: Any) -> RunResult | None:
        """The result of a finished stored run (and remember it), else None."""
        summary = run.summary or {}
        if run.status != "finished" or "result" not in summary:
            return None
        result = RunResult.from_dict(summary["result"])
        self.results[result.key] = result
        self.run_ids[result.key] = run.run_id
        return result

    def write(self, result: RunResult) -> bool:
        """Store ``result``; False when another writer stored its key meanwhile."""
        # a row left half-written by an earlier, interrupted client is replaced, unless
        # another writer has finished it since this store was opened
        for stale in self._partial.pop(result.key, []):
            run = self.db.run(stale)
            if self._load(run) is not None:
                return False
            self.db.delete_run(stale)
        try:
            recorder = RunRecorder.start(
                self.db, result.config, result.seed, name=f"{RUN_NAME_PREFIX}{result.key}",
                key=result.key, series_types=self.SERIES,
            )
        except DuplicateRunError:
            super().write(result)
            return False
        try:
            series = result.series
            for i, t in enumerate(series.get("t", [])):
                frame = {name: series[name][i] for name in self.SERIES if name in series}
                recorder.record(frame, t=t, step=int(series["step"][i]))
            summary = {
                "params": result.params,
                **{k: json_safe(v) for k, v in result.scalars().items()},
                "result": result.to_dict(),
            }
            recorder.close("finished", json.loads(json.dumps(summary, default=str)))
        except BaseException:
            # Ctrl-C or an error in the middle: leave no half-written run behind (if even
            # this is interrupted, the next store on this database replaces the row)
            self._partial.setdefault(result.key, []).append(recorder.run_id)
            try:
                recorder.close("failed")
            except Exception:  # noqa: BLE001 - the original error matters more
                pass
            try:
                self.db.delete_run(recorder.run_id)
                self._partial[result.key].remove(recorder.run_id)
            except Exception:  # noqa: BLE001
                pass
            raise
        self.run_ids[result.key] = recorder.run_id
        super().write(result)
        return True

    def close(self) -> None:
        if self._owned:
            self.db.close()
