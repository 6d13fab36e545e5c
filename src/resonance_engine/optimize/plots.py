"""The convergence picture of an optimisation (matplotlib Figure + Agg, no pyplot state)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from resonance_engine.optimize.cmaes import OptimizationResult

__all__ = ["save_convergence"]


def save_convergence(result: OptimizationResult, path: str | Path) -> Path:
    """Every value and the best so far against the evaluation number; restarts marked.

    Values are shown as ``f - min(f) + 1e-16`` on a log axis when any is negative
    (CS-type objectives), as they are otherwise.
    """
    fig = Figure(figsize=(7, 4), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    values = np.array([r.value for r in result.history], dtype=np.float64)
    finite = np.isfinite(values)
    shift = 0.0
    if finite.any() and values[finite].min() <= 0:
        shift = -values[finite].min() + 1e-16
    n = np.arange(1, len(values) + 1)
    ax.semilogy(n[finite], values[finite] + shift, ".", ms=3, alpha=0.4, label="evaluations")
    if len(values):
        ax.semilogy(n, result.best_so_far() + shift, "-", lw=1.5, label="best so far")
    starts = [i for i in range(1, len(result.history))
              if result.history[i].restart != result.history[i - 1].restart]
    for i in starts:
        ax.axvline(i + 1, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("evaluation")
    ax.set_ylabel("objective" + (f" + {shift:.3g}" if shift else ""))
    ax.set_title(f"best {result.best_f:.4g} after {result.evaluations} evaluations, "
                 f"{result.restarts} restarts")
    ax.legend(loc="upper right")
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path
