"""Configuration models (pydantic), loadable from TOML.

A TOML file for ``resonance run`` looks like::

    steps = 2000
    metrics_every = 10
    seed = 0

    [simulation]
    nx = 512
    ny = 512
    dx = 0.00196
    boundary = "absorbing"
    damping = 0.1

    [[simulation.sources]]
    x = 0.3
    y = 0.3
    amplitude = 15000.0
    frequency = 10.0

    [metrics]
    dwell_history = 16
    coherence_normalize = "bounded"
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from resonance_engine.errors import ConfigError, ParameterError
from resonance_engine.field.solver import WaveSolver2D
from resonance_engine.field.sources import PointSource
from resonance_engine.metrics.config import MetricsConfig
from resonance_engine.validation import ConfigModel

__all__ = [
    "SourceConfig",
    "SimulationConfig",
    "RunConfig",
    "default_pond",
    "load_run_config",
    "MAX_SEED",
    "MAX_SIDE",
]

#: Largest seed (a signed 64-bit integer, as SQLite stores it).
MAX_SEED = 2**63 - 1
#: Largest grid side (cells) any configuration takes; memory is checked separately.
MAX_SIDE = 2**31 - 1


class SourceConfig(ConfigModel):
    """One point source (see :class:`~resonance_engine.field.sources.PointSource`)."""

    x: float
    y: float
    amplitude: float = 1.0
    frequency: float = Field(1.0, ge=0)
    phase: float = 0.0


class SimulationConfig(ConfigModel):
    """The fields of :class:`~resonance_engine.field.solver.WaveSolver2D`."""

    nx: int = Field(512, ge=3, le=MAX_SIDE)
    ny: int = Field(512, ge=3, le=MAX_SIDE)
    dx: float = Field(1.0, ge=1e-9, le=1e9)
    dy: float | None = Field(None, ge=1e-9, le=1e9)
    dt: float | None = Field(None, gt=0)
    wave_speed: float = Field(1.0, gt=0)
    damping: float = Field(0.0, ge=0)
    boundary: Literal["absorbing", "fixed", "periodic"] = "absorbing"
    courant: float = Field(0.8, gt=0, le=1)
    feedback: Literal["none", "cubic", "tanh"] | None = None
    feedback_strength: float = 1.0
    sources: list[SourceConfig] = Field(default_factory=list)
    dtype: Literal["float32", "float64"] = "float32"
    backend: Literal["auto", "numba", "numpy", "wgpu"] = "auto"
    source_width: float = Field(1.5, gt=0)
    check_interval: int = Field(100, ge=1)
    energy_limit: float | None = Field(None, gt=0)

    def build(self, batch: int | None = None) -> WaveSolver2D:
        """Construct the solver this configuration describes."""
        fields = self.model_dump(exclude={"sources"})
        sources = [PointSource(**s.model_dump()) for s in self.sources]
        return WaveSolver2D(**fields, sources=sources, batch=batch)


class RunConfig(ConfigModel):
    """What ``resonance run`` does: a simulation, how long, and how it is measured.

    Attributes
    ----------
    simulation : SimulationConfig
    metrics : MetricsConfig
        Parameters of D, G, C, tau and CI (TOML table ``[metrics]``).
    steps : int
        Time steps to run.
    metrics_every : int
        Steps between two measured frames.
    seed : int
    """

    simulation: SimulationConfig = Field(default_factory=SimulationConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    steps: int = Field(2000, ge=0, le=MAX_SEED)
    metrics_every: int = Field(10, ge=1, le=MAX_SEED)
    seed: int = Field(0, ge=0, le=MAX_SEED)


def default_pond(size: int = 512, seed: int = 0) -> SimulationConfig:
    """The default scenario: a 1 m square pond with three interfering sources.

    Sources at 10, 13 and 17 Hz (wavelengths of 10, 7.7 and 5.9 cm at c = 1 m/s),
    light damping (0.1 1/s) and absorbing edges. The physical layout is the same at
    every ``size``; only the resolution changes (dx = 1 / (size - 1)), and the source
    amplitude scales with 1/dx^2 so that the smoothed sources inject the same power.
    The source phases are drawn uniformly in [0, 2 pi) from ``seed``.
    """
    if not 16 <= size <= MAX_SIDE:
        raise ConfigError(
            f"the default pond needs size >= 16 cells per side (at most {MAX_SIDE}), got {size}"
        )
    if not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"seed must be an integer from 0 to 2**63 - 1, got {seed}")
    dx = 1.0 / (size - 1)
    amplitude = 15000.0 * (255 * dx) ** -2
    phases = np.random.default_rng(seed).uniform(0.0, 2 * np.pi, 3)
    layout = [(0.30, 0.30, 10.0), (0.72, 0.38, 13.0), (0.48, 0.74, 17.0)]
    sources = [
        SourceConfig(x=x, y=y, amplitude=amplitude, frequency=f, phase=float(p))
        for (x, y, f), p in zip(layout, phases, strict=True)
    ]
    return SimulationConfig(nx=size, ny=size, dx=dx, damping=0.1, sources=sources)


def load_run_config(path: str | Path) -> RunConfig:
    """Read a :class:`RunConfig` from a TOML file (clear errors for bad files)."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {str(p)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {str(p)!r}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(p)!r} is not valid TOML: {exc}") from None
    try:
        return RunConfig.model_validate(data)
    except ParameterError as exc:
        raise ParameterError(
            f"config file {str(p)!r}: {exc}", exc.field, exc.value, exc.allowed
        ) from None
