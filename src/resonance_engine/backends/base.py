"""The protocol every compute backend implements.

A backend holds kernels only: no physics decisions. The physics layer (:mod:`field`)
turns a configuration into :class:`LeapfrogCoefficients` and a drive table; the backend
advances the fields with them.

The solver keeps its two fields in a :class:`FieldState` made by the backend: host
backends (numpy, numba) use :class:`HostFieldState`, which wraps two numpy arrays and
calls the backend's :class:`FieldKernels`; a device backend (wgpu) keeps the fields in
GPU memory, so that only scalars and read-backs cross to the host.
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
    "FieldState",
    "HostFieldState",
    "MetricKernels",
    "FrameParams",
    "FRAME_SUMS",
    "KURAMOTO_METHODS",
    "SparseCoupling",
    "OscillatorKernels",
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


class FieldState(Protocol):
    """The two fields u[n] and u[n-1] of a solver, wherever they live.

    Attributes
    ----------
    shape : tuple of int
        (batch, ny, nx).
    dtype : numpy.dtype
    resident : bool
        True when the fields live outside host memory (then :meth:`current` and
        :meth:`previous` return copies read back from the device).
    """

    shape: tuple[int, int, int]
    dtype: np.dtype
    resident: bool

    def upload(self, u: np.ndarray, u_prev: np.ndarray) -> None:
        """Replace both fields (arrays of :attr:`shape`, converted to :attr:`dtype`)."""
        ...

    def current(self) -> np.ndarray:
        """u[n], shape (batch, ny, nx): the live array on the host, a copy otherwise."""
        ...

    def previous(self) -> np.ndarray:
        """u[n-1], shape (batch, ny, nx): the live array on the host, a copy otherwise."""
        ...

    def zero(self) -> None:
        """Set both fields to 0."""
        ...

    def leapfrog_steps(
        self,
        coeffs: LeapfrogCoefficients,
        sources: SourceStencil,
        drive: np.ndarray,
        feedback_fn: Callable[[float], float] | None,
    ) -> None:
        """Advance ``drive.shape[0]`` steps (see :meth:`FieldKernels.leapfrog_steps`)."""
        ...

    def finite_members(self) -> np.ndarray:
        """Which batch members hold only finite values: bool array, shape (batch,)."""
        ...

    def frame(self, factor: int) -> np.ndarray:
        """u[n] averaged over factor x factor blocks (full blocks only).

        Returns
        -------
        ndarray, shape (batch, ny // factor, nx // factor)
        """
        ...


class HostFieldState:
    """A :class:`FieldState` in host memory: two numpy arrays and a kernel module.

    Parameters
    ----------
    kernels : FieldKernels
        The backend's kernels; they advance the arrays in place.
    shape : tuple of int
        (batch, ny, nx).
    dtype : numpy.dtype
    """

    resident = False

    def __init__(self, kernels: FieldKernels, shape: tuple[int, int, int], dtype: np.dtype) -> None:
        self.kernels = kernels
        self.shape = shape
        self.dtype = np.dtype(dtype)
        self.cur = np.zeros(shape, dtype=self.dtype)
        self.prev = np.zeros_like(self.cur)

    def upload(self, u: np.ndarray, u_prev: np.ndarray) -> None:
        self.cur[...] = u
        self.prev[...] = u_prev

    def current(self) -> np.ndarray:
        return self.cur

    def previous(self) -> np.ndarray:
        return self.prev

    def zero(self) -> None:
        self.cur[...] = 0
        self.prev[...] = 0

    def leapfrog_steps(
        self,
        coeffs: LeapfrogCoefficients,
        sources: SourceStencil,
        drive: np.ndarray,
        feedback_fn: Callable[[float], float] | None,
    ) -> None:
        if self.kernels.leapfrog_steps(self.cur, self.prev, coeffs, sources, drive, feedback_fn):
            self.cur, self.prev = self.prev, self.cur

    def finite_members(self) -> np.ndarray:
        finite: np.ndarray = np.asarray(np.isfinite(self.cur).all(axis=(1, 2)))
        return finite

    def frame(self, factor: int) -> np.ndarray:
        nb, ny, nx = self.shape
        oy, ox = ny // factor, nx // factor
        blocks = self.cur[:, : oy * factor, : ox * factor].reshape(nb, oy, factor, ox, factor)
        mean: np.ndarray = blocks.mean(axis=(2, 4), dtype=np.float64).astype(self.dtype)
        return mean


class FrameParams(NamedTuple):
    """Everything :meth:`MetricKernels.analyze_frame` needs besides the field.

    Attributes
    ----------
    threshold : ndarray of float64, shape (b,)
        Mask threshold per member (units of u).
    levels : int
        Box sizes 1 .. 2**levels are counted.
    boundary : bool
        Boundary box counting instead of occupancy.
    gain_window : int
        Odd side of the gain window (cells).
    weights : ndarray of float64, shape (2r+1,)
        Gaussian weights of the local moments.
    shift : ndarray of float64, shape (b,)
        Subtracted before the moments (see ``local_variance``).
    coh_a, coh_b : float
        C = 1 / (coh_a * var + coh_b): (1, eps) for the seed's form, (1/scale, 1) bounded
        (var of the scaled moments, see ``moment_scale``).
    gamma : float
        CI dwell scale: h = 1 - exp(-tau / gamma).
    history, slots, lag_weights, slot_scale, inv_h, store_slot, store_scale
        The dwell ring buffer and its lag table, as in ``dwell``.
    offsets : bool
        Box counts are over shifted box grids (``shifted_box_counts``).
    base : int
        Box sizes are base^0 .. base^levels (2 or 3).
    coh_local : bool
        C = m1^2 / m2 of the local moments (1 where m2 = 0) instead of coh_a, coh_b.
    inward : bool
        Near the edges the moments are those of the nearest cell whose whole window is
        inside the grid (along each axis, when the axis holds a whole window).
    moment_scale : ndarray of float64, shape (b,), or None
        The moments are taken of (u - shift) * moment_scale (a power of two, so exact:
        it keeps float32 squares of fields near 1e30 finite); None means 1.
    recursive : ndarray of u's dtype, shape (b, 2, ny, nx), or None
        The recursive dwell's state: the previous frame and the previous tau. With it tau
        is the exact step of dtau/dt = 1 - k tau, k dt = decay_rate + |u - prev| inv_h
        (see ``recursive_dwell``), and the state is updated in place (the ring arguments
        are then empty).
    decay, increment, decay_rate : float
        Of the recursive dwell: exp(-dt / lambda), dt and dt / lambda (all 0 on the first
        frame).
    c_range : bool
        Return the min and max of C (the seed's "frame" rescaling needs them). False lets a
        kernel skip them: ``c_min`` and ``c_max`` are then +inf and -inf.
    """

    threshold: np.ndarray
    levels: int
    boundary: bool
    gain_window: int
    weights: np.ndarray
    shift: np.ndarray
    coh_a: float
    coh_b: float
    gamma: float
    history: np.ndarray
    slots: np.ndarray
    lag_weights: np.ndarray
    slot_scale: np.ndarray
    inv_h: np.ndarray
    store_slot: int
    store_scale: np.ndarray
    offsets: bool = False
    base: int = 2
    coh_local: bool = False
    inward: bool = False
    moment_scale: np.ndarray | None = None
    recursive: np.ndarray | None = None
    decay: float = 0.0
    increment: float = 0.0
    decay_rate: float = 0.0
    c_range: bool = True


#: Columns of the sums returned by :meth:`MetricKernels.analyze_frame`.
FRAME_SUMS = ("gain", "coherence", "dwell", "gain_coherence_h", "gain_h", "c_min", "c_max")


class MetricKernels(Protocol):
    """Kernels of the complexity measures (see :mod:`resonance_engine.metrics`).

    Every kernel takes a batch of fields ``u`` of shape (b, ny, nx) (float32 or float64,
    C-contiguous) and works per batch member. The metric layer validates the input,
    chooses the parameters and interprets the results; the kernels only compute.
    """

    def frame_stats(self, u: np.ndarray) -> np.ndarray:
        """Per member: mean, mean square and max |u|, shape (b, 3), float64.

        A NaN or inf anywhere in a member shows up as a non-finite value in its row.
        """
        ...

    def box_counts(
        self, u: np.ndarray, threshold: np.ndarray, levels: int, boundary: bool
    ) -> np.ndarray:
        """Box counts of the mask |u| > threshold[k] at box sizes 1, 2, 4, ..., 2**levels.

        Boxes tile each field from row 0 and column 0; the last row and column of
        boxes are partial when a side is not a multiple of the size (cells outside the
        grid are inactive for "any active" and ignored for "all active").

        Returns
        -------
        ndarray of float64, shape (b, levels + 1)
            Occupancy counts (boxes with an active cell), or with ``boundary`` the
            boxes with an active cell that are not full. Column 0 (size 1) is always
            the number of active cells.
        """
        ...

    def shifted_box_counts(
        self,
        u: np.ndarray,
        threshold: np.ndarray,
        levels: int,
        boundary: bool,
        base: int = 2,
        shifted: bool = True,
    ) -> np.ndarray:
        """Box counts over shifted box grids at sizes base^0 .. base^levels.

        Occupancy: the mean count over the tight shifts (those that cover the mask's
        extent with the fewest rows and columns of boxes,
        :func:`~resonance_engine.backends.box_grid.tight_shifts`); boundary: the mean
        count over all the shifts.
        For side s the grid is shifted along each axis by multiples of s/2 (base 2,
        s = 4, 8), s/4 (s = 16), s/8 (s >= 32) or s/3 (base 3); sides 1 and 2 of base 2
        are not shifted; ``shifted=False`` keeps only the grid anchored at (0, 0).
        Returns float64 counts of shape (b, levels + 1).
        """
        ...

    def gain(self, u: np.ndarray, window: int, out: np.ndarray) -> None:
        """out = mean of |u| over the window x window square centred on each cell.

        ``window`` is odd; near the edges the mean is over the cells inside the grid.
        """
        ...

    def local_variance(
        self,
        u: np.ndarray,
        weights: np.ndarray,
        shift: np.ndarray,
        out: np.ndarray,
        inward: bool = False,
        relative: bool = False,
    ) -> None:
        """out = Gaussian-weighted local variance E_w[x^2] - E_w[x]^2, clipped at 0.

        ``weights`` (odd length 2r+1) is the 1D kernel applied along x then y; near the
        edges the weights of the cells inside the grid are renormalized to sum to 1, or
        with ``inward`` the cells within r of an edge take the moments of the nearest
        cell whose whole window is inside (along each axis holding a whole window).
        ``shift`` (b,) is subtracted from the field before the moments are taken
        (x = u - shift: the variance does not change; it avoids cancellation).
        ``relative``: var / E_w[x^2] in [0, 1] instead (0 where E_w[x^2] = 0).
        """
        ...

    def dwell(
        self,
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
        """Dwell field from a ring buffer of past frames, then store the new frame.

        ``out[k] = sum_l lag_weights[l] * max(0, 1 - |u[k] - past_l| * inv_h[k])`` with
        ``past_l = history[k, slots[l]] * slot_scale[k, slots[l]]``. Afterwards
        ``history[k, store_slot] = u[k] * store_scale[k]`` (rounded to nearest and
        clipped to +-32767 when the history is int16; ``store_scale`` is then
        32767 / max|u[k]|, and the caller records its inverse in ``slot_scale``).

        Parameters
        ----------
        u : ndarray, shape (b, ny, nx)
        history : ndarray of int16 or of u's dtype, shape (b, K, ny, nx)
        slots : ndarray of int64, shape (n,)
            Ring slot of each lag used (n <= K past frames).
        lag_weights : ndarray of float64, shape (n,)
        slot_scale : ndarray of float64, shape (b, K)
        inv_h : ndarray of float64, shape (b,)
            Inverse of the similarity scale h (1/units of u).
        store_slot : int
            Where the current frame goes (-1: do not store).
        store_scale : ndarray of float64, shape (b,)
        out : ndarray, shape (b, ny, nx)
        """
        ...

    def recursive_dwell(
        self,
        u: np.ndarray,
        state: np.ndarray,
        inv_h: np.ndarray,
        decay: float,
        increment: float,
        rate: float,
        out: np.ndarray,
    ) -> None:
        """Recursive dwell, the exact step of dtau/dt = 1 - k tau over one frame interval.

        a = |u[k] - prev| inv_h[k], k dt = rate + a, E = decay exp(-a):
        out[k] = E tau_prev + increment (1 - E) / (k dt) (increment (1 - k dt / 2) when
        k dt < 1e-6); decay = exp(-dt / lambda), increment = dt, rate = dt / lambda.
        ``state`` (b, 2, ny, nx), u's dtype, holds the previous frame and tau; both are
        replaced by this frame's (all three 0 on a first frame give tau = 0).
        """
        ...

    def analyze_frame(
        self, u: np.ndarray, params: FrameParams, fields: tuple[np.ndarray, ...] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every measure of a frame in one call (the analyzer's hot path).

        Computes per member the box counts (as :meth:`box_counts`), the gain G, the
        coherence C = 1 / (coh_a var + coh_b), the dwell tau (updating the ring buffer as
        :meth:`dwell`) and h = 1 - exp(-tau / gamma), without writing the fields unless
        ``fields`` = (G, C, tau) arrays of u's shape are given.

        Returns
        -------
        sums : ndarray of float64, shape (b, 7)
            Sums over the cells of G, C, tau, G*C*h and G*h, then min C and max C
            (columns named in :data:`FRAME_SUMS`).
        counts : ndarray of float64, shape (b, levels + 1)
        """
        ...


#: Integration schemes of :meth:`OscillatorKernels.kuramoto_steps`.
KURAMOTO_METHODS: tuple[str, ...] = ("euler", "rk4")


class SparseCoupling(NamedTuple):
    """A coupling matrix A in CSR form (row i lists the oscillators j that act on i).

    Attributes
    ----------
    indptr : ndarray of int64, shape (n + 1,)
    indices : ndarray of int64, shape (nnz,)
        Column j of each stored entry.
    data : ndarray of float64, shape (nnz,)
        The weight A_ij of each stored entry.
    """

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray


class OscillatorKernels(Protocol):
    """Kernels of the oscillator networks (see :mod:`resonance_engine.oscillators`)."""

    def kuramoto_steps(
        self,
        theta: np.ndarray,
        omega: np.ndarray,
        coupling: np.ndarray,
        phase_lag: np.ndarray,
        dt: float,
        steps: int,
        noise: np.ndarray | None,
        adjacency: SparseCoupling | None,
        method: str,
    ) -> None:
        """Advance ``steps`` steps of ``b`` independent Kuramoto networks in place.

        The rate of oscillator i of member k is::

            omega[k, i] + coupling[k] * sum_j A_ij sin(theta[k, j] - theta[k, i] - phase_lag[k])

        with A_ij = 1 for every pair (i = j included) when ``adjacency`` is None, which
        the kernels evaluate through the mean field sum_j exp(i theta_j) in O(n).

        Parameters
        ----------
        theta : ndarray of float64, shape (b, n)
            Phases (rad), overwritten with the phases ``steps`` steps later.
        omega : ndarray of float64, shape (b, n)
            Natural angular frequencies (rad/s).
        coupling : ndarray of float64, shape (b,)
            K / N per member (rad/s).
        phase_lag : ndarray of float64, shape (b,)
            alpha per member (rad).
        dt : float
            Time step (s).
        steps : int
        noise : ndarray of float64, shape (steps, b, n), or None
            Increments added to theta after each step's deterministic part (rad; the
            caller draws sqrt(2 D dt) N(0, 1)). Only with ``method="euler"``.
        adjacency : SparseCoupling or None
            The n x n coupling matrix shared by every member.
        method : {"euler", "rk4"}
            Euler(-Maruyama) or classical fourth-order Runge-Kutta.
        """
        ...

    def phase_binned_amplitude(
        self, bins: np.ndarray, amplitude: np.ndarray, n_bins: int, shifts: np.ndarray
    ) -> np.ndarray:
        """Sum of the amplitude in each phase bin, for the amplitude shifted in time.

        Parameters
        ----------
        bins : ndarray of int64, shape (c, t)
            Phase bin (0 .. n_bins - 1) of every sample of c channels.
        amplitude : ndarray of float64, shape (c, t)
        n_bins : int
        shifts : ndarray of int64, shape (s, c)
            Time shift of each channel's amplitude in each of s rounds (samples,
            0 <= shift < t).

        Returns
        -------
        ndarray of float64, shape (s, n_bins)
            ``out[m, j] = sum over channels c and samples n with bins[c, n] == j of
            amplitude[c, (n + shifts[m, c]) % t]``.
        """
        ...
