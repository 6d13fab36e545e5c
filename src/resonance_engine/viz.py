"""Pictures of fields and runs (matplotlib, off-screen)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["figure", "save_field_png"]


def figure(**kwargs: Any) -> Figure:
    """A matplotlib :class:`~matplotlib.figure.Figure` drawn by the Agg canvas.

    No pyplot and no ``matplotlib.use``: the global backend (a notebook's, a GUI's) stays
    as it is, and figures are freed with their last reference. ``kwargs`` go to
    ``Figure`` (``figsize``, ``dpi``, ...); save with ``fig.savefig(path)``.
    """
    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


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
    limit = float(np.max(np.abs(u))) or 1.0
    fig = figure(figsize=(6, 5.4), dpi=110)
    ax = fig.subplots()
    image = ax.imshow(u, origin="lower", cmap="RdBu_r", vmin=-limit, vmax=limit)
    fig.colorbar(image, ax=ax, shrink=0.85, label="u")
    ax.set_xlabel("x (cells)")
    ax.set_ylabel("y (cells)")
    ax.set_title(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    return path

