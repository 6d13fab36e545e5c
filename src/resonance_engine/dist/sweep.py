"""Parameter sweeps: plan the grid, run every point on an executor, stream results back.

The client (the process that calls :func:`run_sweep`) plans the grid, submits one
:func:`run_one` task per grid point to an
:class:`~resonance_engine.dist.executor.Executor`, and writes each result as it arrives
through one :class:`~resonance_engine.dist.results.ResultStore` (the only writer:
workers never touch the database). Every run has a deterministic key (a hash of its
full configuration, seed and options), so a result that arrives twice is stored once,
and a sweep run again against the same database skips what is stored.

Example
-------
>>> from resonance_engine.dist import LocalExecutor, MemoryResults, parse_param
>>> from resonance_engine.dist import plan_sweep, run_sweep
>>> plan = plan_sweep(None, [parse_param("damping=0.05,0.2")], size=32, steps=20)
>>> report = run_sweep(plan, LocalExecutor(0), MemoryResults())
>>> len(report.results), report.failures
(2, [])
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from resonance_engine.config import RunConfig, default_pond
from resonance_engine.dist.executor import Executor, LocalExecutor, TaskFailure, TaskOutcome
from resonance_engine.dist.params import ParamValue, SweepParameter, apply_params, parameter_grid
from resonance_engine.errors import ConfigError
from resonance_engine.loop import Callback, RunLoop
from resonance_engine.metrics import ComplexityAnalyzer, MeasureTracker

__all__ = [
    "RunOptions",
    "RunSpec",
    "RunResult",
    "SweepFailure",
    "SweepReport",
    "plan_sweep",
    "run_key",
    "run_one",
    "run_sweep",
]


@dataclass(frozen=True)
class RunOptions:
    """How each run of a sweep is measured (part of the run key when it changes results).

    Attributes
    ----------
    metrics : bool
        Compute D, G, C, tau and CI.
    frames : int
        Number of frames sampled (evenly over the run, the last one at the final step)
        for the metric series and the means; >= 1.
    threads : int
        numba threads per run (default 1: a sweep is parallel across runs). Does not
        change the numbers.
    """

    metrics: bool = True
    frames: int = 20
    threads: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.frames, int) or self.frames < 1:
            raise ConfigError(f"frames must be an integer >= 1, got {self.frames!r}")
        if not isinstance(self.threads, int) or self.threads < 1:
            raise ConfigError(f"threads must be an integer >= 1, got {self.threads!r}")

    def key_fields(self) -> dict[str, Any]:
        """The options that change results (threads does not)."""
        return {"metrics": self.metrics, "frames": self.frames}


@dataclass(frozen=True)
class RunSpec:
    """One grid point of a sweep, fully resolved on the client.

    Attributes
    ----------
    index : int
        Position in the grid (row-major over the parameters, the first slowest).
    params : dict
        The swept parameter values of this point.
    config : dict
        The complete run configuration (``RunConfig.model_dump()``), params applied.
    key : str
        Deterministic run key (16 hex digits), see :func:`run_key`.
    """

    index: int
    params: dict[str, ParamValue]
    config: dict[str, Any]
    key: str

    @property
    def seed(self) -> int:
        """The run's seed."""
        return int(self.config["seed"])


