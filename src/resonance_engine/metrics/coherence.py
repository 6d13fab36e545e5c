"""Coherence C from the Gaussian-weighted local moments.

m1 = E_w[x], m2 = E_w[x^2] of x = u - frame mean, with separable Gaussian weights of
standard deviation sigma cells, cut at truncate * sigma; var = m2 - m1^2. Near the edges
(``edge``): "inward" (default) gives the r cells next to an edge the moments of the
nearest cell whose whole window is inside the grid; "renormalize" (the seed) uses the
part of the centred window inside the grid with its weights renormalized to 1 (a smaller
window sees less variance, so C is biased up along the border). Then

- ``normalize="local"`` (default): C = m1^2 / m2 = 1 - var / m2, the share of the local
  mean square carried by the local mean; 1 where the field is locally constant (and
  where m2 = 0), about 1 / (effective cells of the window) for white noise, low along the
  lines where a wave crosses its mean. C(a u) = C(u) for any a != 0.
- ``normalize="relative"``: C = 1 / (1 + var / (scale * frame variance)), also
  independent of the amplitude;
- ``normalize="bounded"``: C = 1 / (1 + var / scale), scale in units of u^2, in (0, 1];
  frame-independent, but it follows the amplitude;
- ``normalize="frame"`` (the seed): C_raw = 1 / (var + eps), rescaled per frame to
  [0, 1] by (C_raw - min) / (max - min); a frame with equal C_raw everywhere (e.g. a
  constant field) gets C = 1 everywhere. Values depend on the rest of the frame, and
  once var >> eps only the ratio of variances matters.
"""

from __future__ import annotations

import numpy as np

from resonance_engine.backends import metric_kernels
from resonance_engine.backends.frame_scales import moment_shift
from resonance_engine.errors import ConfigError
from resonance_engine.metrics._input import as_batch, check_finite

__all__ = [
    "coherence_field",
    "local_variance",
    "gaussian_weights",
    "normalize_coherence",
    "moment_shift",
]


def gaussian_weights(sigma: float, truncate: float = 3.0) -> np.ndarray:
    """Normalized 1D Gaussian weights on -r..r cells, r = max(1, round(truncate * sigma))."""
    if not sigma > 0 or not truncate > 0:
        raise ConfigError(f"sigma and truncate must be > 0, got {sigma!r} and {truncate!r}")
    r = max(1, int(truncate * sigma + 0.5))
    t = np.arange(-r, r + 1, dtype=np.float64)
    w = np.exp(-0.5 * (t / sigma) ** 2)
    result: np.ndarray = w / w.sum()
    return result


def local_variance(
    u: np.ndarray,
    sigma: float = 2.0,
    *,
    truncate: float = 3.0,
    edge: str = "inward",
    backend: str = "auto",
) -> np.ndarray:
    """Gaussian-weighted local variance of a field (units of u^2), same shape as ``u``."""
    return _variance(u, sigma, truncate, edge, False, backend)[0]


def _variance(
    u: np.ndarray,
    sigma: float,
    truncate: float,
    edge: str,
    relative: bool,
    backend: str,
    prescale: bool = False,
) -> tuple[np.ndarray, np.ndarray, int]:
    """The local variance (or var / m2) of ``u``, the frame stats and the prescale exponent.

    ``prescale``: of u times a power of two that brings max|u| near 1 (exact; it keeps
    the squares of large float32 fields finite), with the stats of the scaled field.
    """
    if edge not in ("inward", "renormalize"):
        raise ConfigError(f"edge must be 'inward' or 'renormalize', got {edge!r}")
    batch, single = as_batch(u)
    check_finite(batch)
    kernels = metric_kernels(backend)
    stats = kernels.frame_stats(batch)
    # an exact power-of-two rescaling keeps the squares of large float32 fields finite
    exponent = _exponent(stats)
    if not prescale:
        exponent = 0
    elif exponent != 0:
        batch = np.ldexp(batch, -exponent).astype(batch.dtype)
        stats = kernels.frame_stats(batch)
    shift = moment_shift(batch, stats)
    out = np.empty_like(batch)
    kernels.local_variance(
        batch, gaussian_weights(sigma, truncate), shift, out, edge == "inward", relative
    )
    return (out[0] if single else out), stats, exponent


