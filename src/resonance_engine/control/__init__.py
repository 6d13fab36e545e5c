"""Estimation and control: Kalman filtering, linear models, MPC, learning MPC, thresholds.

This package knows nothing of swarms; :mod:`resonance_engine.swarm` applies it.
"""

from resonance_engine.control.kalman import KalmanFilter
from resonance_engine.control.linear_model import LinearModel, fit_linear_model
from resonance_engine.control.lmpc import (
    LMPC,
    Convergence,
    LMPCBatch,
    Trajectory,
    constrained_optimum,
    lmpc_convergence,
)
from resonance_engine.control.mpc import LinearMPC, MPCPlan, lqr_terminal_cost
from resonance_engine.control.thresholds import AdaptiveThresholdController

__all__ = [
    "KalmanFilter",
    "LinearModel",
    "fit_linear_model",
    "LinearMPC",
    "MPCPlan",
    "lqr_terminal_cost",
    "AdaptiveThresholdController",
    "LMPC",
    "LMPCBatch",
    "Trajectory",
    "Convergence",
    "constrained_optimum",
    "lmpc_convergence",
]
