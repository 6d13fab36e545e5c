"""Objectives for :func:`~resonance_engine.optimize.optimize` (and ``resonance optimize``).

Every objective is a picklable object called as ``objective(x, seed) -> float`` (smaller
is better) with ``x`` in the order of its ``names``, so the same seed set is used for
every candidate:

``cs``
    The swarm's complexity synchronization: ``-CS`` at the end of a run of ``ticks``
    ticks (minimised, so CS is maximised). Parameters: ``coupling`` (K) and fields of
    :class:`~resonance_engine.swarm.SwarmConfig` (``amplitude_spread``,
    ``frequency_spread``, ``phase_spread``, ``noise``, ...).
``target``
    Match target values of the time-averaged D and/or CI of a simulation: the sum of
    squared relative errors. Parameters: the sweep's names (``damping``,
    ``frequency``, ``amplitude``, ``feedback_strength``, dotted paths; see
    :mod:`resonance_engine.dist.params`).
``separation``
    How well CI separates two sets of scenarios (``[[a]]`` and ``[[b]]`` tables of a TOML
    file, each a set of sweep parameters applied to the base config): ``-|mean_a - mean_b|
    / sqrt(var_a + var_b)`` of the scenarios' mean CI (a Welch-type t without the
    counts). Parameters: fields of :class:`~resonance_engine.metrics.MetricsConfig`
    (``alpha``, ``beta``, ``gamma``, ``threshold_rms``, ``gain_window``,
    ``coherence_sigma``, ...).
``module:function``
    Any importable callable ``f(x)`` or ``f(x, seed)``.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import math
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from resonance_engine.errors import ConfigError

__all__ = [
    "SwarmCSObjective",
    "TargetObjective",
    "SeparationObjective",
    "CallableObjective",
    "make_objective",
    "OBJECTIVES",
]

#: Names accepted by :func:`make_objective` besides ``module:function``.
OBJECTIVES = ("cs", "target", "separation")


#: Parameters that are integers (rounded from the optimiser's real values).
_INTEGER = {"gain_window", "dwell_history", "min_box", "max_box", "steps_per_tick", "window"}


def _values(names: Sequence[str], x: Any) -> dict[str, Any]:
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if len(x) != len(names):
        raise ConfigError(
            f"objective expects {len(names)} values ({', '.join(names)}), got {len(x)}"
        )
    return {name: int(round(v)) if name in _INTEGER else float(v)
            for name, v in zip(names, x, strict=True)}


@dataclass(frozen=True)
class SwarmCSObjective:
    """``-CS`` of a swarm run (see the module docstring)."""

    names: tuple[str, ...]
    agents: int = 4
    ticks: int = 96
    size: int = 32
    config: dict[str, Any] = field(default_factory=dict)

    def __call__(self, x: Any, seed: int = 0) -> float:
        from resonance_engine.swarm import Swarm, SwarmConfig

        values = _values(self.names, x)
        coupling = values.pop("coupling", 0.0)
        settings = {"size": self.size, "window": min(64, self.ticks), **self.config, **values}
        try:
            cfg = SwarmConfig(**settings)
        except TypeError as exc:
            raise ConfigError(f"cs objective: {exc}; parameters are 'coupling' and SwarmConfig "
                              "fields") from None
        swarm = Swarm(self.agents, cfg, coupling=coupling, seed=int(seed))
        health = logging.getLogger("resonance_engine.swarm.health")
        level = health.level
        health.setLevel(logging.ERROR)  # a low CS is what is being searched, not an incident
        try:
            swarm.run(self.ticks)
            cs = swarm.coordinator.cs if swarm.coordinator is not None else math.nan
        finally:
            health.setLevel(level)
            swarm.close()
        return -float(cs) if math.isfinite(cs) else 1.0


def _run_means(config: Mapping[str, Any], params: Mapping[str, Any], seed: int,
               metrics: Mapping[str, Any] | None = None, frames: int = 10) -> dict[str, float]:
    """Time-averaged D and CI of one simulation (the sweep's run, optional MetricsConfig)."""
    from resonance_engine.config import RunConfig
    from resonance_engine.dist.params import apply_params
    from resonance_engine.loop import RunLoop
    from resonance_engine.metrics import ComplexityAnalyzer, MeasureTracker, MetricsConfig

    run = RunConfig.model_validate({**apply_params(config, params), "seed": int(seed)})
    analyzer = ComplexityAnalyzer(MetricsConfig(**dict(metrics or {})))
    every = max(1, run.steps // frames)
    # the one run loop: a frame every `every` steps, `frames` of them
    measure = MeasureTracker(analyzer, every, resident=False)
    if RunLoop(run.simulation.build(), [measure], steps=every * frames).run().status == (
        "interrupted"
    ):
        raise KeyboardInterrupt
    ci = [float(m.ci) for m in measure.history]
    dim = [float(m.fractal_dim) for m in measure.history]
    return {"ci": float(np.nanmean(ci)), "fractal_dim": float(np.nanmean(dim))}


def _base_config(steps: int, size: int) -> dict[str, Any]:
    from resonance_engine.config import RunConfig, default_pond

    return RunConfig(steps=steps, simulation=default_pond(size)).model_dump()


@dataclass(frozen=True)
class TargetObjective:
    """Squared relative distance of the mean D and CI of a run to targets."""

    names: tuple[str, ...]
    fractal_dim: float | None = None
    ci: float | None = None
    config: dict[str, Any] = field(default_factory=lambda: _base_config(400, 48))

    def __post_init__(self) -> None:
        if self.fractal_dim is None and self.ci is None:
            raise ConfigError("the target objective needs a target: fractal_dim and/or ci")

    def __call__(self, x: Any, seed: int = 0) -> float:
        means = _run_means(self.config, _values(self.names, x), seed)
        loss = 0.0
        for key, want in (("fractal_dim", self.fractal_dim), ("ci", self.ci)):
            if want is not None:
                got = means[key]
                loss += ((got - want) / want) ** 2 if math.isfinite(got) else 1e6
        return loss


@dataclass(frozen=True)
class SeparationObjective:
    """``-|mean_a - mean_b| / sqrt(var_a + var_b)`` of CI over two scenario sets."""

    names: tuple[str, ...]
    a: tuple[dict[str, Any], ...]
    b: tuple[dict[str, Any], ...]
    config: dict[str, Any] = field(default_factory=lambda: _base_config(400, 48))

    def __post_init__(self) -> None:
        if not self.a or not self.b:
            raise ConfigError("the separation objective needs scenarios in [[a]] and [[b]]")

    @classmethod
    def from_toml(cls, path: str | Path, names: Sequence[str]) -> SeparationObjective:
        """Scenarios from a TOML file with ``[[a]]``/``[[b]]`` tables of sweep parameters
        (and optional ``steps`` and ``size`` at the top)."""
        try:
            data = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read scenarios {str(path)!r}: {exc}") from None
        config = _base_config(int(data.get("steps", 400)), int(data.get("size", 48)))
        return cls(tuple(names), tuple(data.get("a", ())), tuple(data.get("b", ())), config)

    def __call__(self, x: Any, seed: int = 0) -> float:
        metrics = _values(self.names, x)
        ci = [[_run_means(self.config, p, seed, metrics)["ci"] for p in group]
              for group in (self.a, self.b)]
        if not all(math.isfinite(v) for group in ci for v in group):
            return 0.0
        spread = math.sqrt(float(np.var(ci[0]) + np.var(ci[1])) + 1e-12 * (
            1 + abs(float(np.mean(ci[0]))) + abs(float(np.mean(ci[1])))) ** 2)
        return -abs(float(np.mean(ci[0]) - np.mean(ci[1]))) / spread


@dataclass(frozen=True)
class CallableObjective:
    """``module:function`` imported on each worker, called with or without the seed."""

    spec: str

    def function(self) -> Callable[..., Any]:
        module, _, name = self.spec.partition(":")
        try:
            fn = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"cannot import objective {self.spec!r}: {exc}") from None
        if not callable(fn):
            raise ConfigError(f"objective {self.spec!r} is not callable")
        return fn

    def __call__(self, x: Any, seed: int | None = None) -> float:
        fn = self.function()
        takes_seed = len(inspect.signature(fn).parameters) >= 2
        return float(fn(x, seed) if takes_seed and seed is not None else fn(x))


def make_objective(spec: str, names: Sequence[str], options: Mapping[str, Any] | None = None
                   ) -> Callable[..., float]:
    """The objective named ``spec`` ("cs", "target", "separation" or "module:function").

    ``options`` are the objective's settings (``agents``, ``ticks``, ``size`` for cs;
    ``fractal_dim``, ``ci`` for target; ``scenarios`` (a TOML path) for separation).
    """
    options = dict(options or {})
    names = tuple(names)
    try:
        if spec == "cs":
            return SwarmCSObjective(names, **options)
        if spec == "target":
            return TargetObjective(names, **options)
        if spec == "separation":
            path = options.pop("scenarios", None)
            if path is None:
                raise ConfigError("the separation objective needs scenarios=PATH.toml")
            return SeparationObjective.from_toml(path, names)
    except TypeError as exc:
        raise ConfigError(f"objective {spec!r}: {exc}") from None
    if ":" in spec:
        objective = CallableObjective(spec)
        objective.function()  # fail now, not on every worker
        return objective
    raise ConfigError(
        f"unknown objective {spec!r}; use one of {', '.join(OBJECTIVES)} or module:function"
    )
