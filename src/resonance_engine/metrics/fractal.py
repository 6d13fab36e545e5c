"""Fractal dimension D by box counting on a thresholded field.

The mask is |u| > theta. Box sizes are powers of two s = min_box, ..., max_box; the fit
is the least-squares line of log N(s) against log(1/s), whose slope is D, and R^2 says
how straight it is. Size 1 is left out by default (it only counts cells), and so are
sizes above a quarter of the grid (too few boxes to count).

Grids of any shape: boxes tile the grid from row 0 and column 0, and when a side is not a
multiple of s the last row or column of boxes is partial. A partial box counts like any
other (occupancy: it holds an active cell; boundary: it holds an active cell and not all
of its in-grid cells are active) -- the same as zero-padding the mask up to a multiple
of s. Sets away from the far edges are measured exactly; a set that fills the grid up
to a far edge has its coarse counts rounded up (N(s) = ceil(n/s)^2 for a full n x n
grid), like any set whose extent is not a multiple of s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from resonance_engine.backends import metric_kernels
from resonance_engine.errors import ConfigError, FieldError, MetricError
from resonance_engine.metrics._input import as_batch, check_finite

__all__ = ["FractalFit", "fractal_dimension", "box_sizes", "fit_dimension", "frame_threshold"]


@dataclass(frozen=True)
class FractalFit:
    """The result of a box-counting fit.

    Attributes
    ----------
    dimension : float
        D, the slope of log N(s) against log(1/s).
    r2 : float
        Coefficient of determination of the fit (1.0 when every count is equal).
    box_sizes : ndarray of int64, shape (m,)
        The box sizes used (cells).
    counts : ndarray of float64, shape (m,)
        N(s) at each size.
    threshold : float
        The amplitude threshold of the mask (NaN when a boolean mask was given).
    """

    dimension: float
    r2: float
    box_sizes: np.ndarray
    counts: np.ndarray
    threshold: float


def box_sizes(shape: tuple[int, int], min_box: int = 2, max_box: int | None = None) -> np.ndarray:
    """Power-of-two box sizes from ``min_box`` to ``max_box`` for a grid of ``shape``.

    ``max_box`` None gives the largest power of two <= min(ny, nx) / 4.

    Raises
    ------
    MetricError
        Fewer than two sizes fit (the grid is too small for a fit).
    ConfigError
        A size is not a power of two, or min_box > max_box.
    """
    for name, value in (("min_box", min_box), ("max_box", max_box)):
        if value is not None and (value < 1 or value & (value - 1)):
            raise ConfigError(f"{name} must be a power of two >= 1, got {value}")
    if max_box is None:
        quarter = min(shape) // 4
        max_box = 1 << (quarter.bit_length() - 1) if quarter >= 1 else 0
    sizes = []
    s = min_box
    while s <= max_box:
        sizes.append(s)
        s *= 2
    if len(sizes) < 2:
        raise MetricError(
            f"box counting needs at least two box sizes, but a {shape[0]}x{shape[1]} grid "
            f"with min_box={min_box}, max_box={max_box} gives {sizes}; use a grid of at "
            f"least {4 * 2 * min_box} cells per side or lower min_box"
        )
    return np.array(sizes, dtype=np.int64)


def fit_dimension(sizes: np.ndarray, counts: np.ndarray) -> tuple[float, float]:
    """Slope D and R^2 of log counts against log(1/sizes) (counts must be > 0)."""
    x = -np.log(sizes.astype(np.float64))
    y = np.log(counts)
    xm = x - x.mean()
    ym = y - y.mean()
    slope = float((xm * ym).sum() / (xm * xm).sum())
    ss_tot = float((ym * ym).sum())
    resid = ym - slope * xm
    r2 = 1.0 if ss_tot <= 1e-300 else 1.0 - float((resid * resid).sum()) / ss_tot
    return slope, r2


def frame_threshold(
    mean_square: np.ndarray, threshold: float | None, threshold_rms: float
) -> np.ndarray:
    """theta per member: the absolute threshold, or threshold_rms * RMS of each frame."""
    if threshold is not None:
        return np.full(np.shape(mean_square), float(threshold))
    return threshold_rms * np.sqrt(np.maximum(mean_square, 0.0))


def fractal_dimension(
    x: np.ndarray,
    threshold: float | None = None,
    mode: str = "occupancy",
    min_box: int = 2,
    max_box: int | None = None,
    *,
    threshold_rms: float = 1.0,
    backend: str = "auto",
) -> FractalFit:
    """Box-counting dimension of a mask or of a thresholded field.

    Parameters
    ----------
    x : ndarray, shape (ny, nx)
        A boolean mask (used as is) or a field; the mask of a field is |x| > theta.
    threshold : float, optional
        theta (units of x). Default: ``threshold_rms`` times the RMS of x,
        sqrt(mean(x^2)), so the mask is the cells louder than the field's RMS.
    mode : {"occupancy", "boundary"}
        Count the boxes holding an active cell, or those holding an active cell without
        being full (measures the boundary of the mask; about 1 for a filled disk).
    min_box, max_box : int
        Box sizes of the fit (powers of two; default 2 .. the largest power of two
        <= min(ny, nx) / 4).
    threshold_rms : float
        Relative threshold used when ``threshold`` is None (default 1.0).
    backend : str
        "auto", "numpy" or "numba".

    Returns
    -------
    FractalFit

    Raises
    ------
    MetricError
        The mask has no active cell (D is undefined), or, in boundary mode, no box is on
        the boundary at some size (e.g. a completely full grid); or the grid is too small.
    FieldError
        x is not 2D, is empty, or holds NaN/inf.

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.zeros((64, 64), dtype=bool)
    >>> mask[20, :] = True
    >>> round(fractal_dimension(mask).dimension, 3)
    1.0
    """
    if mode not in ("occupancy", "boundary"):
        raise ConfigError(f"mode must be 'occupancy' or 'boundary', got {mode!r}")
    a = np.asarray(x)
    if a.ndim != 2:
        raise FieldError(f"fractal_dimension takes one 2D mask or field, got shape {a.shape}")
    kernels = metric_kernels(backend)
    if a.dtype == np.bool_:
        if a.size == 0:
            raise FieldError(f"the mask is empty (shape {a.shape})")
        u = np.ascontiguousarray(a, dtype=np.float32)[None]
        theta = np.array([0.5])
        reported = float("nan")
    else:
        u, _ = as_batch(a, "x")
        check_finite(u, "x")
        stats = kernels.frame_stats(u)
        theta = frame_threshold(stats[:, 1], threshold, threshold_rms)
        reported = float(theta[0])
    sizes = box_sizes(a.shape, min_box, max_box)
    levels = int(sizes[-1]).bit_length() - 1
    all_counts = kernels.box_counts(u, theta, levels, mode == "boundary")[0]
    counts = all_counts[[int(s).bit_length() - 1 for s in sizes]]
    if all_counts[0] == 0:
        raise MetricError(
            f"the mask has no active cell (threshold {reported:.6g}); the fractal dimension "
            f"of an empty set is undefined: lower the threshold or check that the field "
            f"is not zero"
        )
    if np.any(counts <= 0):
        raise MetricError(
            f"no box is on the boundary of the mask at sizes {sizes[counts <= 0].tolist()} "
            f"(is the mask full?); boundary counting needs a mask with an edge"
        )
    dimension, r2 = fit_dimension(sizes, counts)
    return FractalFit(dimension, r2, sizes, counts, reported)
