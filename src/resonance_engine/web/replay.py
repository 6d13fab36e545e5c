"""A read-only dashboard of a run stored in AgentDB (``resonance serve --replay RUN``).

:class:`ReplayRunner` stands where the live :class:`~resonance_engine.web.runner.SimulationRunner`
stands: it gives the page the run's whole metric history (D, G, C, tau, CI against
simulated time) and refuses every control. AgentDB keeps metrics and fingerprints, not
fields, so a replay has no heatmap.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from resonance_engine.errors import ConfigError, StoreError

__all__ = ["ReplayRunner", "STORE_SERIES"]

#: Page series name -> AgentDB series type.
STORE_SERIES: dict[str, str] = {
    "D": "fractal_dim",
    "G": "gain",
    "C": "coherence",
    "tau": "dwell",
    "CI": "ci",
}


def _stored_step(metadata: str | None, default: int) -> int:
    """The ``step`` stored in a value's metadata, else ``default``."""
    if metadata:
        try:
            return int(json.loads(metadata)["step"])
        except (ValueError, KeyError, TypeError):
            pass
    return default


class ReplayRunner:
    """The metric history of one stored run, served read-only.

    Parameters
    ----------
    rows : list of list of float
        ``[step, t, D, G, C, tau, CI]`` per stored moment, by time (NaN where a value
        was not stored).
    title : str
        What the page calls the run.
    info : dict
        Shown in the page's parameter list (run id, status, seed, ...).
    """

    mode = "replay"

    def __init__(
        self,
        rows: list[list[float]],
        title: str,
        info: dict[str, Any],
        series: tuple[str, ...] = tuple(STORE_SERIES),
        groups: list[tuple[str, list[str]]] | None = None,
        alerts: list[dict[str, Any]] | None = None,
    ) -> None:
        self.rows = rows
        self.title = title
        self.info = info
        self.series = series
        self.groups = groups if groups is not None else [(n, [n]) for n in series]
        self._alerts = alerts or []
        self.description = f"stored in AgentDB: {title}"
        self.publish: Callable[[Any], None] = lambda tick: None
        self.watchers: Callable[[], int] = lambda: 0

    @classmethod
    def from_db(cls, db: Any, run_id: int, agent_id: str | None = None) -> ReplayRunner:
        """Read run ``run_id`` (its series of ``agent_id``, None for a single field).

        Raises
        ------
        StoreError
            When the run does not exist or stored none of D, G, C, tau, CI.
        """
        run = db.run(run_id)
        if agent_id is None and any(s.agent_id is not None for s in db.series(run_id=run_id)):
            return cls._swarm_from_db(db, run)
        by_time: dict[int, list[float]] = {}
        steps: dict[int, int] = {}
        found = 0
        for column, series_type in enumerate(STORE_SERIES.values()):
            candidates = [
                s
                for s in db.series(run_id=run.run_id, series_type=series_type)
                if s.agent_id == agent_id
            ]
            if not candidates:
                continue
            found += 1
            for point in db.range(candidates[0].series_id):
                row = by_time.setdefault(point.timestamp, [math.nan] * len(STORE_SERIES))
                row[column] = point.value
                step = _stored_step(point.metadata, -1)
                if step >= 0:
                    steps.setdefault(point.timestamp, step)
        if not found:
            who = "" if agent_id is None else f" for agent {agent_id!r}"
            raise StoreError(
                f"run {run.run_id} has no D, G, C, tau or CI series{who}; "
                "'resonance db show RUN' lists what it stored"
            )
        rows = []
        for index, stamp in enumerate(sorted(by_time)):
            step = steps.get(stamp, index)
            rows.append([float(step), (stamp - run.started_at) / 1e6, *by_time[stamp]])
        title = f"run {run.run_id}" + (f" ({run.name})" if run.name else "")
        info = {
            "run": run.run_id,
            "status": run.status,
            "seed": run.seed,
            "version": run.package_version,
            "moments": len(rows),
        }
        return cls(rows, title, info)

    @classmethod
    def _swarm_from_db(cls, db: Any, run: Any) -> ReplayRunner:
        """A stored swarm run, one row per tick: the agents' means, CS, and each agent's
        CI; a value not stored (NaN) stays NaN.

        Values are grouped by the tick stored with each of them (``{"step": tick}``
        metadata, see :class:`resonance_engine.swarm.storage.AgentDBRecorder`), not by
        the order of their wall-clock timestamps, which agents of several processes do
        not write in tick order. A value without a stored tick (a database of an older
        version) counts as the tick of its position in its series. The time of a row
        is the latest timestamp of its tick, in seconds after the run's start.
        """
        import numpy as np

        from resonance_engine.web.swarm_driver import swarm_series

        series = db.series(run_id=run.run_id)
        agents = sorted(
            {s.agent_id for s in series if s.agent_id is not None}, key=lambda a: (len(a), a)
        )
        by_tick: dict[tuple[str | None, str], dict[int, float]] = {}
        stamps: dict[int, int] = {}
        for s in series:
            values = by_tick.setdefault((s.agent_id, s.series_type), {})
            for index, point in enumerate(db.range(s.series_id)):
                tick = _stored_step(point.metadata, index)
                values[tick] = point.value
                if s.agent_id is not None:
                    stamps[tick] = max(stamps.get(tick, point.timestamp), point.timestamp)
        ticks = sorted({t for a in agents for t in by_tick.get((a, "ci"), {})})
        if not ticks:
            raise StoreError(f"run {run.run_id} stored no CI of its agents; nothing to show")

        def column(key: tuple[str | None, str]) -> Any:
            values = by_tick.get(key, {})
            return np.array([values.get(t, np.nan) for t in ticks])

        per_agent = {
            kind: np.array([column((a, kind)) for a in agents])
            for kind in STORE_SERIES.values()
        }
        with np.errstate(all="ignore"):
            means = [np.nanmean(per_agent[kind], axis=0) for kind in STORE_SERIES.values()]
        columns = [
            np.array(ticks, dtype=float),
            (np.array([stamps[t] for t in ticks]) - run.started_at) / 1e6,
            *means,
            column((None, "cs")),
            *per_agent["ci"],
        ]
        rows = np.column_stack(columns).tolist()
        ids = tuple(int(a) if a.isdigit() else i for i, a in enumerate(agents))
        names, groups = swarm_series(ids)
        alerts = [
            {
                "type": "alert",
                "step": 0,
                "tick": None,
                "kind": a.kind,
                "value": a.value,
                "threshold": None,
                "message": a.message,
            }
            for a in db.alerts(run_id=run.run_id)
        ]
        title = f"swarm run {run.run_id}" + (f" ({run.name})" if run.name else "")
        info = {
            "run": run.run_id,
            "status": run.status,
            "seed": run.seed,
            "version": run.package_version,
            "moments": len(rows),
            "agents": len(agents),
        }
        return cls(rows, title, info, names, groups, alerts)

    # the interface of SimulationRunner that the app uses
    def frame_shape(self) -> tuple[int, int]:
        return (0, 0)

    def history(self) -> list[list[float]]:
        return list(self.rows)

    def alerts(self) -> list[dict[str, Any]]:
        return list(self._alerts)

    def state(self) -> dict[str, Any]:
        last = self.rows[-1] if self.rows else [0, 0.0]
        return {
            "paused": True,
            "running": False,
            "error": None,
            "step": int(last[0]),
            "t": float(last[1]),
            "replay": self.info,
        }

    def request(self, action: str, **params: Any) -> Future[dict[str, Any]]:
        future: Future[dict[str, Any]] = Future()
        future.set_exception(ConfigError("this is a read-only replay of a stored run"))
        return future

    def request_frame(self) -> None:
        pass

    def is_running(self) -> bool:
        return False

    def start(self) -> None:
        pass

    def stop(self, timeout: float = 0.0) -> None:
        pass
