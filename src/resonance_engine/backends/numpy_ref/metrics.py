"""Reference kernels of the complexity measures in plain numpy.

See :class:`~resonance_engine.backends.base.MetricKernels` for the contracts. Written for
clarity, not speed: everything is computed in float64 with whole-array expressions and
the result is cast to the output dtype. The compiled backends must reproduce these to
rounding (the int16 dwell history to one quantization step).
"""

from __future__ import annotations

import numpy as np

from resonance_engine.backends.base import FrameParams
from resonance_engine.backends.box_grid import extent, shift_factor, tight_mean

__all__ = [
    "frame_stats",
    "box_counts",
    "shifted_box_counts",
    "shift_step",
    "gain",
    "local_variance",
    "dwell",
    "recursive_dwell",
    "local_moments",
    "analyze_frame",
    "smooth_axis",
    "quantize",
]


def frame_stats(u: np.ndarray) -> np.ndarray:
    """Per member: mean, mean square and max |u|, shape (b, 3)."""
    x = u.astype(np.float64).reshape(u.shape[0], -1)
    return np.stack([x.mean(axis=1), (x * x).mean(axis=1), np.abs(x).max(axis=1)], axis=1)


def _pad_to(mask: np.ndarray, size: int, value: bool) -> np.ndarray:
    b, ny, nx = mask.shape
    py = -ny % size
    px = -nx % size
    return np.pad(mask, ((0, 0), (0, py), (0, px)), constant_values=value)


