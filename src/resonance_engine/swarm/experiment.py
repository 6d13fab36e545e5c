"""The controlled synchronization experiment behind ``resonance experiment sync``.

Question: which coupling mechanism makes the agents' complexity synchronize (CS > 0.95,
the blueprint's claim), with how many bytes on the bus, and is that "coordination without
state synchronization"?

Design
------
- Mechanisms: any registered coupling mode (:mod:`resonance_engine.swarm.coupling`);
  by default ``gain``, ``kuramoto``, ``ci-feedback``, ``common-drive`` (the positive
  control that needs no communication) and ``diffusive`` (state exchange, the baseline).
  Each is run at every K of its sweep (``Coupling.sweep`` unless given) and at K = 0
  (independent agents, run once per seed for all mechanisms), for every seed, with agents
  heterogeneous in drive gain, frequency (+-10 %), source phases and damping.
- Each run: ``warmup`` ticks discarded (the fields grow from rest), then ``ticks``
  measured ticks; CI is averaged over each tick's frames (frames resolve the drives).
- Pearson CS: mean pairwise correlation of the agents' tick CI series, with a p-value
  from ``surrogates`` circular-shift surrogates.
- MDEA-CS: each agent's scaling index delta in sliding windows of its per-frame CI
  series (``mdea.window`` frames moved by ``mdea.hop``; the window is the shortest that
  gives the fit a decade of lengths, 10 to 10 % of the window), then the mean pairwise
  correlation of the delta series, with its own circular-shift p-value.
- Traffic: bytes per tick handed to the bus in every run, per channel; the bytes the
  mechanism needs are those of its channels (signatures; field strips for diffusive;
  none for common-drive, whose signatures only feed the coordinator), beside the full
  float32 state of every agent measured on the same bus with ``exchange="state"``.
- At each mechanism's best K (highest mean CS): basin stability (``basin_samples``
  kicks of ``basin_perturbation`` to log gains and drive phases, restarted from the
  snapshot of the first seed, which includes the analyzers' dwell memory, so an
  unperturbed restart gives BS = 1) and the MFPT under per-tick noise (censored runs
  counted as censored). The horizon (128 ticks) is twice the CS window, so the final
  window sees the swarm after it relaxed from the kick, not the relaxation itself.
- Controllers: the lmpc rows also give *episodes needed* on a fixed task, like for like
  (:meth:`~resonance_engine.swarm.controllers.LMPCController.episodes_needed`: each
  run's identified model, the log-CI error ``lmpc_start``, episodes until one is within
  ``lmpc_tolerance`` of the constrained optimum of a 200-step QP).
- Early warning: the mechanism with the highest mean CS at its best K is run again on
  every seed with each of ``faults`` injected into agent 0 at :attr:`fault_tick` and
  without a fault (the control); the CS forecaster
  (:class:`~resonance_engine.swarm.early_warning.CSForecaster`, ``warning_horizon`` ticks
  ahead, threshold ``breakdown_cs``) gives the lead times and the false-alarm rate
  (:func:`~resonance_engine.swarm.early_warning.summarize_trials`).

Every sentence of ``report.md`` that states a result is formatted from the numbers in
``results.json``; ``--json`` prints the verdict table.
"""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from resonance_engine.errors import ConfigError, MetricError
from resonance_engine.json_safe import dumps
from resonance_engine.swarm.basin import basin_stability, mean_first_passage_time
from resonance_engine.swarm.batched import Swarm, SwarmConfig, SwarmSnapshot
from resonance_engine.swarm.bus import open_bus
from resonance_engine.swarm.controllers import LMPCController
from resonance_engine.swarm.coupling import coupling_class, make_coupling
from resonance_engine.swarm.early_warning import FAULTS, TrialResult, summarize_trials, watch_swarm
from resonance_engine.swarm.health import HealthThresholds
from resonance_engine.swarm.measure import MeasureFactory
from resonance_engine.swarm.plots import plot_ci_pair, plot_cs_vs_strength, plot_traffic
from resonance_engine.swarm.sync import (
    MDEAConfig,
    mdea_synchronization,
    surrogate_test,
)

__all__ = ["SyncExperimentConfig", "run_sync_experiment", "DEFAULT_MECHANISMS",
           "DEFAULT_CONTROLLERS"]

Progress = Callable[[str, int, int], None]

DEFAULT_MECHANISMS = ("gain", "kuramoto", "ci-feedback", "common-drive", "diffusive")
#: Controllers run as rows of the verdict table beside the mechanisms (issue 14).
DEFAULT_CONTROLLERS = ("adaptive", "mpc", "lmpc")