@dataclass(frozen=True, eq=False)
class RunResult:
    """Final numbers of one run (all floats are plain Python floats).

    Attributes
    ----------
    key : str
        The run key.
    params : dict
        The swept parameter values.
    seed : int
    steps : int
        Steps run.
    t : float
        Simulated time at the end (s).
    energy : float
        Discrete energy at the end (J per unit density).
    max_abs_u, rms_u : float
        max |u| and root mean square of u at the end (field units).
    ci_final, ci_mean : float
        Scalar CI of the last frame and mean over the frames (NaN without metrics).
    fractal_dim_final, fractal_dim_mean : float
        D of the last frame and mean over the frames (NaN without metrics).
    coherence_final, gain_final, dwell_final : float
        C, G and tau of the last frame (NaN without metrics).
    series : dict of str to list of float
        Per frame: ``step``, ``t``, ``energy``, ``max_abs_u`` and, with metrics, ``ci``,
        ``fractal_dim``, ``coherence``, ``gain``, ``dwell``.
    config : dict
        The run configuration.
    wall_s : float
        Wall time of the run on its worker (s); not part of the results' identity.
    worker : str
        ``host:pid`` of the worker.
    cpu_s : float
        CPU time of the worker thread during the run (s); ``cpu_s / wall_s`` well below 1
        means the worker waited for a core (a busy machine).
    """

    key: str
    params: dict[str, ParamValue]
    seed: int
    steps: int
    t: float
    energy: float
    max_abs_u: float
    rms_u: float
    ci_final: float
    ci_mean: float
    fractal_dim_final: float
    fractal_dim_mean: float
    coherence_final: float
    gain_final: float
    dwell_final: float
    series: dict[str, list[float]]
    config: dict[str, Any]
    wall_s: float = field(default=math.nan, compare=False)
    worker: str = field(default="", compare=False)
    cpu_s: float = field(default=math.nan, compare=False)

    #: The scalar results, in table order.
    SCALARS = (
        "ci_final",
        "ci_mean",
        "fractal_dim_final",
        "fractal_dim_mean",
        "coherence_final",
        "gain_final",
        "dwell_final",
        "energy",
        "max_abs_u",
        "rms_u",
    )

    def scalars(self) -> dict[str, float]:
        """The scalar results by name."""
        return {name: getattr(self, name) for name in self.SCALARS}

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-compatible data (NaN stays a float NaN)."""
        return asdict(self)

    def fingerprint(self) -> str:
        """Canonical JSON of all but ``wall_s``, ``worker`` and ``cpu_s`` (NaN == NaN).

        Two runs of the same configuration give the same fingerprint on any executor.
        """
        data = self.to_dict()
        for name in ("wall_s", "worker", "cpu_s"):
            data.pop(name)
        return json.dumps(data, sort_keys=True, default=str)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RunResult):
            return NotImplemented
        return self.fingerprint() == other.fingerprint()

    def __hash__(self) -> int:
        return hash(self.key)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunResult:
        """Inverse of :meth:`to_dict`."""
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class SweepFailure:
    """A grid point whose run raised (or whose worker kept dying)."""

    index: int
    key: str
    params: dict[str, ParamValue]
    failure: TaskFailure

    def __str__(self) -> str:
        return f"{self.params}: {self.failure}"


@dataclass
class SweepReport:
    """What a sweep did.

    Attributes
    ----------
    parameters : list of SweepParameter
    specs : list of RunSpec
        Every grid point, in grid order.
    results : dict of int to RunResult
        Results by grid index: the runs finished now and those found already stored.
    failures : list of SweepFailure
    stored : int
        Results written by this sweep.
    skipped : int
        Grid points already in the store before the sweep (not run again).
    duplicates : int
        Results that arrived for a key already written (not written again), also by
        another writer on the same database.
    unstored : list of SweepFailure
        Runs that finished but whose result the store failed to write (the sweep goes
        on; the result is in ``results`` and the reason in the failure).
    interrupted : bool
        True when Ctrl-C stopped the sweep (outstanding runs were cancelled).
    cancelled : int
        Grid points neither finished nor failed (cancelled by the interruption).
    wall_s : float
        Wall time of the sweep on the client (s).
    executor : str
        Which executor ran it.
    """

    parameters: list[SweepParameter]
    specs: list[RunSpec]
    results: dict[int, RunResult] = field(default_factory=dict)
    failures: list[SweepFailure] = field(default_factory=list)
    stored: int = 0
    skipped: int = 0
    duplicates: int = 0
    unstored: list[SweepFailure] = field(default_factory=list)
    interrupted: bool = False
    cancelled: int = 0
    wall_s: float = 0.0
    executor: str = ""

    @property
    def complete(self) -> bool:
        """True when every grid point has a result."""
        return len(self.results) == len(self.specs)

    def ordered_results(self) -> list[RunResult | None]:
        """Results in grid order, None where a point failed or was cancelled."""
        return [self.results.get(spec.index) for spec in self.specs]

    def grid(self, quantity: str) -> np.ndarray:
        """A scalar result over the grid: shape (len(p.values) for p in parameters).

        NaN where a point has no result.
        """
        shape = tuple(len(p.values) for p in self.parameters) or (1,)
        values = np.full(len(self.specs), np.nan)
        for spec in self.specs:
            result = self.results.get(spec.index)
            if result is not None:
                values[spec.index] = getattr(result, quantity)
        return values.reshape(shape)

    def summary(self) -> dict[str, Any]:
        """The counts, for ``--json`` and the summary table."""
        return {
            "runs": len(self.specs),
            "finished": len(self.results),
            "stored": self.stored,
            "skipped_already_stored": self.skipped,
            "duplicates_ignored": self.duplicates,
            "not_stored": len(self.unstored),
            "failed": len(self.failures),
            "cancelled": self.cancelled,
            "interrupted": self.interrupted,
            "executor": self.executor,
            "wall_s": self.wall_s,
        }


def run_key(config: Mapping[str, Any], options: RunOptions | None = None) -> str:
    """Deterministic key of a run: a hash of its configuration (seed included) and options.

    The same physical run gets the same key however its parameters were written.
    """
    options = options or RunOptions()
    text = json.dumps(
        {"config": config, "options": options.key_fields()}, sort_keys=True, default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def plan_sweep(
    base: RunConfig | None,
    parameters: Sequence[SweepParameter],
    *,
    size: int = 128,
    seed: int | None = None,
    steps: int | None = None,
    options: RunOptions | None = None,
) -> tuple[list[SweepParameter], list[RunSpec]]:
    """Resolve every grid point to a full, validated configuration and its key.

    Parameters
    ----------
    base : RunConfig or None
        The scenario (e.g. from a TOML file). ``None`` uses the default pond
        (:func:`~resonance_engine.config.default_pond`) at ``size``; a swept ``seed`` or
        ``size`` then rebuilds the pond (the seed draws the source phases).
    parameters : sequence of SweepParameter
    size : int
        Grid size of the default pond (cells per side).
    seed : int, optional
        Seed of every run unless swept (default: the base config's, else 0).
    steps : int, optional
        Steps of every run unless swept (default: the base config's).
    options : RunOptions, optional

    Returns
    -------
    (parameters, specs)
        The parameters as given and one :class:`RunSpec` per grid point.

    Raises
    ------
    ConfigError
        For an unknown parameter or a value the configuration refuses.
    """
    options = options or RunOptions()
    parameters = list(parameters)
    specs = []
    for index, point in enumerate(parameter_grid(parameters)):
        if base is None:
            point_seed = int(point.get("seed", seed if seed is not None else 0))
            point_size = int(point.get("size", size))
            config = RunConfig(simulation=default_pond(point_size, point_seed), seed=point_seed)
            rest = {k: v for k, v in point.items() if k not in ("seed", "size")}
        else:
            config = base.model_copy(deep=True)
            if seed is not None:
                config.seed = seed
            rest = dict(point)
        if steps is not None:
            config.steps = steps
        resolved = apply_params(config.model_dump(), rest)
        if isinstance(resolved["seed"], float):
            if resolved["seed"] != int(resolved["seed"]):
                raise ConfigError(f"seed must be an integer, got {resolved['seed']!r}")
        specs.append(RunSpec(index, dict(point), resolved, run_key(resolved, options)))
    return parameters, specs


def _set_numba_threads(threads: int) -> int:
    import numba

    previous = numba.get_num_threads()
    limit = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    numba.set_num_threads(max(1, min(threads, limit)))
    return int(previous)


def _frame_steps(steps: int, frames: int) -> list[int]:
    """Steps at which frames are taken: evenly spaced, the last one at ``steps``."""
    if steps == 0:
        return [0]
    points = np.linspace(0, steps, min(frames, steps) + 1)[1:]
    return sorted({int(round(p)) for p in points})


def run_one(
    config: Mapping[str, Any],
    params: Mapping[str, ParamValue],
    seed: int,
    options: RunOptions | None = None,
    key: str | None = None,
) -> RunResult:
    """Run one configuration to the end and return its final numbers (a sweep task).

    A module-level function (picklable by name), deterministic given its arguments:
    the same call gives the same numbers on any worker.

    Parameters
    ----------
    config : mapping
        A run configuration (``RunConfig.model_dump()``); its ``seed`` is replaced by
        ``seed``.
    params : mapping
        The swept parameter values (echoed in the result; already applied to ``config``).
    seed : int
        Seed of the run.
    options : RunOptions, optional
    key : str, optional
        The run key (computed when not given).

    Raises
    ------
    ConfigError, CFLViolation, DivergenceError
        As the solver raises them (the executor reports them per grid point).
    """
    options = options or RunOptions()
    start = time.perf_counter()
    cpu_start = time.thread_time()
    run = RunConfig.model_validate({**dict(config), "seed": int(seed)})
    data = run.model_dump()
    previous_threads = _set_numba_threads(options.threads)
    try:
        solver = run.simulation.build()
        series: dict[str, list[float]] = {
            name: [] for name in ("step", "t", "energy", "max_abs_u")
        }

        def sample(state: Any, t: float) -> None:
            series["step"].append(float(state.step_count))
            series["t"].append(float(t))
            series["energy"].append(float(state.energy()))
            series["max_abs_u"].append(float(np.max(np.abs(state.u))))

        frames = [step for step in _frame_steps(run.steps, options.frames) if step > 0] or None
        trackers: list[Any] = [Callback(sample, frames, final=True)]
        measure = None
        if options.metrics:
            measure = MeasureTracker(ComplexityAnalyzer(), frames, resident=False)
            trackers.append(measure)
        RunLoop(solver, trackers, steps=run.steps).run()
        if measure is not None:
            for name in ("ci", "fractal_dim", "coherence", "gain", "dwell"):
                series[name] = [float(getattr(m, name)) for m in measure.history]
        u64 = solver.u.astype(np.float64)
        final = {name: values[-1] for name, values in series.items()}

        def mean(name: str) -> float:
            values = series.get(name)
            return float(np.nanmean(values)) if values and np.any(np.isfinite(values)) else math.nan

        return RunResult(
            key=key or run_key(data, options),
            params=dict(params),
            seed=run.seed,
            steps=solver.step_count,
            t=float(solver.t),
            energy=float(solver.energy()),
            max_abs_u=float(np.max(np.abs(u64))),
            rms_u=float(np.sqrt(np.mean(u64 * u64))),
            ci_final=final.get("ci", math.nan),
            ci_mean=mean("ci"),
            fractal_dim_final=final.get("fractal_dim", math.nan),
            fractal_dim_mean=mean("fractal_dim"),
            coherence_final=final.get("coherence", math.nan),
            gain_final=final.get("gain", math.nan),
            dwell_final=final.get("dwell", math.nan),
            series=series,
            config=data,
            wall_s=time.perf_counter() - start,
            worker=f"{socket.gethostname()}:{os.getpid()}",
            cpu_s=time.thread_time() - cpu_start,
        )
    finally:
        _set_numba_threads(previous_threads)


#: Called with each outcome as it arrives: (spec, result or None, failure or None).
ResultCallback = Callable[[RunSpec, RunResult | None, SweepFailure | None], None]


def run_sweep(
    plan: tuple[list[SweepParameter], list[RunSpec]],
    executor: Executor | None = None,
    results: Any = None,
    *,
    options: RunOptions | None = None,
    on_result: ResultCallback | None = None,
) -> SweepReport:
    """Run every grid point of ``plan`` on ``executor``; write results on this client.

    Parameters
    ----------
    plan : (parameters, specs)
        From :func:`plan_sweep`.
    executor : Executor, optional
        Default: a :class:`~resonance_engine.dist.executor.LocalExecutor` (closed at the end).
    results : ResultStore, optional
        Where results go (see :mod:`resonance_engine.dist.results`); default: kept in the
        report only. Points whose key the store already holds are not run again.
    options : RunOptions, optional
        Must be the options the plan's keys were computed with.
    on_result : callable, optional
        Called on the client as each run finishes or fails (progress bars).

    Returns
    -------
    SweepReport
        Ctrl-C during the sweep cancels the outstanding runs and returns the report with
        ``interrupted=True`` and every finished run kept (and written).
    """
    from resonance_engine.dist.results import MemoryResults

    options = options or RunOptions()
    parameters, specs = plan
    owned = executor is None
    executor = executor or LocalExecutor()
    results = results if results is not None else MemoryResults()
    report = SweepReport(parameters, list(specs), executor=executor.describe())
    start = time.perf_counter()
    # one task per distinct key: two grid points with the same configuration share a run
    by_key: dict[str, list[RunSpec]] = {}
    for spec in specs:
        stored = results.get(spec.key)
        if stored is not None:
            report.results[spec.index] = stored
            report.skipped += 1
            if on_result is not None:
                on_result(spec, stored, None)
            continue
        by_key.setdefault(spec.key, []).append(spec)
    todo = [group[0] for group in by_key.values()]
    items = [(spec.config, spec.params, spec.seed, options, spec.key) for spec in todo]
    stream = executor.imap_unordered(run_one, items)
    try:
        for outcome in stream:
            _receive(report, by_key[todo[outcome.index].key], outcome, results, on_result)
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        stream.close()  # type: ignore[attr-defined]
        if owned:
            executor.close()
    done = set(report.results) | {f.index for f in report.failures}
    report.cancelled = sum(1 for spec in specs if spec.index not in done)
    report.wall_s = time.perf_counter() - start
    return report


def _receive(
    report: SweepReport,
    group: list[RunSpec],
    outcome: TaskOutcome,
    results: Any,
    on_result: ResultCallback | None,
) -> None:
    first = group[0]
    if outcome.failure is not None:
        for spec in group:
            failure = SweepFailure(spec.index, spec.key, spec.params, outcome.failure)
            report.failures.append(failure)
            if on_result is not None:
                on_result(spec, None, failure)
        return
    result: RunResult = outcome.value
    if results.has(first.key):
        report.duplicates += 1
    else:
        try:
            stored = results.write(result)
        except Exception as exc:  # noqa: BLE001 - reported per run; the sweep goes on
            not_stored = TaskFailure(type(exc).__name__, f"result not stored: {exc}")
            report.unstored.append(SweepFailure(first.index, first.key, first.params, not_stored))
        else:
            if stored is False:  # another writer stored this key meanwhile
                report.duplicates += 1
            else:
                report.stored += 1
    for spec in group:
        report.results[spec.index] = result
        if on_result is not None:
            on_result(spec, result, None)
