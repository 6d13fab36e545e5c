"""Sweep output: the result table and heatmaps over the parameter grid."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from resonance_engine.dist.sweep import SweepReport

__all__ = ["headline_quantities", "sweep_rows", "save_sweep_heatmap", "QUANTITY_LABELS"]

#: Axis and column labels of the scalar results.
QUANTITY_LABELS = {
    "ci_final": "final CI",
    "ci_mean": "mean CI",
    "fractal_dim_final": "final D",
    "fractal_dim_mean": "mean D",
    "coherence_final": "final C",
    "gain_final": "final G",
    "dwell_final": "final tau (frames)",
    "energy": "final energy",
    "max_abs_u": "final max |u|",
    "rms_u": "final rms u",
}


def headline_quantities(report: SweepReport) -> tuple[str, str]:
    """The two quantities to show: final CI and D when measured, else energy and max|u|."""
    if any(math.isfinite(r.ci_final) for r in report.results.values()):
        return "ci_final", "fractal_dim_final"
    return "energy", "max_abs_u"


def sweep_rows(
    report: SweepReport, quantities: tuple[str, ...] | None = None
) -> list[dict[str, Any]]:
    """One row per grid point: the parameters, then the quantities or the failure/status."""
    quantities = quantities or headline_quantities(report)
    failures = {f.index: f for f in report.failures}
    rows = []
    for spec in report.specs:
        row: dict[str, Any] = dict(spec.params)
        result = report.results.get(spec.index)
        for name in quantities:
            row[name] = getattr(result, name) if result is not None else math.nan
        if result is not None:
            row["status"] = "ok"
        elif spec.index in failures:
            row["status"] = str(failures[spec.index].failure)
        else:
            row["status"] = "cancelled"
        row["key"] = spec.key
        rows.append(row)
    return rows


def _tick_labels(values: tuple[Any, ...]) -> list[str]:
    return [f"{v:.4g}" if isinstance(v, float) else str(v) for v in values]


def save_sweep_heatmap(
    report: SweepReport, path: str | Path, quantities: tuple[str, ...] | None = None
) -> Path:
    """One heatmap per quantity over the grid of the first two parameters.

    With one parameter the map is one row; with more than two, the first two are the
    axes and the others are averaged over (said in the title). Missing points (failed
    or cancelled runs) are grey.

    Parameters
    ----------
    report : SweepReport
    path : str or Path
        PNG file to write.
    quantities : tuple of str, optional
        Scalar result names (default: :func:`headline_quantities`).

    Returns
    -------
    Path
        The file written.
    """
    import matplotlib

    from resonance_engine.viz import figure

    quantities = quantities or headline_quantities(report)
    params = report.parameters
    fig = figure(figsize=(5.2 * len(quantities), 4.4), dpi=110)
    axes = fig.subplots(1, len(quantities), squeeze=False)
    for ax, name in zip(axes[0], quantities, strict=True):
        grid = report.grid(name)
        note = ""
        if grid.ndim > 2:
            with np.errstate(all="ignore"):
                counts = np.sum(np.isfinite(grid), axis=tuple(range(2, grid.ndim)))
                sums = np.nansum(grid, axis=tuple(range(2, grid.ndim)))
                grid = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
            note = " (mean over " + ", ".join(p.name for p in params[2:]) + ")"
        if grid.ndim == 1:
            grid = grid[np.newaxis, :]
        # rows: first parameter (y axis), columns: second parameter (x axis)
        if len(params) == 1:
            ylabels: list[str] = [""]
            xlabels = _tick_labels(params[0].values)
            xname, yname = params[0].name, ""
        elif params:
            ylabels = _tick_labels(params[0].values)
            xlabels = _tick_labels(params[1].values)
            yname, xname = params[0].name, params[1].name
        else:
            ylabels, xlabels, xname, yname = [""], [""], "", ""
        cmap = matplotlib.colormaps["viridis"].with_extremes(bad="0.75")
        image = ax.imshow(np.ma.masked_invalid(grid), origin="lower", aspect="auto", cmap=cmap)
        fig.colorbar(image, ax=ax, shrink=0.85, label=QUANTITY_LABELS.get(name, name))
        ax.set_xticks(range(len(xlabels)), xlabels, rotation=45 if len(xlabels) > 6 else 0)
        ax.set_yticks(range(len(ylabels)), ylabels)
        ax.set_xlabel(xname)
        ax.set_ylabel(yname)
        ax.set_title(QUANTITY_LABELS.get(name, name) + note, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    return path
