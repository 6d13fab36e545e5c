"""The ``trajectories`` table: sampled safe sets of learning MPC (schema version 2).

A safe set is a name; each stored episode is one closed-loop trajectory x_0..x_T with the
inputs u_0..u_{T-1} and the cost-to-go of every state. :class:`TrajectoryTable` is mixed
into :class:`~resonance_engine.store.AgentDB`.

Example
-------
>>> import numpy as np
>>> from resonance_engine.store import AgentDB
>>> db = AgentDB(":memory:")
>>> db.add_trajectory("demo", np.array([[2.0], [1.0], [0.0]]), np.array([[-1.0], [-1.0]]),
...                   np.array([6.0, 2.0, 0.0]))
0
>>> [t.cost_to_go.tolist() for t in db.trajectories("demo")]
[[6.0, 2.0, 0.0]]
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import apsw
import numpy as np

from resonance_engine.errors import StoreError
from resonance_engine.store.connection import describe_error, write_transaction

__all__ = ["StoredTrajectory", "TrajectoryTable"]


@dataclass(frozen=True)
class StoredTrajectory:
    """One episode of a safe set.

    Attributes
    ----------
    episode : int
        0, 1, ... in the order they were added.
    x : ndarray, shape (T + 1, n)
    u : ndarray, shape (T, m)
    cost_to_go : ndarray, shape (T + 1,)
    """

    episode: int
    x: np.ndarray
    u: np.ndarray
    cost_to_go: np.ndarray


def _finite(name: str, value: Any, ndim: int) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != ndim or not np.all(np.isfinite(arr)):
        raise StoreError(f"trajectory {name} must be a finite {ndim}-D array, got shape "
                         f"{arr.shape}")
    return arr


class TrajectoryTable:
    """AgentDB methods for the ``trajectories`` table (needs ``_query``, ``conn``, ``_lock``)."""

    _lock: Any

    if TYPE_CHECKING:

        @property
        def conn(self) -> apsw.Connection: ...

    _query: Callable[..., list[tuple[Any, ...]]]

    def add_trajectory(self, safe_set: str, x: Any, u: Any, cost_to_go: Any) -> int:
        """Store one episode; returns its episode number (one more than the last).

        Parameters
        ----------
        safe_set : str
            Name of the safe set (e.g. the controller's name).
        x : array (T + 1, n)
        u : array (T, m)
        cost_to_go : array (T + 1,)
        """
        from resonance_engine.store.db import now_us

        if not (isinstance(safe_set, str) and safe_set):
            raise StoreError(f"safe_set must be a non-empty string, got {safe_set!r}")
        x, u = _finite("x", x, 2), _finite("u", u, 2)
        cost = _finite("cost_to_go", cost_to_go, 1)
        if len(x) != len(u) + 1 or len(cost) != len(x):
            raise StoreError(
                f"trajectory needs x (T + 1, n), u (T, m) and cost_to_go (T + 1,), got "
                f"{x.shape}, {u.shape} and {cost.shape}"
            )
        stamp = now_us()
        with self._lock:
            conn = self.conn
            try:
                with write_transaction(conn):
                    last = conn.execute(
                        "SELECT max(episode) FROM trajectories WHERE safe_set = ?", (safe_set,)
                    ).fetchall()[0][0]
                    episode = 0 if last is None else int(last) + 1
                    rows = [
                        (safe_set, episode, t, json.dumps(x[t].tolist()),
                         json.dumps(u[t].tolist()) if t < len(u) else None,
                         float(cost[t]), stamp)
                        for t in range(len(x))
                    ]
                    conn.executemany(
                        "INSERT INTO trajectories(safe_set, episode, t, x, u, cost_to_go, "
                        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            except apsw.Error as exc:
                raise StoreError(f"cannot store trajectory ({describe_error(exc)})") from None
        return episode

    def trajectories(self, safe_set: str, last: int | None = None) -> list[StoredTrajectory]:
        """The episodes of a safe set, oldest first (only the ``last`` ones if given)."""
        rows = self._query(
            "SELECT episode, t, x, u, cost_to_go FROM trajectories WHERE safe_set = ? "
            "ORDER BY episode, t", (safe_set,))
        by_episode: dict[int, list[tuple[Any, ...]]] = {}
        for row in rows:
            by_episode.setdefault(int(row[0]), []).append(row)
        out = []
        for episode, items in by_episode.items():
            x = np.array([json.loads(r[2]) for r in items], dtype=np.float64)
            u = np.array([json.loads(r[3]) for r in items[:-1]], dtype=np.float64)
            u = u.reshape(len(items) - 1, -1) if len(items) > 1 else np.zeros((0, 0))
            cost = np.array([r[4] for r in items], dtype=np.float64)
            out.append(StoredTrajectory(episode, x, u, cost))
        return out if last is None else out[-last:] if last > 0 else []

    def safe_sets(self) -> dict[str, int]:
        """Name -> number of episodes, for every safe set in the database."""
        rows = self._query(
            "SELECT safe_set, count(DISTINCT episode) FROM trajectories GROUP BY safe_set "
            "ORDER BY safe_set")
        return {str(name): int(n) for name, n in rows}
