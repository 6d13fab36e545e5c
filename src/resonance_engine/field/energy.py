"""The discrete energy that the leapfrog scheme conserves exactly when damping is 0.

For fields u_new = u[n+1] and u_old = u[n] the energy at time n + 1/2 is

    E = dx dy [ 1/2 sum ((u_new - u_old) / dt)^2
              + c^2 / 2 sum_{x-edges} (Dx u_new)(Dx u_old)
              + c^2 / 2 sum_{y-edges} (Dy u_new)(Dy u_old) ],

with forward differences Dx u = (u[:, j+1] - u[:, j]) / dx over every pair of adjacent
cells (and across the seam for periodic grids). Without damping, sources and feedback,
an undamped closed box (fixed or periodic) keeps it to rounding; it is non-negative
whenever the CFL condition holds.
"""

from __future__ import annotations

import numpy as np

__all__ = ["discrete_energy", "energy_from_sums"]


def _edge_products(a: np.ndarray, b: np.ndarray, axis: int, periodic: bool) -> np.ndarray:
    if periodic:
        da = np.roll(a, -1, axis=axis) - a
        db = np.roll(b, -1, axis=axis) - b
    else:
        da = np.diff(a, axis=axis)
        db = np.diff(b, axis=axis)
    return np.sum(da * db, axis=(-2, -1))


def discrete_energy(
    u_new: np.ndarray,
    u_old: np.ndarray,
    dt: float,
    dx: float,
    dy: float,
    wave_speed: float,
    periodic: bool,
) -> np.ndarray:
    """Energy of each field of a batch at the half step between ``u_old`` and ``u_new``.

    Parameters
    ----------
    u_new, u_old : ndarray, shape (batch, ny, nx)
        Fields at steps n+1 and n.
    dt, dx, dy : float
        Time step (s) and cell spacing (m).
    wave_speed : float
        c (m/s).
    periodic : bool
        Whether the grid wraps around.

    Returns
    -------
    ndarray, shape (batch,), float64
    """
    a = u_new.astype(np.float64)
    b = u_old.astype(np.float64)
    kinetic = 0.5 * np.sum(((a - b) / dt) ** 2, axis=(-2, -1))
    potential = (
        0.5
        * wave_speed**2
        * (_edge_products(a, b, -1, periodic) / dx**2 + _edge_products(a, b, -2, periodic) / dy**2)
    )
    result: np.ndarray = (kinetic + potential) * dx * dy
    return result


def energy_from_sums(
    sums: np.ndarray, dt: float, dx: float, dy: float, wave_speed: float
) -> np.ndarray:
    """The discrete energy from its three sums (as a device backend reduces them).

    Parameters
    ----------
    sums : ndarray, shape (batch, 3)
        Per member: sum (u_new - u_old)^2, sum over x-edges of (Dx u_new)(Dx u_old) dx^2,
        and the same over y-edges times dy^2 (plain differences, not divided by the
        spacing).
    dt, dx, dy : float
        Time step (s) and cell spacing (m).
    wave_speed : float
        c (m/s).

    Returns
    -------
    ndarray, shape (batch,), float64
        The same value as :func:`discrete_energy` (up to the rounding of the sums).
    """
    kinetic = 0.5 * sums[:, 0] / dt**2
    potential = 0.5 * wave_speed**2 * (sums[:, 1] / dx**2 + sums[:, 2] / dy**2)
    result: np.ndarray = (kinetic + potential) * dx * dy
    return result
