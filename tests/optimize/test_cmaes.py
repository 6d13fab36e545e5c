"""optimize: pycma through the executor, BIPOP restarts, bounds, storage and resume."""

from __future__ import annotations

import math

import cma
import numpy as np
import pytest

from resonance_engine.dist import LocalExecutor
from resonance_engine.errors import ConfigError, ResonanceError
from resonance_engine.optimize import optimize
from resonance_engine.store import AgentDB

from .objectives import (
    Interrupting,
    inside_unit_box,
    noisy_sphere,
    rastrigin,
    rosenbrock,
    sometimes_failing,
)


def test_rosenbrock_5d_through_a_process_pool_matches_pycma_alone():
    with LocalExecutor(2) as pool:
        result = optimize(rosenbrock, np.zeros(5), 0.5, budget=3000, executor=pool,
                          ftarget=1e-10, seed=3)
    assert result.best_f < 1e-8
    assert result.evaluations <= 3000
    assert len(result.history) == result.evaluations
    # pycma on its own, same seed and options: the same search, evaluation for evaluation
    opts = {"seed": 4, "maxfevals": 3000, "ftarget": 1e-10, "verbose": -9, "verb_log": 0,
            "verb_disp": 0, "CMA_elitist": False, "eval_final_mean": False}
    _, es = cma.fmin2(rosenbrock, np.zeros(5), 0.5, opts, restarts=9, bipop=True)
    assert es.countevals == result.evaluations
    assert es.best.f == result.best_f


def test_bipop_restarts_find_the_global_basin_of_rastrigin():
    result = optimize(rastrigin, np.full(5, 3.0), 2.0, bounds=(-5.12, 5.12), budget=20000,
                      ftarget=1e-8, seed=0)
    assert result.restarts >= 1
    sizes = {}
    for rec in result.history:
        sizes[(rec.restart, rec.generation)] = sizes.get((rec.restart, rec.generation), 0) + 1
    per_restart = {r: max(n for (rr, _), n in sizes.items() if rr == r)
                   for r in range(result.restarts + 1)}
    assert per_restart[0] == 8  # 4 + 3 ln 5
    assert max(per_restart.values()) >= 16  # a large-population regime ran
    first = min(r.value for r in result.history if r.restart == 0)
    assert result.best_f < 0.5 < first  # the first run ends in a local minimum (f >= ~1)


def test_no_candidate_outside_the_bounds_is_evaluated():
    result = optimize(inside_unit_box, [0.5, 0.5, 0.5], 0.8, bounds=(0.0, 1.0), budget=600)
    params = np.array([r.params for r in result.history])
    assert params.min() >= 0.0 and params.max() <= 1.0
    np.testing.assert_allclose(result.best_x, 0.0, atol=1e-3)
    with pytest.raises(ConfigError, match="outside the bounds"):
        optimize(inside_unit_box, [2.0], 0.5, bounds=(0.0, 1.0))
    with pytest.raises(ConfigError, match="lower < upper"):
        optimize(inside_unit_box, [0.5], 0.5, bounds=(1.0, 0.0))


def test_every_evaluation_is_stored_and_resume_gives_the_uninterrupted_history(tmp_path):
    kwargs = {"x0": [0.0, 0.0, 0.0], "sigma0": 0.5, "budget": 400, "seed": 7}
    full = optimize(rosenbrock, **kwargs)
    path = tmp_path / "opt.db"
    with AgentDB(path) as db:
        cut = optimize(Interrupting(150), db=db, **kwargs)  # Ctrl-C at the 150th call
        assert cut.status == "interrupted" and cut.evaluations < 150
        assert db.optimization(cut.optimization_id).status == "interrupted"
        assert len(db.evaluations(cut.optimization_id)) == 149  # the started generation too
    with AgentDB(path) as db:  # later, another process
        resumed = optimize(rosenbrock, db=db, resume=cut.optimization_id, **kwargs)
        assert resumed.reused == 149 and resumed.status == "finished"
        stored = list(db.evaluations(cut.optimization_id))
    assert [(r.params, r.value, r.generation, r.restart) for r in resumed.history] == [
        (r.params, r.value, r.generation, r.restart) for r in full.history]
    assert stored == resumed.history
    assert resumed.best_f == full.best_f
    with AgentDB(path) as db, pytest.raises(ConfigError, match=r"differ in \['sigma0'\]"):
        optimize(rosenbrock, db=db, resume=cut.optimization_id, **{**kwargs, "sigma0": 0.4})


def test_replicate_seeds_average_a_noisy_objective():
    result = optimize(noisy_sphere, [1.0, 1.0], 0.5, budget=60, seeds=(1, 2, 3))
    rec = result.history[0]
    expected = np.mean([noisy_sphere(np.array(rec.params), s) for s in (1, 2, 3)])
    assert rec.value == pytest.approx(expected, rel=1e-12) and rec.seeds == (1, 2, 3)


def test_failed_evaluations_count_as_inf():
    with pytest.warns(UserWarning, match="no value above 0.5"):
        result = optimize(sometimes_failing, [0.4, 0.0], 0.3, budget=100)
    assert any(math.isinf(r.value) for r in result.history)
    assert result.best_f < 0.05
    with pytest.raises(ResonanceError, match="every evaluation of generation 0 failed"):
        optimize(sometimes_failing, [3.0, 0.0], 0.01, budget=50)
