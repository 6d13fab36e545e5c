"""WaveSolver2D: the damped, driven, nonlinear 2D wave equation on a regular grid.

    u_tt = c^2 lap(u) - damping u_t + f(u) + s(x, y, t)

Centered leapfrog in time and space, damping centered too, so the scheme is second
order in dx, dy and dt:

    (1 + damping dt/2) u[n+1] = 2 u[n] - (1 - damping dt/2) u[n-1]
                                + dt^2 (c^2 lap u[n] + f(u[n]) + s[n])

Cell (i, j) (row i, column j) sits at x = j dx, y = i dy. Boundaries act on the outer
ring of cells: ``fixed`` holds it at 0 (reflecting walls), ``periodic`` wraps around,
``absorbing`` applies the first-order Mur condition so that outgoing waves leave.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from resonance_engine.backends import field_state, resolve_backend
from resonance_engine.backends.base import BOUNDARY_CODES, FEEDBACK_CODES, LeapfrogCoefficients
from resonance_engine.errors import ConfigError, DivergenceError, FieldError
from resonance_engine.field.energy import discrete_energy, energy_from_sums
from resonance_engine.field.memory import check_fits
from resonance_engine.field.sources import Source, source_drive, source_stencil
from resonance_engine.field.stability import courant_number, max_stable_dt, validate_stability

__all__ = ["WaveSolver2D", "FeedbackSpec"]

#: A feedback term: None/"none", "cubic" (-k u^3), "tanh" (k tanh u) or a callable f(u).
FeedbackSpec = str | Callable[[Any], Any] | None

_DTYPES = {"float32": np.float32, "float64": np.float64}


#: Cell spacings (m) the solver accepts: beyond them dt, dx^2 or the energy leave the
#: range of floating point (TOML ``dx = 1e-300`` or ``1e300`` used to crash).
SPACING_RANGE = (1e-9, 1e9)


def _spacing(name: str, value: float) -> float:
    spacing = _positive(name, value)
    low, high = SPACING_RANGE
    if not low <= spacing <= high:
        raise ConfigError(
            f"{name} = {spacing:g} m is outside [{low:g}, {high:g}] m, where the time step "
            "and the energy stay within floating point; rescale the problem"
        )
    return spacing


def _positive(name: str, value: float) -> float:
    if not (isinstance(value, int | float | np.floating | np.integer) and math.isfinite(value)):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    if value <= 0:
        raise ConfigError(f"{name} must be > 0, got {value!r}")
    return float(value)


class WaveSolver2D:
    """Leapfrog solver for one field or a batch of independent fields on one grid.

    Parameters
    ----------
    nx, ny : int
        Cells along x (columns) and y (rows); at least 3 each.
    dx : float
        Cell spacing along x (m).
    dy : float, optional
        Cell spacing along y (m); defaults to ``dx``.
    dt : float, optional
        Time step (s). ``None`` means ``courant`` times the largest stable step. A step
        above the 2D CFL limit raises :class:`~resonance_engine.errors.CFLViolation`.
    wave_speed : float
        c (m/s).
    damping : float or sequence of float
        Linear damping rate (1/s), >= 0; one value per batch member is allowed.
    boundary : {"absorbing", "fixed", "periodic"}
    courant : float
        Fraction of the stable limit used when ``dt`` is None, in (0, 1].
    feedback : None, "none", "cubic", "tanh" or callable
        Nonlinear term f(u): ``cubic`` is -k u^3 (a hardening restoring force),
        ``tanh`` is k tanh(u) (a saturating gain), with k = ``feedback_strength``. A
        callable must map a float to a float and also work elementwise on numpy arrays
        (the numpy backend calls it on the whole field); the numba backend compiles it
        with ``numba.njit`` (pass an ``@njit`` function to keep full speed; plain
        Python that numba cannot compile is refused on first step).
    feedback_strength : float
        k of the built-in feedback terms (1/s^2).
    sources : sequence of PointSource or FieldSource
    dtype : {"float32", "float64"}
    backend : {"auto", "numba", "numpy", "wgpu"}
        ``auto`` is numba (numpy without numba). ``wgpu`` keeps both fields in GPU
        memory (WGSL shaders; float32, or float64 where the adapter has ``shader-f64``;
        built-in feedback only): :attr:`u` and :meth:`energy` then read the fields back.
    batch : int, optional
        Number of independent fields stepped together; ``None`` for a single field
        (then ``u`` has shape (ny, nx), otherwise (batch, ny, nx)).
    source_width : float
        Width (standard deviation, cells) of the smoothing bump of each point source.
    check_interval : int
        Steps between divergence checks inside :meth:`step`.
    energy_limit : float, optional
        Energy above which :meth:`check_divergence` raises; ``None`` checks only for
        non-finite values.

    Attributes
    ----------
    drive_amplitude, drive_frequency, drive_phase : ndarray, shape (batch, n_sources)
        Per batch member drive of every source (start from the sources; may be edited
        between steps, e.g. by the swarm layer).
    """

    def __init__(
        self,
        nx: int,
        ny: int,
        dx: float = 1.0,
        dy: float | None = None,
        dt: float | None = None,
        wave_speed: float = 1.0,
        damping: float | Sequence[float] = 0.0,
        boundary: str = "absorbing",
        courant: float = 0.8,
        feedback: FeedbackSpec = None,
        feedback_strength: float = 1.0,
        sources: Sequence[Source] = (),
        dtype: str = "float32",
        backend: str = "auto",
        batch: int | None = None,
        source_width: float = 1.5,
        check_interval: int = 100,
        energy_limit: float | None = None,
    ) -> None:
        for name, n in (("nx", nx), ("ny", ny)):
            if not isinstance(n, int | np.integer) or n < 3:
                raise ConfigError(f"{name} must be an integer >= 3, got {n!r}")
        if batch is not None and (not isinstance(batch, int | np.integer) or batch < 1):
            raise ConfigError(f"batch must be None or an integer >= 1, got {batch!r}")
        if boundary not in BOUNDARY_CODES:
            raise ConfigError(
                f"unknown boundary {boundary!r}; choose one of {', '.join(BOUNDARY_CODES)}"
            )
        if dtype not in _DTYPES:
            raise ConfigError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        if not 0 < courant <= 1:
            raise ConfigError(f"courant must be in (0, 1], got {courant!r}")
        if not isinstance(check_interval, int) or check_interval < 1:
            raise ConfigError(f"check_interval must be an integer >= 1, got {check_interval!r}")
        if not (isinstance(feedback_strength, int | float) and math.isfinite(feedback_strength)):
            raise ConfigError(
                f"feedback_strength must be a finite number, got {feedback_strength!r}"
            )
        if energy_limit is not None:
            energy_limit = _positive("energy_limit", energy_limit)
        self.nx, self.ny = int(nx), int(ny)
        self.dx = _spacing("dx", dx)
        self.dy = _spacing("dy", dy if dy is not None else dx)
        self._wave_speed = _positive("wave_speed", wave_speed)
        self._dt = (
            courant * max_stable_dt(self._wave_speed, self.dx, self.dy)
            if dt is None
            else _positive("dt", dt)
        )
        validate_stability(self._wave_speed, self._dt, self.dx, self.dy)
        self.boundary = boundary
        self.batch = batch
        self.dtype = np.dtype(_DTYPES[dtype])
        nb = batch or 1
        check_fits(
            2 * nb * self.ny * self.nx * self.dtype.itemsize,
            f"a {self.nx}x{self.ny} {dtype} field"
            + (f" batch of {nb}" if batch else "")
            + " (2 time levels)",
            "use a smaller grid (--size) or fewer agents",
        )
        self.backend = resolve_backend(backend)
        self._feedback_code, self._feedback_fn = self._parse_feedback(feedback)
        self.feedback_strength = float(feedback_strength)
        self.check_interval = check_interval
        self.energy_limit = energy_limit
        self.sources = tuple(sources)
        self._stencil = source_stencil(
            self.sources, self.nx, self.ny, self.dx, self.dy, source_width
        )
        shape = (nb, len(self.sources))
        self.drive_amplitude = np.broadcast_to([s.amplitude for s in self.sources], shape).copy()
        self.drive_frequency = np.broadcast_to([s.frequency for s in self.sources], shape).copy()
        self.drive_phase = np.broadcast_to([s.phase for s in self.sources], shape).copy()
        self._damping = np.zeros(nb)
        self.damping = damping
        self._state = field_state(
            self.backend, (nb, self.ny, self.nx), self.dtype, self._feedback_code
        )
        self.step_count = 0
        self._t0 = 0.0
        self._since_check = 0

    # ------------------------------------------------------------------ parameters
    @staticmethod
    def _parse_feedback(feedback: FeedbackSpec) -> tuple[int, Callable[[Any], Any] | None]:
        if feedback is None:
            return FEEDBACK_CODES["none"], None
        if callable(feedback):
            return FEEDBACK_CODES["custom"], feedback
        if feedback in ("none", "cubic", "tanh"):
            return FEEDBACK_CODES[feedback], None
        raise ConfigError(
            f"unknown feedback {feedback!r}; use None, 'cubic', 'tanh' or a callable f(u)"
        )

    @property
    def wave_speed(self) -> float:
        """c (m/s). Setting it re-checks the CFL condition (CFLViolation, unchanged)."""
        return self._wave_speed

    @wave_speed.setter
    def wave_speed(self, value: float) -> None:
        c = _positive("wave_speed", value)
        validate_stability(c, self._dt, self.dx, self.dy)
        self._wave_speed = c

    @property
    def dt(self) -> float:
        """The time step (s). Setting it re-checks the CFL condition (CFLViolation,
        unchanged) and keeps the simulated time :attr:`t` of the current field."""
        return self._dt

    @dt.setter
    def dt(self, value: float) -> None:
        dt = _positive("dt", value)
        validate_stability(self._wave_speed, dt, self.dx, self.dy)
        t = self.t
        self._dt = dt
        self._t0 = t - self.step_count * dt

    @property
    def courant_number(self) -> float:
        """c dt sqrt(1/dx^2 + 1/dy^2) of the current wave speed and time step (<= 1)."""
        return courant_number(self._wave_speed, self._dt, self.dx, self.dy)

    @property
    def damping(self) -> float | np.ndarray:
        """Damping rate (1/s): a float for a single field, shape (batch,) for a batch."""
        return float(self._damping[0]) if self.batch is None else self._damping.copy()

    @damping.setter
    def damping(self, value: float | Sequence[float] | np.ndarray) -> None:
        values = np.broadcast_to(np.asarray(value, dtype=np.float64), self._damping.shape)
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise ConfigError(f"damping must be finite and >= 0 (1/s), got {value!r}")
        limit = 2.0 / self._dt
        if np.any(values > limit):
            raise ConfigError(
                f"damping {float(values.max()):g} 1/s exceeds 2/dt = {limit:.6g} 1/s: with "
                "damping*dt/2 > 1 the centred scheme flips the sign of the field every step; "
                f"use a value <= {limit:.6g} (or a smaller dt)"
            )
        self._damping = values.copy()

    @property
    def t(self) -> float:
        """Simulated time of the current field (s)."""
        return self._t0 + self.step_count * self.dt

    @property
    def _cur(self) -> np.ndarray:
        """u[n], shape (batch, ny, nx): live array on host backends, a read-back on wgpu."""
        return self._state.current()

    @property
    def _prev(self) -> np.ndarray:
        """u[n-1], shape (batch, ny, nx): live array on host backends, a read-back on wgpu."""
        return self._state.previous()

    @property
    def u(self) -> np.ndarray:
        """Current field, read-only: shape (ny, nx), or (batch, ny, nx) for a batch.

        On host backends a view of the live field; on ``wgpu`` a copy read back from the
        GPU (it costs a transfer of the whole field: read it when you need it, not every
        step).
        """
        cur = self._cur
        view = cur[0] if self.batch is None else cur[:]
        view.flags.writeable = False
        return view

    @property
    def u_prev(self) -> np.ndarray:
        """Field one step earlier, read-only (same shape as :attr:`u`; a read-back on wgpu)."""
        prev = self._prev
        view = prev[0] if self.batch is None else prev[:]
        view.flags.writeable = False
        return view

    def validate_stability(self) -> float:
        """Check the 2D CFL condition; return the Courant number or raise CFLViolation."""
        return validate_stability(self.wave_speed, self.dt, self.dx, self.dy)

    def _coefficients(self, *, undamped: bool = False) -> LeapfrogCoefficients:
        half = 0.0 if undamped else 1.0
        gdt2 = half * self._damping * self.dt / 2
        c_dt = self.wave_speed * self.dt
        return LeapfrogCoefficients(
            cx2=(c_dt / self.dx) ** 2,
            cy2=(c_dt / self.dy) ** 2,
            prev_coef=1.0 - gdt2,
            inv_denom=1.0 / (1.0 + gdt2),
            dt2=self.dt**2,
            boundary=BOUNDARY_CODES[self.boundary],
            mur_x=(c_dt - self.dx) / (c_dt + self.dx),
            mur_y=(c_dt - self.dy) / (c_dt + self.dy),
            feedback=self._feedback_code,
            feedback_strength=self.feedback_strength,
        )

    # ------------------------------------------------------------------ state
    def _as_batch(self, name: str, value: np.ndarray | Sequence[Any]) -> np.ndarray:
        arr = np.asarray(value)
        expected = (self.ny, self.nx) if self.batch is None else (self.batch, self.ny, self.nx)
        if self.batch is not None and arr.shape == (self.ny, self.nx):
            arr = np.broadcast_to(arr, expected)
        if arr.shape != expected:
            raise FieldError(
                f"{name} has shape {arr.shape}, expected {expected} (ny, nx = {self.ny}, "
                f"{self.nx}{'' if self.batch is None else f', batch = {self.batch}'})"
            )
        if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
            raise FieldError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
        bad = ~np.isfinite(arr)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise FieldError(
                f"{name} holds {int(bad.sum())} non-finite values (first at index {first}); "
                "pass a finite field"
            )
        return arr.reshape((-1, self.ny, self.nx)).astype(self.dtype)

    def set_state(self, u: np.ndarray, u_prev: np.ndarray | None = None) -> None:
        """Set the current field and the previous one.

        Parameters
        ----------
        u : ndarray, shape (ny, nx) or (batch, ny, nx)
            Field at the current step (a 2D field is copied to every batch member).
        u_prev : ndarray, optional
            Field one step earlier. ``None`` starts at rest: u_prev is the second-order
            Taylor step backwards with zero velocity, u + dt^2/2 (c^2 lap u + f(u)).
        """
        cur = self._as_batch("u", u)
        if u_prev is None:
            self._state.upload(cur, cur)
            coeffs = self._coefficients(undamped=True)
            no_drive = np.zeros((1, cur.shape[0], len(self.sources)))
            self._state.leapfrog_steps(coeffs, self._stencil, no_drive, self._feedback_fn)
            # u_prev = (u + u_one_step_at_rest) / 2 = u + dt^2/2 (c^2 lap u + f(u))
            self._state.upload(cur, 0.5 * (cur + self._state.current()))
        else:
            prev = self._as_batch("u_prev", u_prev)
            self._state.upload(cur, prev)
        self._since_check = 0

    def set_gaussian_pulse(
        self, cx: float, cy: float, width: float, amplitude: float = 1.0
    ) -> None:
        """Start at rest from a Gaussian bump.

        Parameters
        ----------
        cx, cy : float
            Centre in grid indices (column, row).
        width : float
            Standard deviation (cells), > 0.
        amplitude : float
            Peak value (field units).
        """
        width = _positive("width", width)
        jj, ii = np.meshgrid(np.arange(self.nx), np.arange(self.ny))
        bump = amplitude * np.exp(-((jj - cx) ** 2 + (ii - cy) ** 2) / (2 * width**2))
        self.set_state(bump)

    def reset(self) -> None:
        """Zero both fields and the clock."""
        self._state.zero()
        self.step_count = 0
        self._t0 = 0.0
        self._since_check = 0

    # ------------------------------------------------------------------ stepping
    def step(self, n: int = 1) -> None:
        """Advance ``n`` time steps, checking for divergence every ``check_interval`` steps.

        Raises
        ------
        DivergenceError
            When the field turned non-finite (or its energy passed ``energy_limit``).
        """
        if not isinstance(n, int | np.integer) or n < 0:
            raise ConfigError(f"step count must be an integer >= 0, got {n!r}")
        remaining = int(n)
        while remaining:
            chunk = min(remaining, self.check_interval - self._since_check)
            coeffs = self._coefficients()
            drive = source_drive(
                self.t,
                self.dt,
                chunk,
                self.drive_amplitude,
                self.drive_frequency,
                self.drive_phase,
                coeffs.inv_denom,
            )
            self._state.leapfrog_steps(coeffs, self._stencil, drive, self._feedback_fn)
            self.step_count += chunk
            self._since_check += chunk
            remaining -= chunk
            if self._since_check >= self.check_interval:
                self._since_check = 0
                self.check_divergence()

    def check_divergence(self) -> None:
        """Raise :class:`DivergenceError` if a field is non-finite or too energetic."""
        finite = self._state.finite_members()
        if not finite.all():
            members = np.flatnonzero(~finite).tolist()
            where = "" if self.batch is None else f" in batch members {members[:8]}"
            raise DivergenceError(
                f"the field became non-finite{where} by step {self.step_count} (t = "
                f"{self.t:.6g} s, Courant number {self.courant_number:.3f}); lower the "
                "feedback gain or the source amplitude, or add damping",
                self.step_count,
            )
        if self.energy_limit is not None:
            energy = np.atleast_1d(self.energy())
            if energy.max() > self.energy_limit:
                raise DivergenceError(
                    f"energy {energy.max():.6g} exceeds energy_limit {self.energy_limit:.6g} "
                    f"at step {self.step_count}; lower the drive or raise the limit",
                    self.step_count,
                )

    def energy(self) -> float | np.ndarray:
        """Discrete energy (J per unit density) at the half step before the current one.

        Exactly conserved by the scheme for fixed and periodic boundaries without damping,
        sources and feedback. A float for a single field, shape (batch,) for a batch. On
        ``wgpu`` the sums are reduced on the GPU and only they come back.
        """
        if self._state.resident:
            sums = self._state.energy_sums(self.boundary == "periodic")  # type: ignore[attr-defined]
            values = energy_from_sums(sums, self.dt, self.dx, self.dy, self.wave_speed)
            return float(values[0]) if self.batch is None else values
        values = discrete_energy(
            self._state.current(),
            self._state.previous(),
            self.dt,
            self.dx,
            self.dy,
            self.wave_speed,
            self.boundary == "periodic",
        )
        return float(values[0]) if self.batch is None else values

    def frame(self, factor: int = 1) -> np.ndarray:
        """The current field averaged over ``factor`` x ``factor`` blocks (a small copy).

        On ``wgpu`` the averaging runs on the GPU and only the small frame comes back:
        use it for pictures and live views of large grids instead of :attr:`u`.

        Parameters
        ----------
        factor : int
            Block side (cells), >= 1; rows and columns that do not fill a block are left
            out.

        Returns
        -------
        ndarray, shape (ny // factor, nx // factor), or (batch, ...) for a batch
        """
        if not isinstance(factor, int | np.integer) or not 1 <= factor <= min(self.nx, self.ny):
            raise ConfigError(
                f"frame factor must be an integer in [1, {min(self.nx, self.ny)}] (the "
                f"smaller grid side), got {factor!r}"
            )
        frame = self._state.frame(int(factor))
        return frame[0] if self.batch is None else frame

    def __repr__(self) -> str:
        shape = f"{self.ny}x{self.nx}" + ("" if self.batch is None else f"x{self.batch}")
        return (
            f"WaveSolver2D({shape}, dx={self.dx:g}, dt={self.dt:.4g}, courant="
            f"{self.courant_number:.3f}, boundary={self.boundary!r}, backend={self.backend!r})"
        )
