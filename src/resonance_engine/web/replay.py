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

    def __init__(self, rows: list[list[float]], title: str, info: dict[str, Any]) -> None:
        self.rows = rows
        self.title = title
        self.info = info
        self.series: tuple[str, ...] = tuple(STORE_SERIES)
        self.groups: list[tuple[str, list[str]]] = [(n, [n]) for n in self.series]
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
                if point.metadata and point.timestamp not in steps:
                    try:
                        steps[point.timestamp] = int(json.loads(point.metadata)["step"])
                    except (ValueError, KeyError, TypeError):
                        pass
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

    # the interface of SimulationRunner that the app uses
    def frame_shape(self) -> tuple[int, int]:
        return (0, 0)

    def history(self) -> list[list[float]]:
        return list(self.rows)

    def alerts(self) -> list[dict[str, Any]]:
        return []

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