def box_counts(u: np.ndarray, threshold: np.ndarray, levels: int, boundary: bool) -> np.ndarray:
    """Box counts at sizes 1, 2, ..., 2**levels of the mask |u| > threshold (b, levels+1)."""
    b = u.shape[0]
    mask = np.abs(u.astype(np.float64)) > np.asarray(threshold, dtype=np.float64)[:, None, None]
    counts = np.zeros((b, levels + 1))
    for level in range(levels + 1):
        s = 1 << level
        anyp = _pad_to(mask, s, False)
        _, py, px = anyp.shape
        active = anyp.reshape(b, py // s, s, px // s, s).any(axis=(2, 4))
        if boundary and level > 0:
            full = _pad_to(mask, s, True).reshape(b, py // s, s, px // s, s).all(axis=(2, 4))
            active &= ~full
        counts[:, level] = active.sum(axis=(1, 2))
    return counts


def shift_step(size: int, base: int) -> int:
    """Step (cells) of the shifts of the box grid of side ``size`` for offset counting:
    size / :func:`~resonance_engine.backends.box_grid.shift_factor` (s/2 for boxes of 4
    and 8 cells, s/4 for 16, s/8 from 32 up, no shift for 1 and 2; s/3 in base 3).
    """
    return size // shift_factor(size, base)


def shifted_box_counts(
    u: np.ndarray,
    threshold: np.ndarray,
    levels: int,
    boundary: bool,
    base: int = 2,
    shifted: bool = True,
) -> np.ndarray:
    """Box counts over shifted box grids, at sizes base^0 .. base^levels (b, levels+1).

    Occupancy: the mean count over the tight grids, those whose shifts cover the mask's
    extent (first to last active row, and column) with the fewest rows and columns of
    boxes (:func:`~resonance_engine.backends.box_grid.tight_shifts`). Boundary: the mean
    count over all the shifts (a tight grid would drop every straight edge of the mask
    that lies on a box boundary).

    For box side s the grid is shifted by (dy, dx), each a multiple of
    :func:`shift_step` below s; the first and last rows and columns of boxes are
    partial (cells outside the grid are inactive for "any" and ignored for "all").
    ``shifted=False`` counts the grid anchored at (0, 0) only.
    """
    b, ny, nx = u.shape
    mask = np.abs(u.astype(np.float64)) > np.asarray(threshold, dtype=np.float64)[:, None, None]
    bbox = extent(mask)
    counts = np.zeros((b, levels + 1))
    for level in range(levels + 1):
        s = base**level
        step = shift_step(s, base) if shifted else s
        shifts = range(0, s, step)
        found = np.zeros((b, len(shifts), len(shifts)))
        for iy, dy in enumerate(shifts):
            for ix, dx in enumerate(shifts):
                pad = ((0, 0), (dy, -(ny + dy) % s), (dx, -(nx + dx) % s))
                anyp = np.pad(mask, pad, constant_values=False)
                _, py, px = anyp.shape
                active = anyp.reshape(b, py // s, s, px // s, s).any(axis=(2, 4))
                if boundary and level > 0:
                    fullp = np.pad(mask, pad, constant_values=True)
                    active &= ~fullp.reshape(b, py // s, s, px // s, s).all(axis=(2, 4))
                found[:, iy, ix] = active.sum(axis=(1, 2))
        for k in range(b):
            found_k = found[k]
            counts[k, level] = found_k.mean() if boundary else tight_mean(found_k, bbox[k], s, step)
    return counts


def _box_sum_axis(x: np.ndarray, window: int, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum over the centred window along ``axis`` (truncated at the edges) and the count."""
    half = window // 2
    n = x.shape[axis]
    c = np.cumsum(x, axis=axis)
    zero_shape = list(x.shape)
    zero_shape[axis] = 1
    c = np.concatenate([np.zeros(zero_shape), c], axis=axis)  # c[i] = sum of x[:i]
    idx = np.arange(n)
    hi = np.minimum(idx + half + 1, n)
    lo = np.maximum(idx - half, 0)
    total = np.take(c, hi, axis=axis) - np.take(c, lo, axis=axis)
    return total, (hi - lo).astype(np.float64)


def gain(u: np.ndarray, window: int, out: np.ndarray) -> None:
    """Mean of |u| over the centred window (summed-area via cumulative sums)."""
    a = np.abs(u.astype(np.float64))
    rows, ny_count = _box_sum_axis(a, window, axis=1)
    both, nx_count = _box_sum_axis(rows, window, axis=2)
    out[...] = both / (ny_count[:, None] * nx_count[None, :])


def smooth_axis(x: np.ndarray, weights: np.ndarray, axis: int, inward: bool = False) -> np.ndarray:
    """Weighted centred sum along ``axis`` with the in-grid weights renormalized to 1.

    With ``inward`` (and an axis of at least 2r + 1 cells) the r cells at each end take
    the value of the first (last) cell whose whole window is inside the grid.
    """
    r = len(weights) // 2
    n = x.shape[axis]
    out = np.zeros(x.shape)
    norm = np.zeros(n)
    for t in range(-r, r + 1):
        lo = max(0, -t)
        hi = min(n, n - t)
        if hi <= lo:
            continue
        w = float(weights[t + r])
        dst = [slice(None)] * x.ndim
        src = [slice(None)] * x.ndim
        dst[axis] = slice(lo, hi)
        src[axis] = slice(lo + t, hi + t)
        out[tuple(dst)] += w * x[tuple(src)]
        norm[lo:hi] += w
    shape = [1] * x.ndim
    shape[axis] = n
    result: np.ndarray = out / norm.reshape(shape)
    if inward and n >= 2 * r + 1:
        moved = np.moveaxis(result, axis, 0)
        moved[:r] = moved[r]
        moved[n - r :] = moved[n - 1 - r]
    return result


def local_moments(
    u: np.ndarray, weights: np.ndarray, shift: np.ndarray, inward: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian-weighted local moments E_w[x], E_w[x^2] of x = u - shift (float64)."""
    x = u.astype(np.float64) - np.asarray(shift, dtype=np.float64)[:, None, None]
    m1 = smooth_axis(smooth_axis(x, weights, 2, inward), weights, 1, inward)
    m2 = smooth_axis(smooth_axis(x * x, weights, 2, inward), weights, 1, inward)
    return m1, m2


def local_variance(
    u: np.ndarray,
    weights: np.ndarray,
    shift: np.ndarray,
    out: np.ndarray,
    inward: bool = False,
    relative: bool = False,
) -> None:
    """Gaussian-weighted local variance E_w[x^2] - E_w[x]^2 (clipped at 0), x = u - shift.

    ``relative``: var / E_w[x^2] instead, in [0, 1] (0 where E_w[x^2] = 0).
    """
    m1, m2 = local_moments(u, weights, shift, inward)
    var = np.maximum(m2 - m1 * m1, 0.0)
    if relative:
        with np.errstate(divide="ignore", invalid="ignore"):
            var = np.where(m2 > 0, np.minimum(var / np.where(m2 > 0, m2, 1.0), 1.0), 0.0)
    out[...] = var


def quantize(u: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """int16 codes round(u * scale) clipped to +-32767 (per member scale, shape (b,)).

    Rounding is to nearest with ties up (floor(x + 0.5)), computed in u's dtype so
    that every backend produces the same codes.
    """
    s = np.asarray(scale).astype(u.dtype)[:, None, None]
    q = np.floor(u * s + u.dtype.type(0.5))
    return np.clip(q, -32767, 32767).astype(np.int16)


def dwell(
    u: np.ndarray,
    history: np.ndarray,
    slots: np.ndarray,
    lag_weights: np.ndarray,
    slot_scale: np.ndarray,
    inv_h: np.ndarray,
    store_slot: int,
    store_scale: np.ndarray,
    out: np.ndarray,
) -> None:
    """Weighted sum of bounded similarities to past frames; then store the new frame."""
    x = u.astype(np.float64)
    tau = np.zeros(x.shape)
    ih = np.asarray(inv_h, dtype=np.float64)[:, None, None]
    for slot, w in zip(slots, lag_weights, strict=True):
        past = history[:, slot].astype(np.float64) * slot_scale[:, slot][:, None, None]
        tau += w * np.maximum(0.0, 1.0 - np.abs(x - past) * ih)
    out[...] = tau
    if store_slot >= 0:
        if history.dtype == np.int16:
            history[:, store_slot] = quantize(u, store_scale)
        else:
            history[:, store_slot] = u * np.asarray(store_scale, dtype=u.dtype)[:, None, None]


def recursive_dwell(
    u: np.ndarray,
    state: np.ndarray,
    inv_h: np.ndarray,
    decay: float,
    increment: float,
    rate: float,
    out: np.ndarray,
) -> None:
    """Recursive dwell: the exact step of dtau/dt = 1 - k tau over the frame interval.

    With a = |u - prev| inv_h (the change in units of h) and k dt = rate + a:
    tau = E tau_prev + increment (1 - E) / (k dt), E = decay exp(-a) (the limit
    increment (1 - k dt / 2) as k dt -> 0). ``decay`` = exp(-dt / lambda),
    ``increment`` = dt, ``rate`` = dt / lambda (all 0 on a first frame: tau = 0).
    ``state`` (b, 2, ny, nx) holds the previous frame and tau; both are replaced.
    """
    x = u.astype(np.float64)
    ih = np.asarray(inv_h, dtype=np.float64)[:, None, None]
    a = np.abs(x - state[:, 0]) * ih
    e = decay * np.exp(-a)
    kdt = rate + a
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where(kdt > 1e-6, (1.0 - e) / np.where(kdt > 1e-6, kdt, 1.0), 1.0 - kdt / 2)
    tau = e * state[:, 1].astype(np.float64) + increment * gain
    out[...] = tau
    state[:, 1] = tau
    state[:, 0] = u


def analyze_frame(
    u: np.ndarray, params: FrameParams, fields: tuple[np.ndarray, ...] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Every measure of a frame: the composition of the kernels above (the reference)."""
    p = params
    if p.offsets or p.base != 2:
        counts = shifted_box_counts(u, p.threshold, p.levels, p.boundary, p.base, p.offsets)
    else:
        counts = box_counts(u, p.threshold, p.levels, p.boundary)
    g = np.empty(u.shape)
    tau = np.empty(u.shape)
    gain(u, p.gain_window, g)
    m1, m2 = local_moments(u, p.weights, p.shift, p.inward)
    if p.moment_scale is not None:
        scale = np.asarray(p.moment_scale, dtype=np.float64)[:, None, None]
        m1, m2 = m1 * scale, m2 * scale**2
    if p.recursive is not None:
        recursive_dwell(u, p.recursive, p.inv_h, p.decay, p.increment, p.decay_rate, tau)
    else:
        dwell(u, p.history, p.slots, p.lag_weights, p.slot_scale, p.inv_h, p.store_slot,
              p.store_scale, tau)
    if p.coh_local:
        with np.errstate(divide="ignore", invalid="ignore"):
            c = np.where(m2 > 0, np.minimum(m1 * m1 / np.where(m2 > 0, m2, 1.0), 1.0), 1.0)
    else:
        c = 1.0 / (p.coh_a * np.maximum(m2 - m1 * m1, 0.0) + p.coh_b)
    h = -np.expm1(-tau / p.gamma)
    b = u.shape[0]
    flat = (b, -1)
    sums = np.stack(
        [
            g.reshape(flat).sum(axis=1),
            c.reshape(flat).sum(axis=1),
            tau.reshape(flat).sum(axis=1),
            (g * c * h).reshape(flat).sum(axis=1),
            (g * h).reshape(flat).sum(axis=1),
            c.reshape(flat).min(axis=1),
            c.reshape(flat).max(axis=1),
        ],
        axis=1,
    )
    if fields is not None:
        for dst, src in zip(fields, (g, c, tau), strict=True):
            dst[...] = src
    return sums, counts
