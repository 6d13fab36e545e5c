"""Point sources: where they inject (a smooth bump of a few cells) and their drive."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from resonance_engine.backends.base import SourceStencil
from resonance_engine.errors import ConfigError

__all__ = ["PointSource", "FieldSource", "Source", "source_stencil", "source_drive"]


@dataclass(frozen=True)
class PointSource:
    """A harmonic point source s(t) = amplitude sin(2 pi frequency t + phase).

    Parameters
    ----------
    x, y : float
        Position in physical coordinates (cell (i, j) sits at x = j dx, y = i dy).
    amplitude : float
        Peak source density at the source's centre (field units / s^2).
    frequency : float
        Drive frequency (Hz, cycles per unit time).
    phase : float
        Phase offset (rad).
    """

    x: float
    y: float
    amplitude: float = 1.0
    frequency: float = 1.0
    phase: float = 0.0

    def __post_init__(self) -> None:
        for name in ("x", "y", "amplitude", "frequency", "phase"):
            value = getattr(self, name)
            if not math.isfinite(value):
                raise ConfigError(f"PointSource.{name} must be finite, got {value!r}")
        if self.frequency < 0:
            raise ConfigError(f"PointSource.frequency must be >= 0 Hz, got {self.frequency!r}")


@dataclass(frozen=True, eq=False)
class FieldSource:
    """A harmonic source spread over the grid: s(x, y, t) = profile(x, y) A sin(2 pi f t + phase).

    Parameters
    ----------
    profile : ndarray, shape (ny, nx)
        Spatial weight of every cell (dimensionless); zeros are skipped.
    amplitude : float
        Source density per unit of profile (field units / s^2).
    frequency : float
        Drive frequency (Hz).
    phase : float
        Phase offset (rad).
    """

    profile: np.ndarray
    amplitude: float = 1.0
    frequency: float = 1.0
    phase: float = 0.0

    def __post_init__(self) -> None:
        profile = np.asarray(self.profile, dtype=np.float64)
        if profile.ndim != 2 or not np.all(np.isfinite(profile)):
            raise ConfigError(
                f"FieldSource.profile must be a finite 2D array (ny, nx), got shape {profile.shape}"
            )
        object.__setattr__(self, "profile", profile)
        for name in ("amplitude", "frequency", "phase"):
            if not math.isfinite(getattr(self, name)):
                raise ConfigError(f"FieldSource.{name} must be finite, got {getattr(self, name)!r}")


#: Anything the solver accepts in ``sources``.
Source = PointSource | FieldSource


def _field_cells(src: FieldSource, number: int, nx: int, ny: int) -> tuple[np.ndarray, np.ndarray]:
    if src.profile.shape != (ny, nx):
        raise ConfigError(
            f"source {number}: FieldSource.profile has shape {src.profile.shape}, the grid is "
            f"(ny, nx) = ({ny}, {nx})"
        )
    flat = src.profile.ravel()
    index = np.flatnonzero(flat).astype(np.int64)
    return index, flat[index]


def source_stencil(
    sources: Sequence[Source], nx: int, ny: int, dx: float, dy: float, width: float
) -> SourceStencil:
    """Cells each source touches with their weights.

    A :class:`PointSource` touches a Gaussian bump of peak 1, ``width`` cells wide; a
    :class:`FieldSource` touches every cell where its profile is non-zero.

    Parameters
    ----------
    sources : sequence of PointSource or FieldSource
    nx, ny : int
        Grid size (cells).
    dx, dy : float
        Cell spacing (m).
    width : float
        Standard deviation of the bump (cells); it is cut at 3 widths.

    Returns
    -------
    SourceStencil
    """
    index, weight, owner = [], [], []
    reach = max(1, int(math.ceil(3 * width)))
    for number, src in enumerate(sources):
        if isinstance(src, FieldSource):
            cells, w_cells = _field_cells(src, number, nx, ny)
            index.append(cells)
            weight.append(w_cells)
            owner.append(np.full(cells.size, number, dtype=np.int64))
            continue
        cx, cy = src.x / dx, src.y / dy
        if not (-0.5 <= cx <= nx - 0.5 and -0.5 <= cy <= ny - 0.5):
            raise ConfigError(
                f"source {number} at ({src.x}, {src.y}) lies outside the grid "
                f"[0, {(nx - 1) * dx:g}] x [0, {(ny - 1) * dy:g}]; move it inside"
            )
        jx = np.arange(max(0, round(cx) - reach), min(nx, round(cx) + reach + 1))
        iy = np.arange(max(0, round(cy) - reach), min(ny, round(cy) + reach + 1))
        jj, ii = np.meshgrid(jx, iy)
        w = np.exp(-((jj - cx) ** 2 + (ii - cy) ** 2) / (2 * width**2))
        keep = w > math.exp(-4.5)
        index.append((ii * nx + jj)[keep].astype(np.int64))
        weight.append(w[keep])
        owner.append(np.full(int(keep.sum()), number, dtype=np.int64))
    if not index:
        empty = np.zeros(0, dtype=np.int64)
        return SourceStencil(empty, np.zeros(0), empty.copy())
    return SourceStencil(np.concatenate(index), np.concatenate(weight), np.concatenate(owner))


def source_drive(
    t0: float,
    dt: float,
    n_steps: int,
    amplitude: np.ndarray,
    frequency: np.ndarray,
    phase: np.ndarray,
    inv_denom: np.ndarray,
) -> np.ndarray:
    """The drive table the kernels add to u[n+1]: dt^2 inv_denom A sin(2 pi f t_n + phase).

    Parameters
    ----------
    t0 : float
        Time of the first step's current field (s).
    dt : float
        Time step (s).
    n_steps : int
    amplitude, frequency, phase : ndarray, shape (batch, n_sources)
    inv_denom : ndarray, shape (batch,)
        1 / (1 + damping dt / 2).

    Returns
    -------
    ndarray, shape (n_steps, batch, n_sources), float64
    """
    t = t0 + dt * np.arange(n_steps)[:, None, None]
    scale = (dt * dt * inv_denom)[None, :, None] * amplitude[None]
    return scale * np.sin(2 * np.pi * frequency[None] * t + phase[None])