def normalize_coherence(
    var: np.ndarray, normalize: str, eps: float, scale: float, out: np.ndarray
) -> np.ndarray:
    """C from the local variance (b, ny, nx) into ``out`` ("bounded" or "frame")."""
    if normalize == "bounded":
        np.multiply(var, 1.0 / scale, out=out)
        out += 1.0
        np.reciprocal(out, out=out)
        return out
    if normalize != "frame":
        raise ConfigError(f"normalize must be 'frame' or 'bounded', got {normalize!r}")
    np.add(var, eps, out=out)
    np.reciprocal(out, out=out)
    flat = out.reshape(out.shape[0], -1)
    lo = flat.min(axis=1)
    hi = flat.max(axis=1)
    for k in range(out.shape[0]):
        if hi[k] > lo[k]:
            out[k] -= lo[k]
            out[k] *= 1.0 / (hi[k] - lo[k])
        else:
            out[k] = 1.0
    return out


NORMALIZE = ("local", "relative", "bounded", "frame")


def _exponent(stats: np.ndarray) -> int:
    """The binary exponent of the largest |u| of a batch (0 for a zero field)."""
    return int(np.frexp(max(float(stats[:, 2].max()), 1e-300))[1]) if stats.size else 0


def coherence_field(
    u: np.ndarray,
    sigma: float = 2.0,
    normalize: str = "local",
    *,
    eps: float = 1e-6,
    scale: float | None = None,
    truncate: float = 3.0,
    edge: str = "inward",
    backend: str = "auto",
) -> np.ndarray:
    """Local coherence of a field, in [0, 1].

    Parameters
    ----------
    u : ndarray, shape (ny, nx) or (b, ny, nx)
    sigma : float
        Gaussian standard deviation (cells, default 2).
    normalize : {"local", "relative", "bounded", "frame"}
        See the module docstring.
    eps : float
        Regularization of 1/(var + eps) in "frame" mode (units of u^2).
    scale : float, optional
        Variance scale: of "relative" a fraction of the frame variance (default 0.1), of
        "bounded" units of u^2 (default 1.0).
    truncate : float
        Kernel radius in units of sigma.
    edge : {"inward", "renormalize"}
        The moments next to the edges (see the module docstring).
    backend : str

    Returns
    -------
    ndarray, same shape and float dtype as ``u``

    Examples
    --------
    >>> import numpy as np
    >>> float(coherence_field(np.ones((16, 16))).min())
    1.0
    >>> y, x = np.mgrid[0:32, 0:32]
    >>> u = np.sin(x / 4.0)
    >>> bool(np.allclose(coherence_field(u), coherence_field(1e6 * u), atol=1e-6))
    True
    """
    if normalize not in NORMALIZE:
        raise ConfigError(f"normalize must be one of {', '.join(NORMALIZE)}, got {normalize!r}")
    scale = (0.1 if normalize == "relative" else 1.0) if scale is None else scale
    if not eps > 0 or not scale > 0:
        raise ConfigError(f"eps and scale must be > 0, got {eps!r} and {scale!r}")
    var, stats, exponent = _variance(
        u, sigma, truncate, edge, normalize == "local", backend, prescale=True
    )
    v3 = var if var.ndim == 3 else var[None]
    if normalize == "local":
        np.subtract(1.0, v3, out=v3)
    elif normalize == "relative":
        spread = np.maximum(stats[:, 1] - stats[:, 0] ** 2, 0.0)
        for k in range(v3.shape[0]):
            if spread[k] > 0:
                v3[k] = 1.0 / (1.0 + v3[k] / (scale * spread[k]))
            else:
                v3[k] = 1.0
    else:
        # the moments are of the prescaled field: scale eps and the variance scale with it
        factor = 4.0**-exponent
        normalize_coherence(v3, normalize, eps * factor, scale * factor, v3)
    return var
