"""Error classes of resonance-engine.

Every error says what was wrong, the values seen, and what to do about it. The CLI
turns any :class:`ResonanceError` into one line on stderr and exit code 2.
"""

from __future__ import annotations

__all__ = [
    "ResonanceError",
    "ConfigError",
    "ParameterError",
    "CFLViolation",
    "DivergenceError",
    "FieldError",
    "BackendError",
    "MetricError",
    "StoreError",
    "DuplicateRunError",
    "SignatureError",
    "BusError",
    "RejectedRecordsError",
    "ExecutorError",
    "ControlError",
    "InfeasibleError",
]


class ResonanceError(Exception):
    """Base class of every error raised on purpose by resonance-engine."""


class ConfigError(ResonanceError, ValueError):
    """A parameter or configuration value is invalid (unknown name, out of range, wrong type)."""


class ParameterError(ConfigError):
    """A configuration field holds a value it does not allow (a pydantic validation error,
    turned into one of ours).

    Attributes
    ----------
    field : str
        Dotted path of the field ("simulation.nx").
    value : object
        The value given.
    allowed : str
        What the field allows (">= 3", "a finite number", "'fixed', 'periodic' or
        'absorbing'", ...).
    """

    def __init__(self, message: str, field: str, value: object, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(message)


class CFLViolation(ConfigError):
    """The time step breaks the 2D CFL condition c dt sqrt(1/dx^2 + 1/dy^2) <= 1.

    Attributes
    ----------
    courant_number : float
        The Courant number of the rejected step.
    max_stable_dt : float
        The largest time step that is stable on this grid (s).
    """

    def __init__(self, courant_number: float, dt: float, max_stable_dt: float) -> None:
        self.courant_number = courant_number
        self.dt = dt
        self.max_stable_dt = max_stable_dt
        super().__init__(
            f"CFL condition violated: Courant number c*dt*sqrt(1/dx^2+1/dy^2) = "
            f"{courant_number:.4g} > 1 for dt = {dt:.6g}; the largest stable dt on this grid is "
            f"{max_stable_dt:.6g} (use dt=None for {0.8 * max_stable_dt:.6g}, i.e. courant=0.8)"
        )


class DivergenceError(ResonanceError, FloatingPointError):
    """The field became non-finite or its energy exceeded the configured limit."""

    def __init__(self, message: str, step: int) -> None:
        self.step = step
        super().__init__(message)


class FieldError(ResonanceError, ValueError):
    """An array given as a field has the wrong shape or holds NaN/inf values."""


class BackendError(ResonanceError, RuntimeError):
    """A compute backend is unknown or cannot be used on this machine."""


class MetricError(ResonanceError, ValueError):
    """A complexity measure cannot be computed on the given input."""


class StoreError(ResonanceError, RuntimeError):
    """The metric database cannot be opened, read or written."""


class SignatureError(ResonanceError, ValueError):
    """A 64-byte complexity signature is malformed (length, magic, version or checksum)."""


class BusError(ResonanceError, RuntimeError):
    """The signature bus cannot deliver messages (connection lost, server unreachable)."""


class DuplicateRunError(StoreError):
    """A run with the same key is already stored (``run_id``: that run, when known)."""

    def __init__(self, message: str, run_id: int | None = None) -> None:
        super().__init__(message)
        self.run_id = run_id


class RejectedRecordsError(StoreError):
    """Some records or vectors of a batch could not be stored; the rest was written.

    Reasons: a duplicate key (a value's key is (series_id, timestamp), a fingerprint's
    is (series_id, timestamp_bucket)) or a series_id that does not exist.

    Attributes
    ----------
    records : list
        The rejected :class:`~resonance_engine.store.MetricRecord` and
        :class:`~resonance_engine.store.VectorRecord` objects, handed back so that
        nothing is lost silently.
    """

    def __init__(self, message: str, records: list[object]) -> None:
        self.records = records
        super().__init__(message)


class ExecutorError(ResonanceError, RuntimeError):
    """Parallel work cannot run: the executor is missing, unreachable, or a task failed."""


class ControlError(ResonanceError, RuntimeError):
    """An estimator, model fit or controller cannot do what was asked (shapes, solver)."""


class InfeasibleError(ControlError):
    """A model-predictive control problem has no solution under its constraints."""
