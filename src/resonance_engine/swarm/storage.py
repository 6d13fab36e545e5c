"""Storing a swarm run in AgentDB through the one recorder (:class:`RunRecorder`).

:class:`AgentDBRecorder` implements the coordinator's
:class:`~resonance_engine.swarm.coordinator.SwarmRecorder`. One ``runs`` row per swarm
run; per agent the five series ``fractal_dim``, ``coherence``, ``gain``, ``dwell`` and
``ci`` (agent id = the swarm agent id as text); swarm-level series ``cs`` and ``cs_d``
(agent None) and, when estimated, ``basin_stability``; every health alert as an
``alerts`` row (kinds ``cs_low`` and ``basin_unstable``). Every value is stored with the
signature's step (its tick) as ``{"step": tick}`` metadata, so a replay groups values
by tick, not by the order of their wall-clock timestamps (the signature's, kept strictly
increasing per series). Values go through one
:class:`~resonance_engine.store.MetricWriter` (one writer thread, batched transactions),
so recording does not slow the ticks down. NaN values are skipped (SQLite cannot store
them) and counted in :attr:`skipped`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from resonance_engine.store import AgentDB, MetricWriter, RunRecorder
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
        self._agents: dict[int, RunRecorder] = {}
        self._sync = self._recorder(None, ("cs", "cs_d"))
        self._basin = self._recorder(None, ("basin_stability", "basin_stability_stderr"))
        self._lock = threading.Lock()

    def _recorder(self, agent: str | None, series: tuple[str, ...]) -> RunRecorder:
        return RunRecorder(
            self.db, self.run_id, agent_id=agent, writer=self.writer, series_types=series,
            fingerprint_series=series[0],
        )

    def _all(self) -> list[RunRecorder]:
        return [*self._agents.values(), self._sync, self._basin]

    @property
    def skipped(self) -> int:
        """NaN values not stored."""
        return sum(r.skipped for r in self._all())

    @property
    def written(self) -> int:
        """Values handed to the writer."""
        return sum(r.values for r in self._all())

    def record_signatures(self, signatures: Sequence[Signature]) -> None:
        with self._lock:
            for sig in signatures:
                recorder = self._agents.get(sig.agent)
                if recorder is None:
                    recorder = self._agents[sig.agent] = self._recorder(str(sig.agent), _METRICS)
                recorder.record(sig._asdict(), step=sig.step, timestamp_us=sig.timestamp_us)

    def record_sync(self, tick: int, timestamp_us: int, cs: float, cs_d: float) -> None:
        with self._lock:
            self._sync.record({"cs": cs, "cs_d": cs_d}, step=tick, timestamp_us=timestamp_us)

    def record_basin_stability(self, value: float, stderr: float) -> None:
        with self._lock:
            self._basin.record(
                {"basin_stability": value, "basin_stability_stderr": stderr},
                timestamp_us=now_us(),
            )

    def record_alert(self, alert: Alert) -> None:
        self.db.add_alert(
            self.run_id, now_us(), _ALERT_KINDS.get(alert.kind, alert.kind), alert.message,
            alert.value,
        )

    def close(self, status: str = "finished", summary: Mapping[str, Any] | None = None) -> None:
        """Write what is buffered and mark the run ``status``; a run whose values did not
        reach the database is stored ``failed`` with the reason (see
        :meth:`RunRecorder.close`)."""
        try:
            self._sync.close(status, summary)  # flushes the shared writer, finishes the run
        finally:
            self.writer.close()
