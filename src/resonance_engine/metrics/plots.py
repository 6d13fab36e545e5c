"""The metrics picture of a run: field, mask, C and CI fields, and the time series.

Usage with a solver (what ``resonance run`` does)::

    analyzer = ComplexityAnalyzer(MetricsConfig(), keep_fields=True)
    series = []
    while solver.step_count < steps:
        solver.step(10)
        series.append(analyzer.observe(solver))
    save_metrics_png(solver.u, series, "metrics.png")
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from resonance_engine.errors import MetricError
from resonance_engine.metrics.analyzer import ComplexityMetrics

__all__ = ["save_metrics_png", "SERIES"]

#: (attribute, label) of the time series panels.
SERIES: tuple[tuple[str, str], ...] = (
    ("fractal_dim", "D"),
    ("gain", "G"),
    ("coherence", "C"),
    ("dwell", "tau (frames)"),
    ("ci", "CI"),
)


def save_metrics_png(
    u: np.ndarray,
    series: Sequence[ComplexityMetrics],
    path: str | Path,
    title: str = "",
) -> Path:
    """Write the metrics figure of a run.

    Top row: the field u, the thresholded mask, the coherence field C and the CI field
    of the last result. Bottom row: D, G, C, tau and CI against the step (or time when
    the results carry it).

    Parameters
    ----------
    u : ndarray, shape (ny, nx)
        The field of the last result.
    series : sequence of ComplexityMetrics
        Results of one run in order; the last must have its fields (analyzer made with
        ``keep_fields=True``).
    path : str or Path
        PNG file to write.
    title : str
        Figure title.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    MetricError
        ``series`` is empty or its last result has no fields.
    """
    if not series:
        raise MetricError("no metrics to plot: give at least one ComplexityMetrics")
    last = series[-1]
    if last.mask is None or last.coherence_field is None or last.ci_field is None:
        raise MetricError(
            "the last result has no fields: make the analyzer with keep_fields=True"
        )
    from resonance_engine.viz import figure

    fig = figure(figsize=(16, 8), dpi=100)
    grid = fig.add_gridspec(2, 20, height_ratios=[1.2, 1.0], hspace=0.35, wspace=1.5)
    limit = float(np.max(np.abs(u))) or 1.0
    panels = [
        (u, "field u", "RdBu_r", -limit, limit),
        (last.mask.astype(np.float32), f"mask |u| > {last.threshold:.3g}", "gray", 0.0, 1.0),
        (last.coherence_field, "coherence C", "viridis", 0.0, 1.0),
        (last.ci_field, "complexity index CI", "magma", None, None),
    ]
    for n, (img, label, cmap, lo, hi) in enumerate(panels):
        ax = fig.add_subplot(grid[0, 5 * n : 5 * n + 5])
        image = ax.imshow(img, origin="lower", cmap=cmap, vmin=lo, vmax=hi)
        fig.colorbar(image, ax=ax, shrink=0.8)
        ax.set_title(label)
        ax.set_xticks([])
        ax.set_yticks([])
    use_time = all(not math.isnan(m.t) for m in series)
    x = [m.t if use_time else m.step for m in series]
    for n, (attr, label) in enumerate(SERIES):
        ax = fig.add_subplot(grid[1, 4 * n : 4 * n + 4])
        ax.plot(x, [getattr(m, attr) for m in series], lw=1.2)
        ax.set_title(label)
        ax.ticklabel_format(axis="y", useOffset=False)
        ax.set_xlabel("t (s)" if use_time else "step")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    path = Path(path)
    fig.savefig(path)
    return path
