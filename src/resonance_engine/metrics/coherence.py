"""Coherence C: the inverse of the Gaussian-weighted local variance.

var(x, y) = E_w[u^2] - E_w[u]^2 with separable Gaussian weights of standard deviation
sigma cells, cut at truncate * sigma (near the edges the weights inside the grid are
renormalized to sum to 1). Then either

- ``normalize="frame"`` (the seed): C_raw = 1 / (var + eps), rescaled per frame to
  [0, 1] by (C_raw - min) / (max - min); a frame with equal C_raw everywhere (e.g. a
  constant field) gets C = 1 everywhere. Values depend on the rest of the frame;
- ``normalize="bounded"``: C = 1 / (1 + var / scale), in (0, 1], equal to 1 where the
  field is locally constant and 1/2 where var = scale; frame-independent, so values
  can be compared across frames and runs.
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
    u: np.ndarray, sigma: float = 2.0, *, truncate: float = 3.0, backend: str = "auto"
) -> np.ndarray:
    """Gaussian-weighted local variance of a field (units of u^2), same shape as ``u``."""
    batch, single = as_batch(u)
    check_finite(batch)
    kernels = metric_kernels(backend)
    shift = moment_shift(batch, kernels.frame_stats(batch))
    out = np.empty_like(batch)
    kernels.local_variance(batch, gaussian_weights(sigma, truncate), shift, out)
    return out[0] if single else out


def normalize_coherence(
    var: np.ndarray, normalize: str, eps: float, scale: float, out: np.ndarray
) -> np.ndarray:
    """C from the local variance (b, ny, nx) into ``out``; see the module docstring."""
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


def coherence_field(
    u: np.ndarray,
    sigma: float = 2.0,
    normalize: str = "frame",
    *,
    eps: float = 1e-6,
    scale: float = 1.0,
    truncate: float = 3.0,
    backend: str = "auto",
) -> np.ndarray:
    """Local coherence of a field, in [0, 1].

    Parameters
    ----------
    u : ndarray, shape (ny, nx) or (b, ny, nx)
    sigma : float
        Gaussian standard deviation (cells, default 2).
    normalize : {"frame", "bounded"}
        See the module docstring.
    eps : float
        Regularization of 1/(var + eps) in "frame" mode (units of u^2).
    scale : float
        Variance scale of the "bounded" form (units of u^2).
    truncate : float
        Kernel radius in units of sigma.
    backend : str

    Returns
    -------
    ndarray, same shape and float dtype as ``u``

    Examples
    --------
    >>> import numpy as np
    >>> float(coherence_field(np.ones((16, 16)), normalize="bounded").min())
    1.0
    """
    if normalize not in ("frame", "bounded"):
        raise ConfigError(f"normalize must be 'frame' or 'bounded', got {normalize!r}")
    if not eps > 0 or not scale > 0:
        raise ConfigError(f"eps and scale must be > 0, got {eps!r} and {scale!r}")
    var = local_variance(u, sigma, truncate=truncate, backend=backend)
    v3 = var if var.ndim == 3 else var[None]
    normalize_coherence(v3, normalize, eps, scale, v3)
    return var
