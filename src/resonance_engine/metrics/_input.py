"""Input checks shared by the measures: rank, emptiness, dtype, finiteness."""

from __future__ import annotations

import numpy as np

from resonance_engine.errors import FieldError

__all__ = ["as_batch", "check_finite"]


def as_batch(u: object, name: str = "u") -> tuple[np.ndarray, bool]:
    """View a field (ny, nx) or a batch (b, ny, nx) as a C-contiguous (b, ny, nx) array.

    float32 and float64 are kept; other real types become float64 (float16 becomes
    float32).

    Returns
    -------
    batch : ndarray, shape (b, ny, nx)
    single : bool
        True when the input was one field (the caller returns one result, not a list).

    Raises
    ------
    FieldError
        Wrong rank, an empty axis, or a non-numeric / complex dtype.
    """
    a = np.asarray(u)
    if a.ndim not in (2, 3):
        raise FieldError(
            f"{name} must be a field of shape (ny, nx) or a batch (b, ny, nx), "
            f"got an array of shape {a.shape}"
        )
    if a.size == 0:
        raise FieldError(f"{name} is empty (shape {a.shape}); give at least one cell per axis")
    if a.dtype.kind not in "fiub":
        raise FieldError(f"{name} must hold real numbers, got dtype {a.dtype}")
    if a.dtype == np.float16:
        a = a.astype(np.float32)
    elif a.dtype.kind != "f":
        a = a.astype(np.float64)
    single = a.ndim == 2
    batch = np.ascontiguousarray(a[None] if single else a)
    return batch, single


def check_finite(u: np.ndarray, name: str = "u") -> None:
    """Raise FieldError naming the first batch member that holds NaN or inf."""
    finite = np.isfinite(u).reshape(u.shape[0], -1).all(axis=1)
    if not finite.all():
        k = int(np.argmin(finite))
        bad = int((~np.isfinite(u[k])).sum())
        raise FieldError(
            f"{name} holds {bad} NaN/inf value(s) in batch member {k}; the measures are "
            f"undefined there (check the simulation for divergence)"
        )
