"""SwarmCoordinator: consumes signatures and measures whether the swarm is coordinated.

Per completed tick (every agent's signature for that step has arrived) it updates:

- ``cs``: the windowed Pearson CS of the agents' CI series, and ``cs_d`` of their D series
  (see :mod:`resonance_engine.swarm.sync`), in O(agents^2);
- the per-agent adaptive thresholds (performance = the agent's mean correlation with the
  others), once per window;
- health alerts (CS below ``thresholds.cs_min`` once the window is full);
- the recorder (an AgentDB adapter), if given: every signature and the CS series.

A tick where any agent's CI or D is NaN or infinite (a diverged field, a broken measure)
is skipped: it does not enter the correlation window (one NaN would make CS NaN for a
whole window), it counts in :attr:`SwarmCoordinator.non_finite_ticks` (and the agents in
:attr:`SwarmCoordinator.non_finite`), the summary reports both, and the first one is
logged as a warning.

Signatures may arrive out of order and from several processes. A tick whose signatures
have not all arrived when signatures ``max_lag`` steps newer are already there is given up:
it counts in :attr:`SwarmCoordinator.incomplete_ticks` and the agents that did not report
in :attr:`SwarmCoordinator.missing`, so losses on the bus are visible.
"""

from __future__ import annotations

import collections
import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from resonance_engine.control.thresholds import AdaptiveThresholdController
from resonance_engine.errors import ConfigError, MetricError
from resonance_engine.swarm.health import Alert, HealthMonitor, HealthThresholds
from resonance_engine.swarm.signature import Signature, now_us
from resonance_engine.swarm.sync import (
    MDEAConfig,
    MDEASync,
    RunningCorrelation,
    mdea_synchronization,
)

__all__ = ["SwarmCoordinator", "SwarmRecorder", "TickResult"]

_log = logging.getLogger("resonance_engine.swarm.coordinator")


class SwarmRecorder(Protocol):
    """What the coordinator stores, when given a database (AgentDB adapters implement it)."""

    def record_signatures(self, signatures: Sequence[Signature]) -> None: ...

    def record_sync(self, tick: int, timestamp_us: int, cs: float, cs_d: float) -> None: ...

    def record_alert(self, alert: Alert) -> None: ...


@dataclass(frozen=True)
class TickResult:
    """The coordinator's view of one completed tick."""

    step: int
    cs: float
    cs_d: float
    ci_mean: float
    alert: Alert | None


