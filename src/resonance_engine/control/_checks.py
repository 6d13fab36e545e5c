"""Shape and value checks shared by the estimators and controllers."""

from __future__ import annotations

from typing import Any

import numpy as np

from resonance_engine.errors import ControlError

__all__ = ["as_matrix", "as_vector", "as_bounds", "psd_sqrt"]


def as_matrix(name: str, value: Any, shape: tuple[int | None, int | None]) -> np.ndarray:
    """``value`` as a finite float64 2-D array of ``shape`` (None: any length)."""
    arr = np.atleast_2d(np.asarray(value, dtype=np.float64))
    wrong = any(s is not None and s != a for s, a in zip(shape, arr.shape, strict=True))
    if arr.ndim != 2 or wrong:
        want = " x ".join("?" if s is None else str(s) for s in shape)
        raise ControlError(f"{name} must be a {want} matrix, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ControlError(f"{name} must be finite, got {arr!r}")
    return arr


def as_vector(name: str, value: Any, size: int, allow_nan: bool = False) -> np.ndarray:
    """``value`` as a float64 vector of ``size`` (a scalar is broadcast)."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(size, float(arr))
    arr = arr.reshape(-1)
    if arr.size != size:
        raise ControlError(f"{name} must have {size} entries, got {arr.size}")
    bad = np.isinf(arr) if allow_nan else ~np.isfinite(arr)
    if np.any(bad):
        raise ControlError(f"{name} must be finite{' or NaN' if allow_nan else ''}, got {arr}")
    return arr


def psd_sqrt(name: str, matrix: np.ndarray) -> np.ndarray:
    """L with L.T @ L == matrix for a symmetric positive semi-definite matrix."""
    if not np.allclose(matrix, matrix.T, atol=1e-12 * max(1.0, np.abs(matrix).max())):
        raise ControlError(f"{name} must be symmetric, got {matrix!r}")
    w, v = np.linalg.eigh(matrix)
    if w.min() < -1e-9 * max(1.0, abs(w.max())):
        raise ControlError(f"{name} must be positive semi-definite (eigenvalues {w})")
    return (v * np.sqrt(np.clip(w, 0.0, None))).T


def as_bounds(name: str, value: Any, size: int, default: float) -> np.ndarray:
    """A bound as a vector of ``size`` (None: ``default``; a scalar is broadcast; +-inf ok)."""
    if value is None:
        return np.full(size, default)
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(size, float(arr))
    arr = arr.reshape(-1)
    if arr.size != size or np.any(np.isnan(arr)):
        raise ControlError(
            f"{name} must be a number or {size} numbers (+-inf allowed), got {value!r}"
        )
    return arr
