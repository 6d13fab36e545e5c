"""optimize: CMA-ES with BIPOP restarts on pycma, one generation at a time on an Executor.

pycma's ``fmin2`` runs the restarts (BIPOP: interleaved large-population and small-
population runs, Hansen 2009) and hands each generation to a *parallel objective*; ours
submits every (candidate, seed) pair of the generation to the project's
:class:`~resonance_engine.dist.Executor` (a local process pool, this process, or a Dask
cluster), averages each candidate over its seeds and gives the values back. pycma's
``NoiseHandler`` is not used (it does not work with a parallel objective): a noisy
objective is evaluated on the same fixed seed set for every candidate instead.

Every evaluation is written to AgentDB (``evaluations`` table) once its generation is
done, or at Ctrl-C for the candidates already finished. pycma is deterministic for a
given seed, so :func:`optimize` with ``resume=ID`` replays the stored values in the same
order instead of evaluating again and then continues: the history is the one an
uninterrupted run with the same seed would have produced.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import cma
import numpy as np

from resonance_engine.errors import ConfigError, ResonanceError
from resonance_engine.store.optimizations import EvaluationRecord

if TYPE_CHECKING:
    from resonance_engine.dist.executor import Executor
    from resonance_engine.store import AgentDB

__all__ = ["optimize", "OptimizationResult", "Progress", "evaluate_candidate"]


@dataclass(frozen=True)
class Progress:
    """What a progress callback sees after each generation."""

    evaluations: int
    generation: int
    restart: int
    best_f: float
    budget: int


@dataclass
class OptimizationResult:
    """The outcome of :func:`optimize`.

    Attributes
    ----------
    best_x : ndarray, shape (d,)
        Best candidate evaluated (parameter units).
    best_f : float
        Its value.
    evaluations : int
        Objective evaluations (candidates; each averages ``len(seeds)`` runs).
    restarts : int
        Restarts used after the first run.
    history : list of EvaluationRecord
        Every evaluation in the order asked for.
    status : str
        "finished" or "interrupted" (Ctrl-C).
    stop : dict
        pycma's termination reasons of the last run.
    optimization_id : int or None
        Row in AgentDB's ``optimizations`` (None without ``db``).
    names : list of str
        Parameter names.
    reused : int
        Evaluations taken from the database on resume instead of being run again.
    """

    best_x: np.ndarray
    best_f: float
    evaluations: int
    restarts: int
    history: list[EvaluationRecord]
    status: str = "finished"
    stop: dict[str, Any] = field(default_factory=dict)
    optimization_id: int | None = None
    names: list[str] = field(default_factory=list)
    reused: int = 0

    def best_so_far(self) -> np.ndarray:
        """Running minimum of the values, shape (evaluations,)."""
        return np.minimum.accumulate([r.value for r in self.history]) if self.history \
            else np.zeros(0)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "optimization_id": self.optimization_id,
            "status": self.status,
            "best_f": self.best_f,
            "best_x": dict(zip(self.names, map(float, self.best_x), strict=True)),
            "evaluations": self.evaluations,
            "restarts": self.restarts,
            "reused": self.reused,
            "stop": {k: str(v) for k, v in self.stop.items()},
        }


def evaluate_candidate(objective: Callable[..., float], x: Sequence[float], seed: int | None
                       ) -> float:
    """One task on a worker: ``objective(x)`` or ``objective(x, seed)`` as a float."""
    arr = np.asarray(x, dtype=np.float64)
    value = objective(arr) if seed is None else objective(arr, seed)
    return float(value)


def _bounds(bounds: Any, d: int) -> tuple[np.ndarray, np.ndarray] | None:
    if bounds is None:
        return None
    try:
        lo, hi = bounds
    except (TypeError, ValueError):
        raise ConfigError(f"bounds must be a (lower, upper) pair, got {bounds!r}") from None
    lo = np.broadcast_to(np.asarray(lo, dtype=np.float64), (d,)).copy()
    hi = np.broadcast_to(np.asarray(hi, dtype=np.float64), (d,)).copy()
    if np.any(np.isnan(lo)) or np.any(np.isnan(hi)) or np.any(lo >= hi):
        raise ConfigError(f"bounds need lower < upper in every coordinate, got {lo} and {hi}")
    return lo, hi


class _Evaluator:
    """pycma's parallel objective: runs, replays and records every evaluation."""

    def __init__(self, objective: Callable[..., float], executor: Executor,
                 seeds: tuple[int, ...], bounds: tuple[np.ndarray, np.ndarray] | None,
                 db: AgentDB | None, optimization_id: int | None,
                 stored: list[EvaluationRecord], budget: int,
                 progress: Callable[[Progress], None] | None) -> None:
        self.objective, self.executor, self.seeds = objective, executor, seeds
        self.bounds, self.db, self.optimization_id = bounds, db, optimization_id
        self.stored = stored
        self.budget, self.progress = budget, progress
        self.history: list[EvaluationRecord] = []
        self.generation = 0
        self.restart = -1
        self.reused = 0
        self.best = math.inf

    def new_run(self, es: cma.CMAEvolutionStrategy) -> None:
        """init_callback of fmin2: called at the start of the first run and each restart."""
        self.restart += 1

    def _replay(self, index: int, x: np.ndarray) -> EvaluationRecord | None:
        if index >= len(self.stored):
            return None
        rec = self.stored[index]
        if not np.allclose(rec.params, x, rtol=1e-12, atol=1e-300):
            raise ConfigError(
                f"cannot resume: evaluation {index} was {list(rec.params)} but the optimiser "
                f"now asks for {x.tolist()}; resume with the same objective, x0, sigma0, "
                "bounds, options and seed"
            )
        return rec

    def __call__(self, X: Sequence[np.ndarray]) -> list[float]:
        candidates = [np.asarray(x, dtype=np.float64) for x in X]
        if self.bounds is not None:  # pycma's BoundTransform keeps them inside; make sure
            candidates = [np.clip(x, *self.bounds) for x in candidates]
        first = len(self.history)
        records: list[EvaluationRecord | None] = [
            self._replay(first + i, x) for i, x in enumerate(candidates)]
        self.reused += sum(r is not None for r in records)
        todo = [i for i, r in enumerate(records) if r is None]
        seeds: tuple[int | None, ...] = self.seeds or (None,)
        items = [(self.objective, tuple(candidates[i].tolist()), s) for i in todo for s in seeds]
        sums: dict[int, list[float]] = {i: [] for i in todo}
        fresh: list[EvaluationRecord] = []

        def finish(i: int) -> None:
            values = sums[i]
            value = float(np.mean(values)) if all(map(math.isfinite, values)) else math.inf
            rec = EvaluationRecord(first + i, self.generation, self.restart,
                                   tuple(candidates[i].tolist()), value, self.seeds)
            records[i] = rec
            fresh.append(rec)

        stream = self.executor.imap_unordered(evaluate_candidate, items) if items else iter(())
        try:
            for outcome in stream:
                i = todo[outcome.index // len(seeds)]
                if outcome.failure is not None:
                    warnings.warn(f"evaluation of {candidates[i].tolist()} failed: "
                                  f"{outcome.failure}; counted as +inf", stacklevel=1)
                value = outcome.value if outcome.failure is None else math.inf
                sums[i].append(math.inf if not math.isfinite(value) else value)
                if len(sums[i]) == len(seeds):
                    finish(i)
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
            if self.db is not None and self.optimization_id is not None and fresh:
                self.db.add_evaluations(self.optimization_id,
                                        sorted(fresh, key=lambda r: r.evaluation))
        done = [r for r in records if r is not None]
        if len(done) < len(records):  # pragma: no cover - only when the stream stops early
            raise ResonanceError("a generation ended with unevaluated candidates")
        if done and all(not math.isfinite(r.value) for r in done) and fresh:
            raise ResonanceError(
                f"every evaluation of generation {self.generation} failed; check the "
                "objective (the warnings name the errors)"
            )
        self.history.extend(done)
        self.best = min([self.best, *(r.value for r in done)])
        self.generation += 1
        if self.progress is not None:
            self.progress(Progress(len(self.history), self.generation, self.restart,
                                   self.best, self.budget))
        return [r.value for r in done]


def optimize(
    objective: Callable[..., float],
    x0: Sequence[float] | np.ndarray,
    sigma0: float,
    bounds: Any = None,
    budget: int = 1000,
    popsize: int | None = None,
    bipop: bool = True,
    restarts: int = 9,
    executor: Executor | str | None = None,
    seed: int = 0,
    db: AgentDB | None = None,
    *,
    names: Sequence[str] | None = None,
    seeds: Sequence[int] = (),
    stds: Sequence[float] | None = None,
    ftarget: float | None = None,
    resume: int | None = None,
    name: str | None = None,
    progress: Callable[[Progress], None] | None = None,
    config: dict[str, Any] | None = None,
) -> OptimizationResult:
    """Minimise ``objective`` with CMA-ES (BIPOP restarts), evaluating on an executor.

    Parameters
    ----------
    objective : callable
        ``objective(x) -> float`` (``seeds`` empty) or ``objective(x, seed) -> float``;
        a module-level function or a picklable object when the executor uses processes.
    x0 : sequence of float, shape (d,)
        Start point (parameter units).
    sigma0 : float
        Initial step size (times ``stds`` per coordinate when given).
    bounds : (lower, upper), optional
        Scalars or arrays of shape (d,); no candidate outside is evaluated.
    budget : int
        Maximum number of evaluations (candidates) over all restarts.
    popsize : int, optional
        Population of the first run (default pycma's 4 + 3 ln d).
    bipop : bool
        BIPOP restart regime (otherwise IPOP: the population doubles at each restart).
    restarts : int
        Maximum number of (large-population) restarts.
    executor : Executor or "local" / "serial" / "dask" / "tcp://...", optional
        Where evaluations run (default: this process).
    seed : int
        Seed of the optimiser (pycma's seed is ``seed + 1``: pycma treats 0 as "random").
    db : AgentDB, optional
        Store the optimisation and every evaluation.
    names : sequence of str, optional
        Parameter names (default x0, x1, ...).
    seeds : sequence of int
        Replicate seeds: each candidate's value is the mean of ``objective(x, s)``.
    stds : sequence of float, optional
        Per-coordinate scale of sigma (pycma's ``CMA_stds``).
    ftarget : float, optional
        Stop when a value <= ftarget is found.
    resume : int, optional
        Id of a stored optimisation (in ``db``) to continue.
    name : str, optional
        Name stored with the optimisation.
    progress : callable, optional
        Called with a :class:`Progress` after each generation.
    config : dict, optional
        Extra JSON facts stored in the optimisation's config (e.g. the objective's name).

    Returns
    -------
    OptimizationResult
        On Ctrl-C the result of what was evaluated, with ``status="interrupted"`` (the
        database row says so too); KeyboardInterrupt is not re-raised.
    """
    from resonance_engine.dist.executor import resolve_executor

    x0 = np.asarray(x0, dtype=np.float64).reshape(-1)
    d = len(x0)
    if d < 1 or not np.all(np.isfinite(x0)):
        raise ConfigError(f"x0 must be a finite vector, got {x0.tolist()}")
    if not (math.isfinite(sigma0) and sigma0 > 0):
        raise ConfigError(f"sigma0 must be > 0, got {sigma0!r}")
    if not (isinstance(budget, int) and budget >= 1):
        raise ConfigError(f"budget must be an int >= 1, got {budget!r}")
    box = _bounds(bounds, d)
    if box is not None and (np.any(x0 < box[0]) or np.any(x0 > box[1])):
        raise ConfigError(f"x0 {x0.tolist()} lies outside the bounds {box[0]} .. {box[1]}")
    names = list(names) if names is not None else [f"x{i}" for i in range(d)]
    if len(names) != d:
        raise ConfigError(f"{len(names)} names for {d} parameters")
    seeds = tuple(int(s) for s in seeds)
    opts: dict[str, Any] = {
        "seed": int(seed) + 1, "maxfevals": budget, "verbose": -9, "verb_log": 0,
        "verb_disp": 0, "verb_filenameprefix": "", "CMA_elitist": False,
        # no extra evaluation of the mean when a run stops: then the budget only decides
        # where the search stops, and a resume with a larger budget replays exactly
        "eval_final_mean": False,
    }
    if box is not None:
        opts["bounds"] = [box[0].tolist(), box[1].tolist()]
    if popsize is not None:
        opts["popsize"] = int(popsize)
    if stds is not None:
        opts["CMA_stds"] = [float(s) for s in stds]
    if ftarget is not None:
        opts["ftarget"] = float(ftarget)
    record = {
        "x0": x0.tolist(), "sigma0": float(sigma0), "names": names,
        "bounds": None if box is None else [box[0].tolist(), box[1].tolist()],
        "budget": budget, "popsize": popsize, "bipop": bool(bipop), "restarts": restarts,
        "seeds": list(seeds), "stds": None if stds is None else list(map(float, stds)),
        "ftarget": ftarget, **(config or {}),
    }
    stored: list[EvaluationRecord] = []
    optimization_id = None
    if resume is not None:
        if db is None:
            raise ConfigError("resume needs the database the optimisation was stored in (db=)")
        info = db.optimization(resume)
        old = {k: v for k, v in info.config.items() if k != "budget"}
        new = {k: v for k, v in record.items() if k != "budget"}
        if old != new or info.seed != seed:
            changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
            raise ConfigError(
                f"cannot resume optimisation {resume}: its settings differ in "
                f"{changed or ['seed']}; pass the same ones (only the budget may change)"
            )
        stored = list(db.evaluations(resume))
        optimization_id = resume
    elif db is not None:
        optimization_id = db.create_optimization(record, seed, name=name)

    own_executor = not hasattr(executor, "imap_unordered")
    pool = resolve_executor(executor if executor is not None else "serial")
    evaluator = _Evaluator(objective, pool, seeds, box, db, optimization_id, stored, budget,
                           progress)
    status, stop = "finished", {}
    # pycma seeds and BIPOP draws from numpy's global generator; give the caller its state back
    state = np.random.get_state()  # noqa: NPY002
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module="cma")
            _, es = cma.fmin2(
                None, x0, float(sigma0), opts, parallel_objective=evaluator,
                restarts=int(restarts), bipop=bool(bipop), init_callback=evaluator.new_run,
            )
        stop = dict(es.stop(check=False))
    except KeyboardInterrupt:
        status = "interrupted"
    except BaseException:
        if db is not None and optimization_id is not None:
            best = _best(evaluator.history)
            db.finish_optimization(optimization_id, "failed", best[1], best[0])
        raise
    finally:
        np.random.set_state(state)  # noqa: NPY002
        if own_executor:
            pool.close()
    best_x, best_f = _best(evaluator.history)
    if db is not None and optimization_id is not None:
        db.finish_optimization(optimization_id, status, best_f, best_x)
    return OptimizationResult(
        np.asarray(best_x if best_x is not None else x0), best_f, len(evaluator.history),
        max(0, evaluator.restart), evaluator.history, status, stop, optimization_id, names,
        evaluator.reused,
    )


def _best(history: list[EvaluationRecord]) -> tuple[list[float] | None, float]:
    if not history:
        return None, math.inf
    rec = min(history, key=lambda r: r.value)
    return list(rec.params), rec.value