@dataclass(frozen=True)
class SyncExperimentConfig:
    """Sizes of the experiment (the defaults take a few minutes on 2 cores).

    ``strengths`` maps a mechanism to the K values to try (default: its ``sweep``);
    ``options`` maps a mechanism to more keyword arguments of its coupling, e.g.
    ``(("rl", (("policy", "DIR/policy.zip"),)),)`` for a trained policy.
    """

    agents: int = 6
    size: int = 64
    steps_per_tick: int = 10
    warmup: int = 40
    ticks: int = 200
    window: int = 64
    seeds: tuple[int, ...] = (0, 1, 2)
    mechanisms: tuple[str, ...] = DEFAULT_MECHANISMS + DEFAULT_CONTROLLERS
    strengths: tuple[tuple[str, tuple[float, ...]], ...] = ()
    options: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()
    surrogates: int = 200
    basin_samples: int = 4
    basin_perturbation: float = 1.0
    horizon: int = 128
    mfpt_runs: int = 3
    mfpt_noise: float = 0.1
    traffic_ticks: int = 5
    claim_cs: float = 0.95
    cs_min: float = 0.7
    mdea: MDEAConfig = field(
        default_factory=lambda: MDEAConfig(window=1000, hop=200, max_fraction=0.1)
    )
    lmpc_start: float = 3.0
    lmpc_tolerance: float = 0.005
    lmpc_episodes: int = 10
    faults: tuple[str, ...] = ("damping", "frequency", "dropout")
    warning_horizon: int = 10
    warning_threshold: float | None = None

    def __post_init__(self) -> None:
        if self.agents < 2:
            raise ConfigError(f"the experiment needs >= 2 agents, got {self.agents}")
        if self.ticks < 8:
            raise ConfigError(f"ticks must be >= 8, got {self.ticks}")
        if self.window > self.ticks:
            raise ConfigError(
                f"the CS window ({self.window} ticks) is longer than the measured run "
                f"({self.ticks} ticks): CS would never be computed; use a window <= ticks"
            )
        if self.warmup < 0:
            raise ConfigError(f"warmup must be >= 0 ticks, got {self.warmup}")
        if not self.seeds:
            raise ConfigError("the experiment needs at least one seed")
        if not self.mechanisms:
            raise ConfigError("the experiment needs at least one mechanism")
        for mode in self.mechanisms:
            coupling_class(mode)  # unknown names fail here, before anything runs
        for mode, ks in self.strengths:
            if mode not in self.mechanisms:
                raise ConfigError(f"strengths given for {mode!r}, which is not a mechanism run")
            if not ks or any(not (math.isfinite(k) and k > 0) for k in ks):
                raise ConfigError(f"strengths of {mode} must be finite and > 0, got {ks}")
        for mode, _ in self.options:
            if mode not in self.mechanisms:
                raise ConfigError(f"options given for {mode!r}, which is not a mechanism run")
        if not (math.isfinite(self.lmpc_start) and self.lmpc_start != 0
                and self.lmpc_tolerance >= 0 and self.lmpc_episodes >= 1):
            raise ConfigError(
                "the lmpc task needs a finite start != 0, tolerance >= 0 and episodes >= 1, "
                f"got {self.lmpc_start}, {self.lmpc_tolerance}, {self.lmpc_episodes}")
        for fault in self.faults:
            if fault not in FAULTS or fault == "none":
                raise ConfigError(f"unknown fault {fault!r}; use some of "
                                  f"{', '.join(f for f in FAULTS if f != 'none')}")
        if self.warning_threshold is not None and not -1 < self.warning_threshold <= 1:
            raise ConfigError(f"warning_threshold must be a CS in (-1, 1], got "
                              f"{self.warning_threshold}")
        if self.warning_horizon < 1:
            raise ConfigError(f"warning_horizon must be >= 1 tick, got {self.warning_horizon}")
        if self.faults and self.ticks - self.window < 2:
            raise ConfigError(
                f"the early warning needs measured ticks after a full CS window before and "
                f"after the fault: ticks ({self.ticks}) >= window ({self.window}) + 2, or no "
                "faults")

    @property
    def fault_tick(self) -> int:
        """The tick a fault is injected before: halfway through the ticks after the warm-up
        and the first full CS window."""
        return self.warmup + self.window + (self.ticks - self.window) // 2

    @property
    def breakdown_cs(self) -> float:
        """The CS whose crossing the early warning predicts (default ``cs_min``)."""
        return self.cs_min if self.warning_threshold is None else self.warning_threshold

    def coupling_options(self, mode: str) -> dict[str, Any]:
        """More keyword arguments of the coupling of ``mode`` (see ``options``)."""
        return dict(dict(self.options).get(mode, ()))

    def sweep(self, mode: str) -> tuple[float, ...]:
        """K values tried for ``mode``."""
        given = dict(self.strengths)
        return tuple(given.get(mode, coupling_class(mode).sweep))

    def swarm_config(self) -> SwarmConfig:
        return SwarmConfig(size=self.size, steps_per_tick=self.steps_per_tick,
                           window=self.window)


