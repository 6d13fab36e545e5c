"""Fractal dimension D by box counting on a thresholded field.

The mask is |u| > theta. Box sizes are powers of two (or of three) s = min_box, ...,
max_box; the fit is the least-squares line of log N(s) against log(1/s), whose slope is
D, and R^2 says how straight it is. Size 1 is left out by default (it only counts
cells), and so are sizes above a quarter of the grid (too few boxes to count).

Offsets (the default, ``offsets="min"``): a grid of boxes that happens not to align with
the set counts more boxes than needed (a carpet shifted by a few cells reads 0.1 low).
The box grid is therefore shifted, by multiples of s/2 for s = 4 and 8, of s/4 for 16
and of s/8 from 32 up (s/3 for base-3 boxes; boxes of 2 cells are not shifted), and N(s)
is the mean count over the tight grids: those whose shifts cover the mask's extent
(first to last active row, and column) with the fewest rows and columns of boxes. The
smallest count over all the shifts (this module's earlier default) removes the same bias
but, at coarse sizes where the boxes are few, picks the luckiest of up to 64 grids rather
than a typical one: a Koch curve read 0.05 high. In boundary mode N(s) is the mean count
over all the shifts (a tight grid would drop a straight edge that lies on a box boundary).
``offsets="none"`` is the seed's grid anchored at cell (0, 0). (The option keeps its
name "min" for the configurations that use it.)

Scaling range: the local slopes log(N(s_i) / N(s_{i+1})) / log(s_{i+1} / s_i) show
whether a power law holds at all. :attr:`FractalFit.scaling` is True when there are at
least three sizes and every local slope lies within D +- ``scaling_band``; a D without
a scaling range is a slope of a curve, not a dimension.

Grids of any shape: boxes tile the grid from row 0 and column 0, and when a side is not a
multiple of s the last row or column of boxes is partial. A partial box counts like any
other (occupancy: it holds an active cell; boundary: it holds an active cell and not all
of its in-grid cells are active) -- the same as zero-padding the mask up to a multiple
of s. Sets away from the far edges are measured exactly; a set that fills the grid up
to a far edge has its coarse counts rounded up (N(s) = ceil(n/s)^2 for a full n x n
grid), like any set whose extent is not a multiple of s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from resonance_engine.backends import metric_kernels
from resonance_engine.errors import ConfigError, FieldError, MetricError
from resonance_engine.metrics._input import as_batch, check_finite

__all__ = [
    "FractalFit",
    "fractal_dimension",
    "box_sizes",
    "fit_dimension",
    "fit_dimensions",
    "local_slopes",
    "has_scaling_range",
    "scaling_ranges",
    "frame_threshold",
]


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
    local_slopes : ndarray of float64, shape (m - 1,)
        Slope of log N against log(1/s) between successive sizes.
    scaling : bool
        A power law holds over the fitted sizes (see the module docstring).
    scaling_band : float
        The band of the local slopes around D used for ``scaling``.
    """

    dimension: float
    r2: float
    box_sizes: np.ndarray
    counts: np.ndarray
    threshold: float
    local_slopes: np.ndarray = field(default_factory=lambda: np.zeros(0))
    scaling: bool = True
    scaling_band: float = 0.15


def box_sizes(
    shape: tuple[int, int], min_box: int | None = None, max_box: int | None = None, base: int = 2
) -> np.ndarray:
    """Box sizes base^k from ``min_box`` to ``max_box`` for a grid of ``shape``.

    ``min_box`` None gives ``base`` (2 or 3); ``max_box`` None the largest power of
    ``base`` <= min(ny, nx) / 4.

    Raises
    ------
    MetricError
        Fewer than two sizes fit (the grid is too small for a fit).
    ConfigError
        A size is not a power of ``base``, or the base is not 2 or 3.
    """
    if base not in (2, 3):
        raise ConfigError(f"box sizes are powers of 2 or of 3, got base {base!r}")
    min_box = base if min_box is None else min_box
    for name, value in (("min_box", min_box), ("max_box", max_box)):
        if value is not None and (value < 1 or base**level_of(value, base) != value):
            raise ConfigError(f"{name} must be a power of {base} >= 1, got {value}")
    if max_box is None:
        quarter = min(shape) // 4
        max_box = base ** level_of(quarter, base) if quarter >= 1 else 0
    sizes = []
    s = min_box
    while s <= max_box:
        sizes.append(s)
        s *= base
    if len(sizes) < 2:
        raise MetricError(
            f"box counting needs at least two box sizes, but a {shape[0]}x{shape[1]} grid "
            f"with min_box={min_box}, max_box={max_box} gives {sizes}; use a grid of at "
            f"least {4 * base * min_box} cells per side or lower min_box"
        )
    return np.array(sizes, dtype=np.int64)


