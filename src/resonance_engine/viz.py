"""Pictures of fields and runs (matplotlib, off-screen)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["save_field_png"]


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

