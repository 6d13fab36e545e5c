"""Storing a swarm run in AgentDB: signatures, the CS series and alerts.

:class:`AgentDBRecorder` implements the coordinator's
:class:`~resonance_engine.swarm.coordinator.SwarmRecorder`. One ``runs`` row per swarm
run; per agent the five series ``fractal_dim``, ``coherence``, ``gain``, ``dwell`` and
``ci`` (agent id = the swarm agent id as text), timestamped with the signature's
timestamp; swarm-level series ``cs`` and ``cs_d`` (agent None) and, when estimated,
``basin_stability``; every health alert as an ``alerts`` row (kinds ``cs_low`` and
``basin_unstable``). Values go through a :class:`~resonance_engine.store.MetricWriter`
(one writer thread, batched transactions), so recording does not slow the ticks down.
NaN values are skipped (SQLite cannot store them) and counted in :attr:`skipped`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from resonance_engine.store import AgentDB, MetricRecord, MetricWriter
from resonance_engine.swarm.health import Alert
from resonance_engine.swarm.signature import Signature, now_us

__all__ = ["AgentDBRecorder"]

_METRICS = ("fractal_dim", "coherence", "gain", "dwell", "ci")
_ALERT_KINDS = {"cs": "cs_low", "bs": "basin_unstable"}


class AgentDBRecorder:
    """Writes a swarm run into an :class:`~resonance_engine.store.AgentDB`.

    Parameters
    ----------
    db : AgentDB
        Open, writable database.
    config : mapping
        Stored as the run's configuration (JSON).
    seed : int, optional
    name : str, optional
        Run name (default ``"swarm"``).
    """

    def __init__(
        self, db: AgentDB, config: Mapping[str, Any], seed: int | None = None,
        name: str = "swarm",
    ) -> None:
        self.db = db
        self.run_id = db.create_run(dict(config), seed, name=name)
        self.writer = MetricWriter(db)
        self._series: dict[tuple[str | None, str], int] = {}
        self._last_ts: dict[int, int] = {}
        self._lock = threading.Lock()
        self.skipped = 0
        self.written = 0

    def _sid(self, agent: str | None, series_type: str) -> int:
        key = (agent, series_type)
        sid = self._series.get(key)
        if sid is None:
            sid = self.db.series_id(self.run_id, series_type, agent_id=agent)
            self._series[key] = sid
        return sid

    def _timestamp(self, sid: int, ts: int) -> int:
        # (series, timestamp) is the primary key: keep each series strictly increasing
        last = self._last_ts.get(sid)
        if last is not None and ts <= last:
            ts = last + 1
        self._last_ts[sid] = ts
        return ts

    def _add(self, agent: str | None, series_type: str, ts: int, value: float) -> None:
        if not math.isfinite(value):
            self.skipped += 1
            return
        sid = self._sid(agent, series_type)
        self.writer.add(MetricRecord(sid, self._timestamp(sid, ts), float(value)))
        self.written += 1

    def record_signatures(self, signatures: Sequence[Signature]) -> None:
        with self._lock:
            for sig in signatures:
                agent = str(sig.agent)
                for name in _METRICS:
                    self._add(agent, name, sig.timestamp_us, getattr(sig, name))

    def record_sync(self, tick: int, timestamp_us: int, cs: float, cs_d: float) -> None:
        with self._lock:
            self._add(None, "cs", timestamp_us, cs)
            self._add(None, "cs_d", timestamp_us, cs_d)

    def record_basin_stability(self, value: float, stderr: float) -> None:
        with self._lock:
            self._add(None, "basin_stability", now_us(), value)
            self._add(None, "basin_stability_stderr", now_us(), stderr)

    def record_alert(self, alert: Alert) -> None:
        self.db.add_alert(
            self.run_id, now_us(), _ALERT_KINDS.get(alert.kind, alert.kind), alert.message,
            alert.value,
        )

    def close(self, status: str = "finished", summary: Mapping[str, Any] | None = None) -> None:
        """Write what is buffered and mark the run finished (or ``status``)."""
        self.writer.close()
        self.db.finish_run(self.run_id, status, summary)
