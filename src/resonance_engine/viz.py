"""Pictures of fields and runs (matplotlib, off-screen)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from resonance_engine.metrics import ComplexityMetrics

__all__ = ["save_field_png", "save_metrics_png"]


def save_field_png(u: np.ndarray, path: str | Path, title: str = "") -> Path:
    """Write a symmetric-colour heatmap of a field.

    Parameters
    ----------
    u : ndarray, shape (ny, nx)
        The field (row 0 at the bottom, as y grows upwards).
    path : str or Path
        PNG file to write.
    title : str
        Figure title.

    Returns
    -------
    Path
        The file written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    limit = float(np.max(np.abs(u))) or 1.0
    fig, ax = plt.subplots(figsize=(6, 5.4), dpi=110)
    image = ax.imshow(u, origin="lower", cmap="RdBu_r", vmin=-limit, vmax=limit)
    fig.colorbar(image, ax=ax, shrink=0.85, label="u")
    ax.set_xlabel("x (cells)")
    ax.set_ylabel("y (cells)")
    ax.set_title(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


def save_metrics_png(
    history: Sequence[ComplexityMetrics],
    final: ComplexityMetrics,
    u: np.ndarray,
    path: str | Path,
    title: str = "",
) -> Path:
    """The measured run in one picture: the field, its mask, the C and CI fields, and the
    time series of D, G, C, tau and CI.

    Parameters
    ----------
    history : sequence of ComplexityMetrics
        The measured frames, in time order.
    final : ComplexityMetrics
        The last frame, computed with ``keep_fields=True`` (mask, C and CI fields).
    u : ndarray, shape (ny, nx)
        The final field.
    path : str or Path
        PNG file to write.
    title : str
        Figure title.

    Returns
    -------
    Path
        The file written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(13, 7.5), dpi=100)
    grid = fig.add_gridspec(2, 5, height_ratios=[1.1, 1])
    limit = float(np.max(np.abs(u))) or 1.0
    panels: list[tuple[str, np.ndarray | None, dict[str, Any]]] = [
        ("u", u, {"cmap": "RdBu_r", "vmin": -limit, "vmax": limit}),
        (f"mask |u| > {final.threshold:.3g}", final.mask, {"cmap": "gray_r"}),
        ("coherence C", final.coherence_field, {"cmap": "viridis"}),
        ("CI field", final.ci_field, {"cmap": "magma"}),
    ]
    for column, (name, image, style) in enumerate(panels):
        ax = fig.add_subplot(grid[0, column])
        if image is not None:
            shown = ax.imshow(image, origin="lower", **style)
            if name != panels[1][0]:
                fig.colorbar(shown, ax=ax, shrink=0.7)
        ax.set_title(name, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    t = np.array([m.t for m in history])
    series = [
        ("D", "fractal_dim"),
        ("G", "gain"),
        ("C", "coherence"),
        ("tau", "dwell"),
        ("CI", "ci"),
    ]
    for column, (label, name) in enumerate(series):
        ax = fig.add_subplot(grid[1, column])
        ax.plot(t, [getattr(m, name) for m in history], lw=1.2)
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("t (s)")
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