class SwarmCoordinator:
    """Measures complexity synchronization, thresholds and health of a swarm.

    Parameters
    ----------
    n_agents : int
        Number of agents (ids 0 .. n_agents-1), >= 2.
    window : int
        CS window (ticks), >= 3.
    thresholds : HealthThresholds, optional
        Alert thresholds (CS < 0.7, BS < 0.5 by default).
    mdea : MDEAConfig, optional
        Parameters of :meth:`mdea_sync`.
    recorder : SwarmRecorder, optional
        Stores signatures, the CS series and alerts.
    max_lag : int
        Steps a tick may wait for late signatures before it is given up.
    threshold_learning_rate : float
        chi of the per-agent :class:`AdaptiveThresholdController`.
    max_history : int
        Ticks of CI/D history kept for MDEA and pictures.

    Examples
    --------
    >>> from resonance_engine.swarm.bus import InProcessBus
    >>> bus, coord = InProcessBus(), SwarmCoordinator(2, window=4)
    >>> bus.subscribe(coord.ingest)
    >>> for step in range(6):
    ...     for agent in (0, 1):
    ...         bus.publish(Signature(agent, step, 1.5, 1, 1, 1, ci=step * (agent + 1)))
    >>> coord.ticks, round(coord.cs, 3)
    (6, 1.0)
    """

    def __init__(
        self,
        n_agents: int,
        window: int = 64,
        thresholds: HealthThresholds | None = None,
        mdea: MDEAConfig | None = None,
        recorder: SwarmRecorder | None = None,
        max_lag: int = 8,
        threshold_learning_rate: float = 0.1,
        max_history: int = 100_000,
    ) -> None:
        if not isinstance(n_agents, int) or n_agents < 2:
            raise ConfigError(f"a swarm coordinator needs n_agents >= 2, got {n_agents!r}")
        if max_lag < 0:
            raise ConfigError(f"max_lag must be >= 0, got {max_lag}")
        self.n_agents = n_agents
        self.window = int(window)
        self.mdea = mdea or MDEAConfig()
        self.recorder = recorder
        self.max_lag = int(max_lag)
        self.health = HealthMonitor(thresholds, sink=recorder)
        self.threshold_controller = AdaptiveThresholdController(threshold_learning_rate)
        # the CI series (group 0) and the D series (group 1), updated together
        self._corr = RunningCorrelation(n_agents, window, groups=2)
        self._sample = np.empty((2, n_agents))
        self._lock = threading.RLock()
        self._pending: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._next_step: int | None = None
        self._max_seen = -1
        self.ticks = 0
        self.cs = math.nan
        self.cs_d = math.nan
        self.steps: collections.deque[int] = collections.deque(maxlen=max_history)
        self.cs_history: collections.deque[float] = collections.deque(maxlen=max_history)
        self.cs_d_history: collections.deque[float] = collections.deque(maxlen=max_history)
        self._ci_rows: collections.deque[np.ndarray] = collections.deque(maxlen=max_history)
        self._d_rows: collections.deque[np.ndarray] = collections.deque(maxlen=max_history)
        self.missing = np.zeros(n_agents, dtype=np.int64)
        self.non_finite = np.zeros(n_agents, dtype=np.int64)
        self.non_finite_ticks = 0
        self.incomplete_ticks = 0
        self.late = 0
        self.unknown_agents = 0
        self.received = 0

    # ------------------------------------------------------------------ input
    def ingest(self, signature: Signature) -> None:
        """Take one signature (a bus callback; thread-safe)."""
        with self._lock:
            self.received += 1
            if signature.agent >= self.n_agents:
                self.unknown_agents += 1
                return
            step = signature.step
            if self._next_step is None:
                self._next_step = step
            if step < self._next_step:
                self.late += 1
                return
            entry = self._pending.get(step)
            if entry is None:
                entry = (np.full(self.n_agents, np.nan), np.full(self.n_agents, np.nan),
                         np.zeros(self.n_agents, dtype=bool))
                self._pending[step] = entry
            ci, d, have = entry
            ci[signature.agent] = signature.ci
            d[signature.agent] = signature.fractal_dim
            have[signature.agent] = True
            self._max_seen = max(self._max_seen, step)
            if self.recorder is not None:
                self.recorder.record_signatures([signature])
            self._advance()

    def _advance(self) -> None:
        assert self._next_step is not None
        while True:
            entry = self._pending.get(self._next_step)
            if entry is not None and entry[2].all():
                del self._pending[self._next_step]
                self.update(self._next_step, entry[0], entry[1])
            elif self._max_seen - self._next_step > self.max_lag:
                self._give_up(self._next_step)
            else:
                return
            self._next_step += 1

    def _give_up(self, step: int) -> None:
        entry = self._pending.pop(step, None)
        self.incomplete_ticks += 1
        if entry is None:
            self.missing += 1
        else:
            self.missing += ~entry[2]

    def finish(self) -> None:
        """Give up on every tick still waiting for signatures (call at the end of a run)."""
        with self._lock:
            if self._next_step is None:
                return
            while self._next_step <= self._max_seen:
                entry = self._pending.get(self._next_step)
                if entry is not None and entry[2].all():
                    del self._pending[self._next_step]
                    self.update(self._next_step, entry[0], entry[1])
                else:
                    self._give_up(self._next_step)
                self._next_step += 1

    # ------------------------------------------------------------------ one tick
    def update(self, step: int, ci: np.ndarray, fractal_dim: np.ndarray) -> TickResult:
        """Account one complete tick: every agent's CI and D, shape (n_agents,) each.

        Called by :meth:`ingest`; call it directly to feed metrics without a bus.
        """
        with self._lock:
            ci = np.array(ci, dtype=np.float64)  # copies: the history keeps them
            fractal_dim = np.array(fractal_dim, dtype=np.float64)
            if ci.shape != (self.n_agents,) or fractal_dim.shape != (self.n_agents,):
                raise MetricError(
                    f"expected CI and D of shape ({self.n_agents},), got {ci.shape} and "
                    f"{fractal_dim.shape}"
                )
            bad = ~(np.isfinite(ci) & np.isfinite(fractal_dim))
            if bad.any():
                return self._skip_non_finite(int(step), bad)
            self._sample[0] = ci
            self._sample[1] = fractal_dim
            self._corr.push(self._sample)
            self.ticks += 1
            cs, cs_d = self._corr.mean()
            self.cs, self.cs_d = float(cs), float(cs_d)
            self.steps.append(int(step))
            self.cs_history.append(self.cs)
            self.cs_d_history.append(self.cs_d)
            self._ci_rows.append(ci)
            self._d_rows.append(fractal_dim)
            if self.ticks % self.window == 0:
                for agent, perf in enumerate(self._corr.per_series()[0]):
                    self.threshold_controller.update(agent, float(perf))
            alert = None
            if self._corr.count == self.window:
                alert = self.health.check_cs(int(step), self.cs)
            if self.recorder is not None:
                self.recorder.record_sync(int(step), now_us(), self.cs, self.cs_d)
            return TickResult(int(step), self.cs, self.cs_d, float(ci.sum()) / ci.size, alert)

    def _skip_non_finite(self, step: int, bad: np.ndarray) -> TickResult:
        """Leave a tick with non-finite metrics out of every statistic; count it."""
        self.non_finite += bad
        self.non_finite_ticks += 1
        if self.non_finite_ticks == 1:
            _log.warning(
                "tick %d skipped: non-finite CI or D from agent(s) %s; such ticks are "
                "left out of CS and counted (non_finite_ticks)",
                step,
                np.flatnonzero(bad).tolist(),
            )
        return TickResult(step, self.cs, self.cs_d, math.nan, None)

    # ------------------------------------------------------------------ results
    def ci_history(self) -> np.ndarray:
        """CI of every agent per completed tick, shape (ticks kept, n_agents)."""
        with self._lock:
            if not self._ci_rows:
                return np.zeros((0, self.n_agents))
            return np.stack(list(self._ci_rows))

    def d_history(self) -> np.ndarray:
        """D of every agent per completed tick, shape (ticks kept, n_agents)."""
        with self._lock:
            if not self._d_rows:
                return np.zeros((0, self.n_agents))
            return np.stack(list(self._d_rows))

    def mdea_sync(self, config: MDEAConfig | None = None) -> MDEASync:
        """MDEA-based CS of the CI history (needs >= window + 2 hop ticks)."""
        return mdea_synchronization(self.ci_history(), config or self.mdea)

    @property
    def alerts(self) -> list[Alert]:
        return self.health.alerts

    @property
    def thresholds(self) -> dict[str, float]:
        """Per-agent adaptive thresholds."""
        return dict(self.threshold_controller.thresholds)

    def summary(self, with_mdea: bool = True) -> dict[str, Any]:
        """Final CS, mean CS over the run, MDEA-CS (if enough ticks), losses and alerts."""
        cs = np.array(self.cs_history, dtype=float)
        full = cs[self.window - 1 :] if cs.size >= self.window else cs[:0]
        result: dict[str, Any] = {
            "ticks": self.ticks,
            "cs": self.cs,
            "cs_d": self.cs_d,
            "cs_mean_full_window": float(np.nanmean(full)) if np.isfinite(full).any() else math.nan,
            "incomplete_ticks": self.incomplete_ticks,
            "missing_signatures": int(self.missing.sum()),
            "late_signatures": self.late,
            "non_finite_ticks": self.non_finite_ticks,
            "non_finite_signatures": int(self.non_finite.sum()),
            "alerts": len(self.alerts),
        }
        if with_mdea:
            try:
                result["mdea_cs"] = self.mdea_sync().score
            except MetricError:
                result["mdea_cs"] = math.nan
        return result
