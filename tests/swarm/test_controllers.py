"""Swarm controllers (--controller adaptive|mpc): signatures in, drive gains out."""

from __future__ import annotations

import logging
import pickle

import numpy as np
import pytest

from resonance_engine.cli.main import main
from resonance_engine.swarm import MPCController, Swarm, SwarmConfig
from resonance_engine.swarm.coupling import COUPLING_MODES, make_coupling


def _level_spread(mode: str, k: float) -> tuple[float, Swarm]:
    logging.getLogger("resonance_engine.swarm.health").setLevel(logging.ERROR)
    swarm = Swarm(8, SwarmConfig(size=32, window=64), coupling=k, coupling_mode=mode, seed=1)
    swarm.run(120)
    log_ci = np.log(swarm.ci_series()[-48:])
    return float(np.std(log_ci.mean(axis=0))), swarm


def test_mpc_fits_a_model_and_steers_each_agent_toward_the_swarm_ci():
    _, swarm = _level_spread("mpc", 20.0)
    first = swarm.coupling.live.fits[0]  # fitted on the dithered warm-up
    assert first.B[0, 0] > 0  # more drive, more CI: the fitted model has the physics' sign
    assert first.heldout_rmse[0] < first.heldout_baseline_rmse[0]
    assert swarm.coupling.describe()["model"]["b"] > 0
    theta = swarm.theta_series()
    lo, hi = swarm.coupling.theta_bounds
    assert theta.min() >= lo - 1e-12 and theta.max() <= hi + 1e-12
    # every agent whose CI lies below the swarm's raised its drive, and vice versa
    ci = swarm.ci_series()[-48:]
    below = np.log(ci).mean(axis=0) < np.log(ci.mean())
    moved = theta[-1] - np.array([a.theta0 for a in swarm.agents])
    assert np.all(moved[below] > 0) and np.all(moved[~below] < 0)


def test_adaptive_controller_keeps_per_agent_gains_in_their_bounds():
    _, swarm = _level_spread("adaptive", 0.5)
    gains = swarm.coupling.live.thresholds
    assert len(gains) == 8 and all(0.1 <= g <= 0.9 for g in gains.values())
    assert len(set(np.round(list(gains.values()), 6))) > 1  # they adapted individually


def test_controllers_are_coupling_modes_and_copy_without_their_solver():
    assert {"adaptive", "mpc"} <= set(COUPLING_MODES)
    ctl = make_coupling("mpc", 3.0)
    ctl.live.ticks = 5
    copy = pickle.loads(pickle.dumps(ctl))
    assert isinstance(copy, MPCController) and copy.strength == 3.0
    assert copy.live.ticks == 0
    with pytest.raises(Exception, match="warmup >= 8"):
        MPCController(strength=1.0, warmup=2)


def test_swarm_command_takes_a_controller(tmp_path, capsys):
    code = main(["swarm", "--controller", "adaptive", "--agents", "3", "--ticks", "8",
                 "--size", "16", "--window", "4", "--no-db", "--json", "--quiet",
                 "--out", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    assert '"coupling_mode": "adaptive"' in out
