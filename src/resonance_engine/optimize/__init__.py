"""Parameter tuning with CMA-ES (pycma) on the project's executors, stored in AgentDB."""

from resonance_engine.optimize.cmaes import (
    OptimizationResult,
    Progress,
    evaluate_candidate,
    optimize,
)

__all__ = ["optimize", "OptimizationResult", "Progress", "evaluate_candidate"]
