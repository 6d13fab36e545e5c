"""Swarm health: alerts when coordination degrades.

An alert is raised when the CS score falls below ``cs_min`` (default 0.7) or basin stability
below ``bs_min`` (default 0.5), as in the blueprint. Alerts are edge-triggered: one when a
measure enters the degraded range, and an info record when it recovers, not one per tick.
Each alert is a ``logging`` record on the ``resonance_engine.swarm.health`` logger
(WARNING) and, when a recorder (e.g. an AgentDB) is given, a stored row.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from resonance_engine.errors import ConfigError

__all__ = ["HealthThresholds", "Alert", "HealthMonitor", "AlertSink"]

log = logging.getLogger("resonance_engine.swarm.health")


@dataclass(frozen=True)
class HealthThresholds:
    """Alert thresholds: CS below ``cs_min`` or basin stability below ``bs_min``."""

    cs_min: float = 0.7
    bs_min: float = 0.5

    def __post_init__(self) -> None:
        for name in ("cs_min", "bs_min"):
            value = getattr(self, name)
            if not (math.isfinite(value) and -1 <= value <= 1):
                raise ConfigError(f"HealthThresholds.{name} must be in [-1, 1], got {value!r}")


@dataclass(frozen=True)
class Alert:
    """One health alert.

    Attributes
    ----------
    tick : int
        Swarm tick at which it was raised.
    kind : str
        ``"cs"`` (complexity synchronization) or ``"bs"`` (basin stability).
    value, threshold : float
        The measure and the threshold it fell below.
    message : str
    """

    tick: int
    kind: str
    value: float
    threshold: float
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class AlertSink(Protocol):
    """Where alerts are stored besides the log (an AgentDB adapter implements this)."""

    def record_alert(self, alert: Alert) -> None: ...


class HealthMonitor:
    """Edge-triggered CS/BS alerts.

    Parameters
    ----------
    thresholds : HealthThresholds
    sink : AlertSink, optional
        Also store every alert there.
    """

    def __init__(self, thresholds: HealthThresholds | None = None, sink: AlertSink | None = None):
        self.thresholds = thresholds or HealthThresholds()
        self.sink = sink
        self.alerts: list[Alert] = []
        self._degraded: dict[str, bool] = {"cs": False, "bs": False}

    def check_cs(self, tick: int, cs: float) -> Alert | None:
        """Check a CS score (NaN is ignored); return the alert raised, if any."""
        return self._check("cs", "complexity synchronization", tick, cs, self.thresholds.cs_min)

    def check_bs(self, tick: int, bs: float) -> Alert | None:
        """Check a basin-stability estimate; return the alert raised, if any."""
        return self._check("bs", "basin stability", tick, bs, self.thresholds.bs_min)

    def _check(self, kind: str, name: str, tick: int, value: float, limit: float) -> Alert | None:
        if not math.isfinite(value):
            return None
        if value < limit:
            if self._degraded[kind]:
                return None
            self._degraded[kind] = True
            alert = Alert(
                tick, kind, float(value), limit,
                f"swarm coordination degraded at tick {tick}: {name} {value:.3f} < {limit:.3f}",
            )
            self.alerts.append(alert)
            log.warning(alert.message)
            if self.sink is not None:
                self.sink.record_alert(alert)
            return alert
        if self._degraded[kind]:
            self._degraded[kind] = False
            log.info("swarm %s recovered at tick %d: %.3f >= %.3f", name, tick, value, limit)
        return None