# ---------------------------------------------------------------------------- one run
def _mdea_cs(frames: np.ndarray, cfg: SyncExperimentConfig, seed: int) -> dict[str, Any]:
    """MDEA-CS of per-frame series and its surrogate p-value (NaN if too short)."""
    mdea = cfg.mdea
    try:
        sync = mdea_synchronization(frames, mdea)
    except MetricError as exc:
        return {"mdea_cs": math.nan, "mdea_p": math.nan, "mdea_windows": 0,
                "mdea_note": str(exc)}
    deltas = sync.deltas[np.isfinite(sync.deltas).all(axis=1)]
    p = math.nan
    if deltas.shape[0] >= 6:
        try:
            p = surrogate_test(deltas, cfg.surrogates, seed=seed,
                               min_shift=max(1, deltas.shape[0] // 4)).p_value
        except (MetricError, ConfigError):
            p = math.nan
    return {"mdea_cs": sync.score, "mdea_p": p, "mdea_windows": int(sync.deltas.shape[0]),
            "mdea_mean_delta": float(np.nanmean(sync.mean_delta))}


def _swarm(cfg: SyncExperimentConfig, mode: str, strength: float, seed: int,
           measure: MeasureFactory | None) -> Swarm:
    coupling = make_coupling(mode, strength, **cfg.coupling_options(mode))
    swarm = Swarm(cfg.agents, cfg.swarm_config(), coupling=coupling, seed=seed,
                  measure=measure)
    if swarm.coordinator is not None:  # weakly coupled swarms are expected below the alert
        swarm.coordinator.health.thresholds = HealthThresholds(cs_min=-1.0)  # threshold
    return swarm


def _lmpc_task(coupling: Any, cfg: SyncExperimentConfig) -> dict[str, Any] | None:
    """The lmpc controller's episodes needed on the fixed task (None: not lmpc, no model,
    or the start cannot reach the goal within the horizon)."""
    if not isinstance(coupling, LMPCController):
        return None
    found = coupling.episodes_needed(cfg.lmpc_start, cfg.lmpc_tolerance, cfg.lmpc_episodes)
    if found is None:
        return None
    return {"episodes": found.episodes, "optimum": found.optimum, "costs": list(found.costs),
            "bound_active": found.bound_active}


def run_condition(
    cfg: SyncExperimentConfig, mode: str, strength: float, seed: int,
    measure: MeasureFactory | None = None, keep_snapshot: bool = False,
) -> dict[str, Any]:
    """One swarm of the experiment: run, measure CS, MDEA-CS, p-values and traffic.

    A module-level function with picklable arguments, so it runs in worker processes.
    """
    swarm = _swarm(cfg, mode, strength, seed, measure)
    coupling = swarm.coupling
    try:
        swarm.run(cfg.warmup + cfg.ticks)
        ci = swarm.ci_series()[cfg.warmup :]
        frames_per_tick = swarm.sampling()["frames_per_tick"]
        frames = swarm.frame_ci_series()[cfg.warmup * frames_per_tick :]
        test = surrogate_test(ci, cfg.surrogates, seed=seed,
                              min_shift=max(1, min(cfg.window, len(ci) // 4)))
        traffic = swarm.traffic_per_tick()
        described = coupling.describe()
        episodes = described.get("episodes", {})
        task = _lmpc_task(coupling, cfg)
        row: dict[str, Any] = {
            "mechanism": mode,
            "strength": strength,
            "seed": seed,
            "cs": test.observed,
            "p_value": test.p_value,
            "surrogate_q95": test.quantile95,
            **_mdea_cs(frames, cfg, seed),
            "signature_bytes_per_tick": traffic.get("signature", 0.0),
            "state_bytes_per_tick": traffic.get("state", 0.0),
            "coupling_bytes_per_tick": sum(traffic.get(ch, 0.0) for ch in coupling.channels),
            "control_ms_per_tick": 1e3 * swarm.control_seconds / max(1, swarm.tick_count),
            "episodes_per_agent": episodes.get("completed", math.nan) / cfg.agents,
            "first_episode_cost": episodes.get("first_cost_mean", math.nan),
            "last_episode_cost": episodes.get("last_cost_mean", math.nan),
            "lmpc_task": task,
            "episodes_needed": (math.nan if task is None or task["episodes"] is None
                                else float(task["episodes"])),
            "model_b": described["model"]["b"] if "model" in described else math.nan,
            "sampling": swarm.sampling(),
            "ci": ci.tolist(),
        }
        if keep_snapshot:
            row["snapshot"] = swarm.snapshot()
        return row
    finally:
        swarm.close()


def _full_state_bytes(cfg: SyncExperimentConfig, bus: str | None,
                      measure: MeasureFactory | None) -> dict[str, Any]:
    """Bytes per tick of every agent publishing its full float32 field, on the bus."""
    traffic_bus = open_bus(bus)
    try:
        probe = Swarm(cfg.agents, cfg.swarm_config(), seed=cfg.seeds[0], measure=measure,
                      bus=traffic_bus, exchange="state")
        probe.run(cfg.traffic_ticks)
        traffic_bus.flush()
        stats = traffic_bus.stats
        ticks = max(1, cfg.traffic_ticks)
        return {
            "bus": bus or "memory",
            "full_state_bytes_per_tick": stats.bytes_out["state"] / ticks,
            "signature_bytes_per_tick": stats.bytes_out["signature"] / ticks,
        }
    finally:
        traffic_bus.close()


# ---------------------------------------------------------------------------- the sweep
def warning_condition(cfg: SyncExperimentConfig, mode: str, strength: float, seed: int,
                      fault: str, measure: MeasureFactory | None = None) -> TrialResult:
    """One early-warning run: the swarm of ``mode`` at ``strength``, ``fault`` injected into
    agent 0 before :attr:`SyncExperimentConfig.fault_tick` ("none": the control), the
    forecaster watching CS from the first full window after the warm-up (threshold
    ``breakdown_cs``, ``warning_horizon`` ticks ahead). Module-level, for worker processes."""
    swarm = _swarm(cfg, mode, strength, seed, measure)
    try:
        return watch_swarm(swarm, fault, cfg.warmup + cfg.ticks, cfg.fault_tick,
                           cfg.warmup + cfg.window, cfg.warning_horizon, cfg.breakdown_cs)
    finally:
        swarm.close()


def _submit_all(
    executor: Executor | None, tasks: list[tuple[Any, ...]], progress: Progress | None,
    fn: Callable[..., Any] = run_condition, stage: str = "swarm runs",
) -> list[Any]:
    total = len(tasks)
    out = []
    if executor is None:
        for k, task in enumerate(tasks):
            out.append(fn(*task))
            if progress is not None:
                progress(stage, k + 1, total)
        return out
    futures = [executor.submit(fn, *task) for task in tasks]
    for k, future in enumerate(futures):
        out.append(future.result())
        if progress is not None:
            progress(stage, k + 1, total)
    return out


def _early_warning(cfg: SyncExperimentConfig, verdicts: list[dict[str, Any]],
                   executor: Executor | None, progress: Progress | None,
                   measure: MeasureFactory | None) -> dict[str, Any]:
    """Lead time and false-alarm rate of the CS forecaster on the best-synchronised
    mechanism at its best K: every seed with each fault and without (the control)."""
    if not cfg.faults:
        return {"measured": False, "why": "no faults were asked for"}
    watched = max(verdicts, key=lambda v: v["cs_mean"] if math.isfinite(v["cs_mean"])
                  else -math.inf)
    found: dict[str, Any] = {"mechanism": watched["mechanism"],
                             "strength": watched["best_strength"], "cs_mean": watched["cs_mean"],
                             "threshold": cfg.breakdown_cs, "fault_tick": cfg.fault_tick,
                             "faults": list(cfg.faults)}
    if not watched["cs_mean"] > cfg.breakdown_cs:
        why = (f"no mechanism's mean CS at its best K is above the threshold "
               f"{cfg.breakdown_cs:g} (highest: {watched['mechanism']}, "
               f"{watched['cs_mean']:.3f})")
        return {**found, "measured": False, "why": why}
    faults = ("none", *cfg.faults)
    tasks = [(cfg, watched["mechanism"], watched["best_strength"], seed, fault, measure)
             for fault in faults for seed in cfg.seeds]
    trials = _submit_all(executor, tasks, progress, warning_condition, "early-warning runs")
    n = len(cfg.seeds)
    by_fault = {fault: trials[k * n : (k + 1) * n] for k, fault in enumerate(faults)}
    clean = by_fault.pop("none")
    return {**found, "measured": True,
            **summarize_trials(clean, by_fault, cfg.warning_horizon, cfg.breakdown_cs),
            "trials": [asdict(t) for t in trials]}


def _stat(values: Sequence[float], how: Callable[[np.ndarray], Any]) -> float:
    arr = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    return float(how(arr)) if arr.size else math.nan


def _tasks(tasks: list[dict[str, Any] | None]) -> dict[str, Any]:
    """The lmpc task over seeds: runs that did it, episodes needed, those not within."""
    done = [t for t in tasks if t is not None]
    needed = [float(t["episodes"]) for t in done if t["episodes"] is not None]
    return {
        "lmpc_tasks": len(done),
        "episodes_needed": _stat(needed, np.mean),
        "episodes_needed_max": _stat(needed, np.max),
        "lmpc_not_within": len(done) - len(needed),
        "lmpc_task_optimum": _stat([t["optimum"] for t in done], np.mean),
        "lmpc_task_first_cost": _stat([t["costs"][0] for t in done], np.mean),
        "lmpc_bound_active": sum(bool(t["bound_active"]) for t in done),
    }


def _by_strength(runs: list[dict[str, Any]], baseline: list[dict[str, Any]],
                 cfg: SyncExperimentConfig) -> list[dict[str, Any]]:
    """Per mechanism and K: CS and MDEA-CS over seeds, p-values, bytes."""
    rows = []
    for mode in cfg.mechanisms:
        for k in (0.0, *cfg.sweep(mode)):
            group = baseline if k == 0.0 else [
                r for r in runs if r["mechanism"] == mode and r["strength"] == k
            ]
            cs = [r["cs"] for r in group]
            rows.append({
                "mechanism": mode,
                "strength": k,
                "seeds": len(group),
                "cs_mean": _stat(cs, np.mean),
                "cs_sd": _stat(cs, np.std),
                "cs_min": _stat(cs, np.min),
                "p_max": _stat([r["p_value"] for r in group], np.max),
                "mdea_cs_mean": _stat([r["mdea_cs"] for r in group], np.mean),
                "mdea_cs_sd": _stat([r["mdea_cs"] for r in group], np.std),
                "mdea_p_max": _stat([r["mdea_p"] for r in group], np.max),
                "coupling_bytes_per_tick": (
                    0.0 if k == 0.0 else _stat([r["coupling_bytes_per_tick"] for r in group],
                                               np.mean)
                ),
                "bus_bytes_per_tick": _stat(
                    [r["signature_bytes_per_tick"] + r["state_bytes_per_tick"] for r in group],
                    np.mean,
                ),
                "control_ms_per_tick": _stat([r["control_ms_per_tick"] for r in group],
                                             np.mean),
                "episodes_per_agent": _stat([r["episodes_per_agent"] for r in group], np.mean),
                "first_episode_cost": _stat([r["first_episode_cost"] for r in group], np.mean),
                "last_episode_cost": _stat([r["last_episode_cost"] for r in group], np.mean),
                **_tasks([r.get("lmpc_task") for r in group]),
                "models_accepted": sum(math.isfinite(r["model_b"]) for r in group),
            })
    return rows


def _verdict_row(mode: str, best: dict[str, Any], full_state: float,
                 cfg: SyncExperimentConfig, baseline: dict[str, Any]) -> dict[str, Any]:
    cls = coupling_class(mode)
    holds = bool(math.isfinite(best["cs_min"]) and best["cs_min"] > cfg.claim_cs)
    significant = bool(math.isfinite(best["p_max"]) and best["p_max"] < 0.05)
    needed = best["coupling_bytes_per_tick"]
    ratio = full_state / needed if needed > 0 else math.nan
    if not cls.channels:
        without_state = "n/a: no exchange (external common drive)"
    elif holds and significant:
        without_state = "no: the bytes carry agent state" if cls.state_exchange else "yes"
    else:
        without_state = f"no: CS > {cfg.claim_cs:.2f} does not hold"
    return {
        "mechanism": mode,
        "unit": cls.unit,
        "best_strength": best["strength"],
        "cs_mean": best["cs_mean"],
        "cs_sd": best["cs_sd"],
        "cs_min": best["cs_min"],
        "p_max": best["p_max"],
        "mdea_cs_mean": best["mdea_cs_mean"],
        "mdea_cs_sd": best["mdea_cs_sd"],
        "mdea_p_max": best["mdea_p_max"],
        "cs_above_claim": holds,
        "significant": significant,
        "coupling_bytes_per_tick": needed,
        "bus_bytes_per_tick": best["bus_bytes_per_tick"],
        "full_state_bytes_per_tick": full_state,
        "full_state_ratio": ratio,
        "carries": cls.carries,
        "state_exchange": cls.state_exchange,
        "without_state_synchronization": without_state,
        "controller": cls.controller,
        "control_ms_per_tick": best["control_ms_per_tick"],
        "episodes_per_agent": best["episodes_per_agent"],
        "first_episode_cost": best["first_episode_cost"],
        "last_episode_cost": best["last_episode_cost"],
        **{k: best[k] for k in ("lmpc_tasks", "episodes_needed", "episodes_needed_max",
                                "lmpc_not_within", "lmpc_task_optimum",
                                "lmpc_task_first_cost", "lmpc_bound_active")},
        "models_accepted": best["models_accepted"],
        # the control that can fail: the same swarms without coupling (K = 0)
        "uncoupled_cs_mean": baseline["cs_mean"],
        "uncoupled_cs_sd": baseline["cs_sd"],
        "cs_gain_over_uncoupled": best["cs_mean"] - baseline["cs_mean"],
    }


def run_sync_experiment(
    cfg: SyncExperimentConfig,
    out: str | Path,
    measure: MeasureFactory | None = None,
    bus: str | None = None,
    executor: Executor | None = None,
    progress: Progress | None = None,
    command: str = "",
) -> dict[str, Any]:
    """Run the experiment; write ``report.md``, ``results.json`` and pictures into ``out``.

    Parameters
    ----------
    cfg : SyncExperimentConfig
    out : path
        Output folder (created).
    measure : MeasureFactory, optional
        Measure of the fields (default: the ComplexityAnalyzer).
    bus : str, optional
        Bus of the full-state traffic measurement ("memory" or a NATS URL).
    executor : concurrent.futures.Executor, optional
        Where the swarm runs, basin-stability and MFPT samples execute (default: this
        process for the runs, a process pool for the samples).
    progress : callable, optional
        ``progress(stage, done, total)``.
    command : str
        The command line, quoted in the report.

    Returns
    -------
    dict
        Everything in ``results.json``: ``verdicts`` (one row per mechanism, the table of
        the report), ``sweep`` (per mechanism and K), ``runs`` (per seed), traffic, paths.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    baseline_tasks = [(cfg, cfg.mechanisms[0], 0.0, seed, measure) for seed in cfg.seeds]
    tasks = [
        (cfg, mode, k, seed, measure, seed == cfg.seeds[0])
        for mode in cfg.mechanisms for k in cfg.sweep(mode) for seed in cfg.seeds
    ]
    results = _submit_all(executor, [*baseline_tasks, *tasks], progress)
    baseline, runs = results[: len(baseline_tasks)], results[len(baseline_tasks) :]
    traffic = _full_state_bytes(cfg, bus, measure)
    full_state = traffic["full_state_bytes_per_tick"]
    sweep = _by_strength(runs, baseline, cfg)

    verdicts = []
    best_runs: dict[str, dict[str, Any]] = {}
    for n, mode in enumerate(cfg.mechanisms):
        candidates = [r for r in sweep if r["mechanism"] == mode and r["strength"] > 0]
        best = max(candidates, key=lambda r: (-math.inf if not math.isfinite(r["cs_mean"])
                                              else r["cs_mean"]))
        uncoupled = next(r for r in sweep if r["mechanism"] == mode and r["strength"] == 0)
        row = _verdict_row(mode, best, full_state, cfg, uncoupled)
        first = next(r for r in runs if r["mechanism"] == mode
                     and r["strength"] == best["strength"] and r["seed"] == cfg.seeds[0])
        best_runs[mode] = first
        row.update(_stability(first.pop("snapshot"), cfg, executor, progress, n))
        verdicts.append(row)
    for r in runs:
        r.pop("snapshot", None)
    warning = _early_warning(cfg, verdicts, executor, progress, measure)

    pictures = {
        "cs_vs_strength": str(plot_cs_vs_strength(sweep, out / "cs_vs_strength.png",
                                                  cfg.claim_cs)),
        "ci_best": str(plot_ci_pair(
            {f"{m} K = {best_runs[m]['strength']:g}": np.array(best_runs[m]["ci"])
             for m in cfg.mechanisms},
            out / "ci_best.png", f"CI of {cfg.agents} agents at each mechanism's best K, "
            f"seed {cfg.seeds[0]}",
        )),
        "traffic": str(plot_traffic(
            {**{v["mechanism"]: v["coupling_bytes_per_tick"] for v in verdicts},
             "full states": full_state},
            out / "traffic.png",
        )),
    }
    for r in [*baseline, *runs]:
        r.pop("ci", None)
    sampling = baseline[0]["sampling"]
    result: dict[str, Any] = {
        "config": {k: v for k, v in asdict(cfg).items()
                   if k not in ("mdea", "strengths", "options")},
        "options": {m: cfg.coupling_options(m) for m in cfg.mechanisms if cfg.coupling_options(m)},
        "strengths": {m: list(cfg.sweep(m)) for m in cfg.mechanisms},
        "mdea": asdict(cfg.mdea),
        "sampling": sampling,
        "verdicts": verdicts,
        "sweep": sweep,
        "runs": [*baseline, *runs],
        "traffic": traffic,
        "early_warning": warning,
        "seconds": time.perf_counter() - started,
        "machine": f"{platform.machine()}, {platform.system()}, Python "
                   f"{platform.python_version()}",
        "command": command,
        "pictures": pictures,
    }
    (out / "results.json").write_text(dumps(result, indent=2) + "\n")
    report = out / "report.md"
    report.write_text(_report(cfg, result))
    result["report"] = str(report)
    return result


def _stability(snapshot: SwarmSnapshot, cfg: SyncExperimentConfig,
               executor: Executor | None, progress: Progress | None,
               index: int) -> dict[str, Any]:
    """Basin stability and MFPT of one mechanism at its best K (first seed's snapshot)."""
    factory = partial(Swarm.from_snapshot, snapshot)
    found: dict[str, Any] = {}
    if cfg.basin_samples > 0:
        bs = basin_stability(
            factory, cfg.basin_samples, cfg.basin_perturbation,
            max(cfg.horizon, cfg.window), executor=executor, threshold=cfg.cs_min,
            seed=cfg.seeds[0],
        )
        found.update({"basin_stability": bs.value, "basin_stderr": bs.stderr,
                      "basin_samples": bs.n_samples, "basin_baseline_cs": bs.baseline_cs})
    if cfg.mfpt_runs > 0:
        fp = mean_first_passage_time(
            factory, cfg.mfpt_noise, cfg.horizon, cfg.mfpt_runs, threshold=cfg.cs_min,
            executor=executor, seed=cfg.seeds[0],
        )
        found.update({"mfpt_escaped": fp.n_escaped, "mfpt_censored": fp.n_censored,
                      "mfpt_mean_escaped": fp.mean_time, "mfpt_censored_mean": fp.censored_mean,
                      "mfpt_restricted_mean": fp.restricted_mean})
    if progress is not None:
        progress("basin stability and MFPT", index + 1, len(cfg.mechanisms))
    return found


# ---------------------------------------------------------------------------- report
def _f(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def _bytes(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:,.0f}"


def _sentence(v: dict[str, Any], cfg: SyncExperimentConfig) -> str:
    """The verdict of one mechanism, in words formatted from its numbers."""
    claim = cfg.claim_cs
    name = v["mechanism"]
    k = f"K = {v['best_strength']:g} ({v['unit']})"
    cs = (f"CS = {_f(v['cs_mean'])} +- {_f(v['cs_sd'])} (min {_f(v['cs_min'])}, "
          f"p <= {_f(v['p_max'])})")
    if v["cs_above_claim"] and v["significant"]:
        head = f"**{name}: CS > {claim} HOLDS** at its best {k}: {cs} over {len(cfg.seeds)} seeds"
    else:
        why = "not on every seed" if v["cs_mean"] > claim else "not reached"
        head = (f"**{name}: CS > {claim} DOES NOT HOLD** ({why}); best {k}: {cs} over "
                f"{len(cfg.seeds)} seeds")
    needed = v["coupling_bytes_per_tick"]
    if needed > 0:
        traffic = (f"it needs {_bytes(needed)} bytes per tick on the bus, "
                   f"{_f(v['full_state_ratio'], 0)}x less than full states "
                   f"({_bytes(v['full_state_bytes_per_tick'])}); the bytes carry {v['carries']}")
    else:
        traffic = f"agents exchange {v['carries']}"
    return (f"- {head}; {traffic}. Coordination without state synchronization: "
            f"{v['without_state_synchronization']}.")


def _controller_sentence(v: dict[str, Any], cfg: SyncExperimentConfig) -> str:
    """What a controller did beside the control that can fail (the uncoupled swarms),
    its compute and its learning, formatted from its numbers."""
    diff, spread = v["cs_gain_over_uncoupled"], 2 * max(v["cs_sd"], v["uncoupled_cs_sd"])
    if not math.isfinite(diff):
        moved = "cannot be compared"
    elif abs(diff) > spread:
        moved = f"{'above' if diff > 0 else 'below'} it by more than twice the spread over seeds"
    else:
        moved = "within twice the spread over seeds of it"
    parts = [
        f"- {v['mechanism']} (controller, K = {v['best_strength']:g}): CS {_f(v['cs_mean'])} "
        f"against {_f(v['uncoupled_cs_mean'])} +- {_f(v['uncoupled_cs_sd'])} for the same "
        f"swarms uncoupled (difference {_f(diff)}: {moved}); the control takes "
        f"{_f(v['control_ms_per_tick'], 2)} ms per tick for {cfg.agents} agents"
    ]
    if v["mechanism"] in ("mpc", "lmpc"):
        parts.append(f"a model (more drive, more CI: b above the controller's floor) was "
                     f"accepted in "
                     f"{v['models_accepted']} of {len(cfg.seeds)} runs")
    if math.isfinite(v["episodes_per_agent"]):
        parts.append(
            f"{_f(v['episodes_per_agent'], 1)} episodes per agent reached the goal, mean cost "
            f"of an agent's first episode {_f(v['first_episode_cost'], 3)}, of its last "
            f"{_f(v['last_episode_cost'], 3)} (they start from different errors: not a "
            "like-for-like comparison)")
    if v["mechanism"] == "lmpc":
        parts.append(_task_sentence(v, cfg))
    return "; ".join(parts) + "."


def _task_sentence(v: dict[str, Any], cfg: SyncExperimentConfig) -> str:
    """Episodes needed on the fixed task, formatted from its numbers."""
    task = (f"on the fixed task (log-CI error {cfg.lmpc_start:g} to 0 on each run's identified "
            "model, the goal alone as the first safe set, as for an agent)")
    if not v["lmpc_tasks"]:
        return (f"episodes needed {task}: n/a (no run accepted a model whose start reaches "
                "the goal within the horizon)")
    within = v["lmpc_tasks"] - v["lmpc_not_within"]
    bound = v["lmpc_bound_active"]
    said = (f"episodes needed {task}: {within} of {v['lmpc_tasks']} runs came within "
            f"{100 * cfg.lmpc_tolerance:g} % of the constrained optimum (mean "
            f"{_f(v['lmpc_task_optimum'], 3)}, a 200-step QP; a bound active at it in "
            f"{bound} of {v['lmpc_tasks']}) within {cfg.lmpc_episodes} episodes")
    if within:
        said += (f", after {_f(v['episodes_needed'], 1)} episodes on average (at most "
                 f"{_f(v['episodes_needed_max'], 0)}); mean cost of the first episode "
                 f"{_f(v['lmpc_task_first_cost'], 3)}")
    return said


def _warning_lines(w: dict[str, Any], cfg: SyncExperimentConfig) -> list[str]:
    """The early-warning section: a table per fault and the control, and its sentence."""
    lines = ["", "## Early warning (cs_breakdown_predicted)", ""]
    if not w["measured"]:
        return [*lines, f"Not measured: {w['why']}."]
    lines += [
        f"The CS forecaster (`swarm.early_warning.CSForecaster`, {w['horizon']} ticks ahead, "
        f"threshold {w['threshold']:g}) watched the best-synchronised mechanism, "
        f"{w['mechanism']} at K = {w['strength']:g} (mean CS {_f(w['cs_mean'])}), on every "
        f"seed with a fault injected into agent 0 before tick {w['fault_tick']} and without "
        "(the control); the forecaster starts at the first full CS window after the warm-up, "
        f"and alerts and crossings count from tick {w['fault_tick']} on, in the control runs "
        "too.",
        "",
        f"| runs | CS before tick {w['fault_tick']} (mean) | at or above {w['threshold']:g} "
        "then | of those, crossed below after it | warned before the crossing | median lead "
        "(ticks) |",
        "|---|---|---|---|---|---|",
    ]
    for name, f in [*((f"{fault} fault", w[fault]) for fault in w["faults"]),
                    ("no fault (control)", w["control"])]:
        lines.append(f"| {name} | {_f(f['cs_before_fault'])} | {f['above_at_fault']} of "
                     f"{f['runs']} | {f['runs_crossing']} | {f['warned_before_crossing']} | "
                     f"{_f(f['median_lead_ticks'], 1)} |")
    faulty = [w[fault] for fault in w["faults"]]
    crossed = sum(f["runs_crossing"] for f in faulty)
    warned = sum(f["warned_before_crossing"] for f in faulty)
    leads = [f"{fault} {_f(w[fault]['median_lead_ticks'], 1)}" for fault in w["faults"]
             if w[fault]["warned_before_crossing"]]
    control, seeds = w["control"], w["seeds"]
    lines += ["", (
        f"- Early warning: of {sum(f['above_at_fault'] for f in faulty)} faulty runs at or "
        f"above {w['threshold']:g} when the fault came ({sum(f['runs'] for f in faulty)} in "
        f"all), {crossed} crossed below it afterwards and {warned} of those crossings were "
        "warned before they happened"
        + (f" (median lead in ticks: {', '.join(leads)})" if leads else "")
        + f"; in the control runs without a fault {control['runs_crossing']} of "
        f"{control['above_at_fault']} crossed after that tick, and the false-alarm rate (an "
        f"alert from that tick on not followed by a crossing within {w['horizon']} ticks) was "
        f"{_f(w['false_alarm_rate'], 2)} ({w['false_alarms']} of {seeds} runs)."
    )]
    return lines


def _report(cfg: SyncExperimentConfig, r: dict[str, Any]) -> str:
    s = r["sampling"]
    mdea = cfg.mdea
    lines = [
        "# Complexity synchronization experiment",
        "",
        f"Generated by `{r['command'] or 'resonance experiment sync'}` in "
        f"{r['seconds']:.0f} s on {r['machine']}.",
        "",
        "## Verdicts",
        "",
        "| mechanism | best K | CS mean +- sd (min) | p max | MDEA-CS mean +- sd | "
        f"CS > {cfg.claim_cs}? | bytes/tick needed | full-state bytes/tick | what the bytes "
        "carry | without state sync? | BS +- se | MFPT (ticks) | control ms/tick | "
        f"episodes/agent | episodes to optimum (within {100 * cfg.lmpc_tolerance:g} %) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for v in r["verdicts"]:
        synced = v.get("basin_baseline_cs", math.nan)
        synced_ok = not (math.isfinite(synced) and synced < cfg.cs_min)
        if "mfpt_escaped" not in v:
            mfpt = "not run"
        elif not synced_ok:
            mfpt = "n/a (not synchronized)"
        else:
            runs = v["mfpt_escaped"] + v["mfpt_censored"]
            mfpt = (f"{v['mfpt_escaped']} of {runs} escaped; censored MLE "
                    f"{_f(v['mfpt_censored_mean'], 1)}")
        if "basin_stability" not in v:
            bs = "not run"
        elif not synced_ok:
            bs = f"n/a (unperturbed CS {_f(synced, 2)} < {cfg.cs_min})"
        else:
            bs = f"{_f(v['basin_stability'], 2)} +- {_f(v['basin_stderr'], 2)}"
        lines.append(
            f"| {v['mechanism']} | {v['best_strength']:g} ({v['unit']}) | {_f(v['cs_mean'])} +- "
            f"{_f(v['cs_sd'])} ({_f(v['cs_min'])}) | {_f(v['p_max'])} | "
            f"{_f(v['mdea_cs_mean'])} +- {_f(v['mdea_cs_sd'])} | "
            f"{'yes' if v['cs_above_claim'] and v['significant'] else 'no'} | "
            f"{_bytes(v['coupling_bytes_per_tick'])} | {_bytes(v['full_state_bytes_per_tick'])} "
            f"| {v['carries']} | {v['without_state_synchronization']} | {bs} | {mfpt} | "
            f"{_f(v['control_ms_per_tick'], 2)} | {_f(v['episodes_per_agent'], 1)} | "
            f"{_f(v['episodes_needed'], 1)} |"
        )
    lines += ["", *[_sentence(v, cfg) for v in r["verdicts"]]]
    lines += [_controller_sentence(v, cfg) for v in r["verdicts"] if v["controller"]]
    base = next(row for row in r["sweep"] if row["strength"] == 0.0)
    lines += [
        f"- Independent agents (K = 0): CS = {_f(base['cs_mean'])} +- {_f(base['cs_sd'])}, "
        f"MDEA-CS = {_f(base['mdea_cs_mean'])} +- {_f(base['mdea_cs_sd'])}.",
    ]
    reached = [v for v in r["verdicts"] if v["cs_above_claim"] and v["significant"]]
    groups = {
        "by complexity signatures only": [v["mechanism"] for v in reached
                                          if v["without_state_synchronization"] == "yes"],
        "by exchanging agent state": [v["mechanism"] for v in reached if v["state_exchange"]],
        "by a common drive without exchange": [v["mechanism"] for v in reached
                                               if not coupling_class(v["mechanism"]).channels],
    }
    missed = [v["mechanism"] for v in r["verdicts"] if v not in reached]
    said = [f"{how}: {', '.join(names)}" for how, names in groups.items() if names]
    lines.append(
        f"- CS > {cfg.claim_cs} on every seed (p < 0.05) was reached "
        + ("; ".join(said) if said else "by no mechanism")
        + (f"; not reached by: {', '.join(missed)}." if missed else ".")
        + (" The blueprint's claim (coordination by signatures without state "
           "synchronization) " + ("holds for " + ", ".join(groups["by complexity signatures only"])
                                  if groups["by complexity signatures only"]
                                  else "is not supported by any mechanism tried") + ".")
    )
    lines += _warning_lines(r["early_warning"], cfg)
    lines += [
        "",
        "## Setup",
        "",
        f"- {cfg.agents} agents, {cfg.size}x{cfg.size} fields (default pond; per agent a "
        "seeded random drive gain, source frequencies scaled by +-10 %, source phases and "
        f"damping), {cfg.steps_per_tick} solver steps per tick ({s['tick_s']:.4f} s); "
        f"{cfg.warmup} warm-up ticks discarded, {cfg.ticks} measured ticks; seeds "
        f"{', '.join(map(str, cfg.seeds))}.",
        f"- Sampling: {s['frames_per_tick']} frames per tick, "
        f"{s['frames_per_fastest_period']:.1f} per period of the fastest drive "
        f"({s['fastest_drive_period_s']:.4f} s); the tick's CI is their mean "
        f"(aliased: {'yes' if s['aliased'] else 'no'}).",
        f"- Pearson CS over the measured ticks; p from {cfg.surrogates} circular-shift "
        "surrogates (the chance of this CS without common timing); p max is the largest "
        "over seeds.",
        f"- MDEA-CS: delta of each agent's per-frame CI in windows of {mdea.window} frames "
        f"moved by {mdea.hop} (stripes {mdea.stripe}, fit over lengths {mdea.min_length} to "
        f"{mdea.max_fraction:g} of the window: the shortest window whose fit spans a decade "
        "above the short-time regime), then the mean pairwise correlation of the delta "
        "series, tested against circular shifts of the delta series.",
        "- Strengths tried: " + "; ".join(
            f"{m}: {', '.join(f'{k:g}' for k in ks)}" for m, ks in r["strengths"].items()
        ) + "; K = 0 once per seed for all.",
        f"- Basin stability: {cfg.basin_samples} kicks of {cfg.basin_perturbation} (log gain, "
        f"rad) from the first seed's snapshot at the best K, success if CS >= {cfg.cs_min} "
        f"after {max(cfg.horizon, cfg.window)} ticks (n/a when the unperturbed restart is "
        f"itself below {cfg.cs_min}). MFPT: noise {cfg.mfpt_noise} per "
        f"tick (log gain, rad), {cfg.mfpt_runs} runs, horizon {cfg.horizon} ticks, escape "
        f"when CS < "
        f"{cfg.cs_min}; runs that did not escape are censored, and the censored MLE is the "
        "time at risk over the escapes.",
        f"- Full-state traffic measured on the {r['traffic']['bus']} bus: every agent "
        f"publishing its float32 field, {_bytes(r['traffic']['full_state_bytes_per_tick'])} "
        "bytes per tick.",
        "",
        "## Sweep",
        "",
        "| mechanism | K | CS mean +- sd | CS min | p max | MDEA-CS mean +- sd | MDEA p max "
        "| bytes/tick needed | bytes/tick on the bus |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in r["sweep"]:
        if row["strength"] == 0.0 and row["mechanism"] != cfg.mechanisms[0]:
            continue
        name = "none (independent)" if row["strength"] == 0.0 else row["mechanism"]
        lines.append(
            f"| {name} | {row['strength']:g} | {_f(row['cs_mean'])} +- {_f(row['cs_sd'])} | "
            f"{_f(row['cs_min'])} | {_f(row['p_max'])} | {_f(row['mdea_cs_mean'])} +- "
            f"{_f(row['mdea_cs_sd'])} | {_f(row['mdea_p_max'])} | "
            f"{_bytes(row['coupling_bytes_per_tick'])} | {_bytes(row['bus_bytes_per_tick'])} |"
        )
    lines += [
        "",
        "![CS vs K](cs_vs_strength.png)",
        "",
        "![CI at the best K](ci_best.png)",
        "",
        "![traffic](traffic.png)",
        "",
    ]
    return "\n".join(lines)
