"""The protocol every compute backend implements.

A backend holds kernels only: no physics decisions. The physics layer (:mod:`field`)
turns a configuration into :class:`LeapfrogCoefficients` and a drive table; the backend
advances the fields with them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, Protocol

import numpy as np

__all__ = [
    "BOUNDARY_CODES",
    "FEEDBACK_CODES",
    "LeapfrogCoefficients",
    "SourceStencil",
    "FieldKernels",
]

#: Integer codes the kernels use for the boundary kinds.
BOUNDARY_CODES: dict[str, int] = {"fixed": 0, "periodic": 1, "absorbing": 2}
#: Integer codes the kernels use for the built-in feedback terms; 3 is a user callable.
FEEDBACK_CODES: dict[str, int] = {"none": 0, "cubic": 1, "tanh": 2, "custom": 3}


class LeapfrogCoefficients(NamedTuple):
    """Dimensionless coefficients of one leapfrog step.

    The update of every interior cell of batch member ``k`` is::

        u_next = (2 u - prev_coef[k] u_prev + cx2 (u_w + u_e - 2u) + cy2 (u_s + u_n - 2u)
                  + dt2 f(u)) * inv_denom[k]

    Attributes
    ----------
    cx2, cy2 : float
        (c dt / dx)^2 and (c dt / dy)^2.
    prev_coef : ndarray, shape (batch,)
        1 - damping dt / 2 per batch member.
    inv_denom : ndarray, shape (batch,)
        1 / (1 + damping dt / 2) per batch member.
    dt2 : float
        dt^2 (s^2), the factor of the feedback term.
    boundary : int
        A value of :data:`BOUNDARY_CODES`.
    mur_x, mur_y : float
        First-order Mur coefficients (c dt - dx) / (c dt + dx) and the same with dy.
    feedback : int
        A value of :data:`FEEDBACK_CODES`.
    feedback_strength : float
        k of the built-in feedback terms (1/s^2).
    """

    cx2: float
    cy2: float
    prev_coef: np.ndarray
    inv_denom: np.ndarray
    dt2: float
    boundary: int
    mur_x: float
    mur_y: float
    feedback: int
    feedback_strength: float


class SourceStencil(NamedTuple):
    """Where the point sources inject, as flat cell indices with weights.

    Attributes
    ----------
    cells : ndarray of int64, shape (m,)
        Flat index ``iy * nx + ix`` of each touched cell.
    weight : ndarray of float64, shape (m,)
        Spatial weight of the cell (the smoothing profile of its source).
    owner : ndarray of int64, shape (m,)
        Which source (column of the drive table) the cell belongs to.
    """

    cells: np.ndarray
    weight: np.ndarray
    owner: np.ndarray


class FieldKernels(Protocol):
    """Kernels that advance wave fields."""

    def leapfrog_steps(
        self,
        u: np.ndarray,
        u_prev: np.ndarray,
        coeffs: LeapfrogCoefficients,
        sources: SourceStencil,
        drive: np.ndarray,
        feedback_fn: Callable[[float], float] | None,
    ) -> bool:
        """Advance ``drive.shape[0]`` steps in place.

        Parameters
        ----------
        u, u_prev : ndarray, shape (batch, ny, nx)
            Fields at steps n and n-1. They are overwritten: the kernel writes u[n+1]
            over u[n-1] and alternates the two buffers.
        coeffs : LeapfrogCoefficients
        sources : SourceStencil
        drive : ndarray, shape (steps, batch, n_sources)
            The amount added to u[n+1] per unit weight by each source at each step
            (already multiplied by dt^2 / (1 + damping dt / 2)).
        feedback_fn : callable or None
            The user feedback f(u) when ``coeffs.feedback`` is the custom code.

        Returns
        -------
        bool
            True when the newest field ended in ``u_prev`` (an odd number of steps):
            the caller swaps its two references.
        """
        ...

    def triad(self, a: np.ndarray, b: np.ndarray, c: np.ndarray, scale: float) -> None:
        """a[i] = b[i] + scale * c[i] over flat arrays (the bandwidth reference)."""
        ...
