"""The ``optimizations`` and ``evaluations`` tables (schema version 2).

Every objective evaluation of :func:`resonance_engine.optimize.optimize` is a row, so an
interrupted optimisation can resume and a finished one can be queried.
:class:`OptimizationTable` is mixed into :class:`~resonance_engine.store.AgentDB`.

Example
-------
>>> from resonance_engine.store import AgentDB, EvaluationRecord
>>> db = AgentDB(":memory:")
>>> opt = db.create_optimization({"objective": "sphere"}, seed=1, name="demo")
>>> db.add_evaluations(opt, [EvaluationRecord(0, 0, 0, (0.5, 1.0), 1.25, (1,))])
>>> db.evaluations(opt)[0].value
1.25
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import apsw

from resonance_engine.errors import StoreError
from resonance_engine.store.connection import describe_error, write_transaction
from resonance_engine.store.records import RecordList

__all__ = ["EvaluationRecord", "OptimizationInfo", "OptimizationTable"]


class EvaluationRecord(NamedTuple):
    """One objective evaluation.

    Attributes
    ----------
    evaluation : int
        0, 1, ... in the order the optimiser asked for candidates.
    generation : int
        Generation counter over the whole optimisation (restarts included).
    restart : int
        0 for the first run, 1.. for the restarts.
    params : tuple of float
        The candidate (in parameter units).
    value : float
        Objective value (+inf for a failed evaluation; NaN is refused).
    seeds : tuple of int
        Replicate seeds the value was averaged over (empty when none).
    """

    evaluation: int
    generation: int
    restart: int
    params: tuple[float, ...]
    value: float
    seeds: tuple[int, ...] = ()


class OptimizationInfo(NamedTuple):
    """One row of ``optimizations`` (config and best_params decoded from JSON)."""

    optimization_id: int
    name: str | None
    started_at: int
    finished_at: int | None
    status: str
    seed: int | None
    config: dict[str, Any]
    best_value: float | None
    best_params: list[float] | None


class OptimizationTable:
    """AgentDB methods for optimisations (needs ``_write``, ``_query``, ``conn``, ``_lock``)."""

    _lock: Any

    if TYPE_CHECKING:

        @property
        def conn(self) -> apsw.Connection: ...

    path: str
    _query: Callable[..., list[tuple[Any, ...]]]
    _write: Callable[..., int]

    def create_optimization(
        self, config: Mapping[str, Any], seed: int | None, name: str | None = None
    ) -> int:
        """Insert an optimisation (status "running"); returns its id."""
        from resonance_engine.store.db import now_us

        try:
            text = json.dumps(dict(config), sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise StoreError(f"optimisation config is not JSON-serializable: {exc}") from None
        return self._write(
            "INSERT INTO optimizations(name, started_at, status, seed, config) "
            "VALUES (?, ?, 'running', ?, ?)", (name, now_us(), seed, text))

    def finish_optimization(
        self, optimization_id: int, status: str, best_value: float | None,
        best_params: Sequence[float] | None,
    ) -> None:
        """Set the status ("finished", "interrupted", "failed"), end time and best point."""
        from resonance_engine.store.db import now_us

        self.optimization(optimization_id)
        finite = best_value is not None and math.isfinite(best_value)
        self._write(
            "UPDATE optimizations SET status = ?, finished_at = ?, best_value = ?, "
            "best_params = ? WHERE optimization_id = ?",
            (status, now_us(), float(cast(float, best_value)) if finite else None,
             None if best_params is None else json.dumps([float(v) for v in best_params]),
             optimization_id))

    _COLUMNS = ("optimization_id, name, started_at, finished_at, status, seed, config, "
                "best_value, best_params")

    @staticmethod
    def _info(row: tuple[Any, ...]) -> OptimizationInfo:
        values = list(row)
        values[6] = json.loads(values[6])
        values[8] = None if values[8] is None else json.loads(values[8])
        return OptimizationInfo(*values)

    def optimization(self, optimization_id: int) -> OptimizationInfo:
        """The optimisation with this id (StoreError if there is none)."""
        rows = self._query(f"SELECT {self._COLUMNS} FROM optimizations WHERE "
                           "optimization_id = ?", (optimization_id,))
        if not rows:
            raise StoreError(
                f"no optimisation {optimization_id!r} in {self.path!r}; list them with "
                "'resonance optimize --list --db PATH'"
            )
        return self._info(rows[0])

    def optimizations(self) -> RecordList[OptimizationInfo]:
        """All optimisations, newest first."""
        rows = self._query(f"SELECT {self._COLUMNS} FROM optimizations "
                           "ORDER BY optimization_id DESC")
        return RecordList([self._info(r) for r in rows], OptimizationInfo._fields)

    def add_evaluations(
        self, optimization_id: int, records: Sequence[EvaluationRecord]
    ) -> None:
        """Store evaluations in one transaction (a repeated evaluation number is an error)."""
        from resonance_engine.store.db import now_us

        stamp = now_us()
        rows = []
        for r in records:
            if math.isnan(r.value):
                raise StoreError(f"evaluation {r.evaluation} has value NaN; store +inf "
                                 "for a failed evaluation")
            rows.append((optimization_id, int(r.evaluation), int(r.generation),
                         int(r.restart), json.dumps([float(v) for v in r.params]),
                         float(r.value), json.dumps([int(s) for s in r.seeds]), stamp))
        with self._lock:
            conn = self.conn
            try:
                with write_transaction(conn):
                    conn.executemany(
                        "INSERT INTO evaluations(optimization_id, evaluation, generation, "
                        "restart, params, value, seeds, created_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            except apsw.Error as exc:
                raise StoreError(f"cannot store evaluations ({describe_error(exc)})") from None

    def evaluations(self, optimization_id: int) -> RecordList[EvaluationRecord]:
        """Every evaluation of an optimisation, by evaluation number."""
        rows = self._query(
            "SELECT evaluation, generation, restart, params, value, seeds FROM evaluations "
            "WHERE optimization_id = ? ORDER BY evaluation", (optimization_id,))
        return RecordList(
            [EvaluationRecord(e, g, r, tuple(json.loads(p)), v, tuple(json.loads(s or "[]")))
             for e, g, r, p, v, s in rows], EvaluationRecord._fields)
