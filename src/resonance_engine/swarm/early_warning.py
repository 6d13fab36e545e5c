"""Early warning: forecast CS ahead and alert before coordination breaks down.

:class:`CSForecaster` fits a second-order linear model to the recent CS series (state
[CS_k, CS_k - CS_{k-1}], :func:`~resonance_engine.control.fit_linear_model`, refitted
every tick on the last ``fit_window`` ticks) and rolls it ``horizon`` ticks ahead. When
CS is still at or above the threshold but the forecast is below it, it raises a
``cs_breakdown_predicted`` alert (edge-triggered: once, then again only after the
forecast came back above the threshold). :func:`watch_swarm` runs a swarm (through the
run loop, the forecaster and the fault injection as a tracker) with or without an
injected fault and reports when the alert came and when CS crossed the threshold;
:func:`early_warning_trial` does it on a swarm held together by a common drive,
:func:`early_warning_experiment` repeats it over seeds and :func:`summarize_trials`
gives the lead time on faulty runs and the false-alarm rate on clean ones (the control).
``resonance experiment sync`` measures both on its best-synchronised mechanism.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from resonance_engine.control import fit_linear_model
from resonance_engine.errors import ConfigError, ControlError
from resonance_engine.loop import Tracker
from resonance_engine.swarm.health import Alert, log

__all__ = ["CSForecaster", "early_warning_trial", "early_warning_experiment", "FAULTS",
           "TrialResult", "watch_swarm", "summarize_trials"]

#: Faults :func:`early_warning_trial` can inject.
FAULTS = ("none", "damping", "frequency", "dropout")


class CSForecaster:
    """Forecast CS ``horizon`` ticks ahead and raise ``cs_breakdown_predicted``.

    Parameters
    ----------
    threshold : float
        The CS level whose crossing is predicted (the health threshold, 0.7 by default).
    horizon : int
        Ticks ahead (>= 1).
    fit_window : int
        Ticks of CS history the model is fitted on (>= 8).
    sink : AlertSink, optional
        Also store each alert there (e.g. the swarm's AgentDB recorder).
    """

    kind = "cs_breakdown_predicted"

    def __init__(self, threshold: float = 0.7, horizon: int = 10, fit_window: int = 32,
                 sink: Any = None) -> None:
        if horizon < 1 or fit_window < 8:
            raise ConfigError(f"need horizon >= 1 and fit_window >= 8, got {horizon}, "
                              f"{fit_window}")
        self.threshold, self.horizon, self.fit_window = float(threshold), horizon, fit_window
        self.sink = sink
        self.history: deque[float] = deque(maxlen=fit_window + 1)
        self.forecasts: list[float] = []
        self.alerts: list[Alert] = []
        self._armed = True

    def forecast(self) -> float:
        """CS predicted ``horizon`` ticks after the last one seen (NaN before enough data)."""
        cs = np.array(self.history)
        if len(cs) < 8 or not np.all(np.isfinite(cs)):
            return math.nan
        X = np.column_stack([cs[1:], np.diff(cs)])
        try:
            model = fit_linear_model(X, ridge=1e-6, holdout=0.0)
        except ControlError:
            return math.nan
        x = X[-1]
        for _ in range(self.horizon):
            x = model.A @ x + model.offset
        return float(np.clip(x[0], -1.0, 1.0))

    def update(self, tick: int, cs: float) -> Alert | None:
        """Add the CS of ``tick``; returns the alert raised, if any."""
        if not math.isfinite(cs):
            return None
        self.history.append(float(cs))
        predicted = self.forecast()
        self.forecasts.append(predicted)
        if not math.isfinite(predicted):
            return None
        if predicted >= self.threshold:
            self._armed = True
            return None
        if not (self._armed and cs >= self.threshold):
            return None
        self._armed = False
        alert = Alert(tick, self.kind, predicted, self.threshold,
                      f"CS breakdown predicted at tick {tick}: CS {cs:.3f} now, "
                      f"{predicted:.3f} forecast {self.horizon} ticks ahead < "
                      f"{self.threshold:.3f}")
        self.alerts.append(alert)
        log.warning(alert.message)
        if self.sink is not None:
            self.sink.record_alert(alert)
        return alert


@dataclass(frozen=True)
class TrialResult:
    """One run: the fault, when it came, the first alert and the first crossing (ticks)."""

    fault: str
    fault_tick: int | None
    alert_tick: int | None
    crossing_tick: int | None
    cs_before_fault: float

    @property
    def lead_time(self) -> float:
        """Crossing tick minus alert tick (NaN without both, or alert after crossing)."""
        if self.alert_tick is None or self.crossing_tick is None:
            return math.nan
        return float(self.crossing_tick - self.alert_tick)


def _inject(swarm: Any, fault: str, agent: int) -> None:
    member = swarm.agents[agent].member
    if fault == "damping":
        damping = np.array(swarm.solver.damping, dtype=np.float64, ndmin=1).copy()
        damping[member] *= 5.0
        swarm.solver.damping = damping
    elif fault == "frequency":
        a = swarm.agents[agent]
        a.natural_frequency = a.natural_frequency * 1.3
    elif fault == "dropout":  # its signatures no longer reach the bus
        publish, dropped = swarm.bus.publish, swarm.agents[agent].agent_id

        def filtered(sig: Any) -> None:
            if sig.agent != dropped:
                publish(sig)

        swarm.bus.publish = filtered


class _Watch(Tracker):
    """After each tick: inject the fault when due, feed CS to the forecaster, note the
    first alert and the first downward crossing from tick ``start`` on."""

    def __init__(self, fault: str, fault_tick: int, start: int, skip: int,
                 forecaster: CSForecaster) -> None:
        super().__init__(1)
        self.fault, self.fault_tick, self.counted_from, self.skip = fault, fault_tick, start, skip
        self.forecaster = forecaster
        self.alert_tick: int | None = None
        self.crossing_tick: int | None = None
        self.before = math.nan
        self._above = False  # the last CS seen was at or above the threshold

    def handle(self, swarm: Any, t: float) -> None:
        tick = swarm.tick_count - 1  # the tick just run
        cs = swarm.coordinator.cs
        if tick >= self.skip:
            alert = self.forecaster.update(tick, cs)
            counted = tick >= self.counted_from
            if counted and alert is not None and self.alert_tick is None:
                self.alert_tick = tick
            below = cs < self.forecaster.threshold
            if counted and below and self._above and self.crossing_tick is None:
                self.crossing_tick = tick
            if math.isfinite(cs):
                self._above = not below
        if tick + 1 == self.fault_tick:  # before that tick runs (clean runs: no fault)
            self.before = cs
            if self.fault != "none":
                _inject(swarm, self.fault, 0)


def watch_swarm(swarm: Any, fault: str, ticks: int, fault_tick: int, skip: int,
                horizon: int = 10, threshold: float = 0.55) -> TrialResult:
    """Run ``swarm`` ``ticks`` ticks with a :class:`CSForecaster` watching its CS and
    ``fault`` injected into agent 0 just before tick ``fault_tick``.

    The forecaster sees CS from tick ``skip`` on (e.g. once the CS window is full); the
    alert and the crossing (CS going from at or above ``threshold`` to below it) counted
    are the first ones from ``fault_tick`` on, in a clean run ("none", the control) too:
    there the fault would have come. ``cs_before_fault`` is the CS just before tick
    ``fault_tick``. The swarm is not closed.
    """
    if fault not in FAULTS:
        raise ConfigError(f"unknown fault {fault!r}; use one of {', '.join(FAULTS)}")
    watch = _Watch(fault, fault_tick, max(fault_tick, skip), skip,
                   CSForecaster(threshold, horizon))
    health = logging.getLogger("resonance_engine.swarm.health")
    level = health.level
    health.setLevel(logging.ERROR)
    try:
        swarm.run(ticks, trackers=[watch])
    finally:
        health.setLevel(level)
    return TrialResult(fault, fault_tick if fault != "none" else None, watch.alert_tick,
                       watch.crossing_tick, float(watch.before))


def early_warning_trial(fault: str = "none", seed: int = 0, agents: int = 6, size: int = 32,
                        ticks: int = 200, fault_tick: int = 130, window: int = 64,
                        coupling_mode: str = "common-drive", coupling: float = 50.0,
                        frequency_spread: float = 0.02, horizon: int = 10,
                        threshold: float = 0.55) -> TrialResult:
    """Run a synchronised swarm, inject ``fault`` at ``fault_tick``, watch the forecaster.

    The defaults are a swarm held together by a common drive (the positive control; its
    CS over 64 ticks stays about 0.65-0.72 on 32x32 fields) and a threshold of 0.55
    below that.

    ``damping``: agent 0's damping x5; ``frequency``: its natural frequency x1.3;
    ``dropout``: it stops publishing (its signatures are missing, its CI series stops).
    The forecaster starts when the CS window is full (``window`` ticks); the alert and the
    crossing counted are the first ones from ``fault_tick`` on (:func:`watch_swarm`).
    """
    from resonance_engine.swarm import Swarm, SwarmConfig

    if fault not in FAULTS:
        raise ConfigError(f"unknown fault {fault!r}; use one of {', '.join(FAULTS)}")
    swarm = Swarm(agents, SwarmConfig(size=size, window=window,
                                      frequency_spread=frequency_spread),
                  coupling=coupling, coupling_mode=coupling_mode, seed=seed)
    try:
        return watch_swarm(swarm, fault, ticks, fault_tick, window, horizon, threshold)
    finally:
        swarm.close()


def summarize_trials(clean: list[TrialResult], faulty: dict[str, list[TrialResult]],
                     horizon: int, threshold: float) -> dict[str, Any]:
    """Lead times on the faulty runs, false alarms on the clean ones (the control).

    A clean run's alert is a false alarm unless CS really crossed the threshold within
    ``horizon`` ticks after it. Per fault, over the runs whose CS was at or above
    ``threshold`` just before the fault (the others had nothing left to break): those
    whose CS crossed after the fault, those warned before their crossing, and the median
    lead (crossing tick - alert tick over the runs with both; negative when the alert came
    after the crossing). The same counts for the clean runs at the tick the fault would
    have come are the control's.
    """
    false = [r for r in clean if r.alert_tick is not None and not (
        r.crossing_tick is not None and 0 <= r.crossing_tick - r.alert_tick <= horizon)]

    def counts(runs: list[TrialResult]) -> dict[str, Any]:
        above = [r for r in runs if r.cs_before_fault >= threshold]
        leads = [r.lead_time for r in above if math.isfinite(r.lead_time)]
        return {
            "runs": len(runs),
            "above_at_fault": len(above),
            "runs_crossing": sum(r.crossing_tick is not None for r in above),
            "warned_before_crossing": sum(1 for v in leads if v > 0),
            "median_lead_ticks": float(np.median(leads)) if leads else math.nan,
            "cs_before_fault": (float(np.mean([r.cs_before_fault for r in runs])) if runs
                                else math.nan),
        }

    out: dict[str, Any] = {
        "seeds": len(clean), "horizon": horizon, "threshold": threshold,
        "false_alarm_rate": len(false) / len(clean) if clean else math.nan,
        "false_alarms": len(false), "control": counts(clean),
    }
    out.update({fault: counts(runs) for fault, runs in faulty.items()})
    return out


def early_warning_experiment(seeds: int = 4, faults: tuple[str, ...] = ("damping",
                             "frequency", "dropout"), **kwargs: Any) -> dict[str, Any]:
    """Lead time on faulty runs and false-alarm rate on clean ones, over ``seeds`` seeds
    (:func:`early_warning_trial` runs, :func:`summarize_trials`)."""
    clean = [early_warning_trial("none", s, **kwargs) for s in range(seeds)]
    faulty = {f: [early_warning_trial(f, s, **kwargs) for s in range(seeds)] for f in faults}
    return summarize_trials(clean, faulty, kwargs.get("horizon", 10),
                            kwargs.get("threshold", 0.55))