def level_of(size: int, base: int) -> int:
    """The largest k with base^k <= size (size >= 1)."""
    k = 0
    while base ** (k + 1) <= size:
        k += 1
    return k


def fit_dimension(sizes: np.ndarray, counts: np.ndarray) -> tuple[float, float]:
    """Slope D and R^2 of log counts against log(1/sizes) (counts must be > 0)."""
    slopes, r2 = fit_dimensions(sizes, counts[None])
    return float(slopes[0]), float(r2[0])


def fit_dimensions(sizes: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`fit_dimension` of each row of ``counts`` (b, m): slopes D (b,) and R^2 (b,)."""
    x = -np.log(sizes.astype(np.float64))
    y = np.log(counts)
    xm = x - x.mean()
    ym = y - y.mean(axis=-1, keepdims=True)
    slope = (xm * ym).sum(axis=-1) / (xm * xm).sum()
    ss_tot = (ym * ym).sum(axis=-1)
    resid = ym - slope[..., None] * xm
    flat = ss_tot <= 1e-300
    r2 = np.where(flat, 1.0, 1.0 - (resid * resid).sum(axis=-1) / np.where(flat, 1.0, ss_tot))
    return slope, r2


def local_slopes(sizes: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Slopes of log N against log(1/s) between successive sizes (counts > 0; of each row
    for counts of shape (b, m))."""
    slopes: np.ndarray = np.diff(np.log(counts), axis=-1) / -np.diff(
        np.log(sizes.astype(np.float64))
    )
    return slopes


def has_scaling_range(dimension: float, slopes: np.ndarray, band: float) -> bool:
    """True when at least two local slopes (three sizes) all lie within D +- band."""
    return bool(scaling_ranges(np.asarray([dimension]), slopes[None], band)[0])


def scaling_ranges(dimensions: np.ndarray, slopes: np.ndarray, band: float) -> np.ndarray:
    """:func:`has_scaling_range` of each member: D (b,) and local slopes (b, m - 1)."""
    if slopes.shape[-1] < 2:
        return np.zeros(dimensions.shape, dtype=bool)
    within: np.ndarray = np.all(np.abs(slopes - dimensions[:, None]) <= band, axis=-1)
    return within


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
    min_box: int | None = None,
    max_box: int | None = None,
    *,
    threshold_rms: float = 1.0,
    offsets: str = "min",
    base: int = 2,
    scaling_band: float = 0.15,
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
        Box sizes of the fit (powers of ``base``; default ``base`` .. the largest power
        <= min(ny, nx) / 4).
    threshold_rms : float
        Relative threshold used when ``threshold`` is None (default 1.0).
    offsets : {"min", "none"}
        Mean count over the tight shifted box grids (default; see the module docstring)
        or the grid anchored at (0, 0).
    base : {2, 3}
        Box sizes are powers of 2 (default) or of 3.
    scaling_band : float
        Band of the local slopes around D for :attr:`FractalFit.scaling`.
    backend : str
        "auto", "numpy", "numba" or "wgpu".

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
    >>> fit = fractal_dimension(mask)
    >>> round(fit.dimension, 3), fit.scaling
    (1.0, True)
    """
    if mode not in ("occupancy", "boundary"):
        raise ConfigError(f"mode must be 'occupancy' or 'boundary', got {mode!r}")
    if offsets not in ("min", "none"):
        raise ConfigError(f"offsets must be 'min' or 'none', got {offsets!r}")
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
    sizes = box_sizes(a.shape, min_box, max_box, base)
    levels = level_of(int(sizes[-1]), base)
    if offsets == "none" and base == 2:
        all_counts = kernels.box_counts(u, theta, levels, mode == "boundary")[0]
    else:
        shifted = offsets == "min"
        all_counts = kernels.shifted_box_counts(
            u, theta, levels, mode == "boundary", base, shifted
        )[0]
    counts = all_counts[[level_of(int(s), base) for s in sizes]]
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
    slopes = local_slopes(sizes, counts)
    scaling = has_scaling_range(dimension, slopes, scaling_band)
    return FractalFit(dimension, r2, sizes, counts, reported, slopes, scaling, scaling_band)
