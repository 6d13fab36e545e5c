"""Sweep parameters: ``--param`` parsing, the cartesian grid, and applying a point to a config.

A parameter is written ``NAME=VALUES`` with VALUES one of

- ``start:stop:num``: ``num`` evenly spaced values from start to stop inclusive
  (``numpy.linspace``), e.g. ``damping=0.02:0.2:10``;
- ``a,b,c``: a list, e.g. ``frequency=2,4,8`` or ``boundary=fixed,absorbing``;
- ``a``: one value.

NAME is one of

- ``steps``, ``seed``: of the run; ``size``: ``nx = ny = size`` (for the default pond the
  whole pond is rebuilt at that resolution);
- a field of :class:`~resonance_engine.config.SimulationConfig` (``damping``,
  ``wave_speed``, ``feedback_strength``, ``courant``, ``boundary``, ...);
- a field of :class:`~resonance_engine.config.SourceConfig` (``frequency``,
  ``amplitude``, ``phase``, ``x``, ``y``): set on every source;
- a dotted path into the run configuration, e.g. ``simulation.sources.0.frequency``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from resonance_engine.config import RunConfig, SimulationConfig, SourceConfig
from resonance_engine.errors import ConfigError, ParameterError

__all__ = [
    "SweepParameter",
    "parse_param",
    "parameter_grid",
    "apply_params",
    "ParamValue",
]

#: A value of a sweep parameter.
ParamValue = int | float | str

_RUN_FIELDS = ("steps", "seed")
_SOURCE_FIELDS = tuple(SourceConfig.model_fields)
_SIMULATION_FIELDS = tuple(name for name in SimulationConfig.model_fields if name != "sources")


@dataclass(frozen=True)
class SweepParameter:
    """One swept parameter: its name and the values it takes (in order).

    Attributes
    ----------
    name : str
        Parameter name (see the module docstring).
    values : tuple of int, float or str
    """

    name: str
    values: tuple[ParamValue, ...]

    def __post_init__(self) -> None:
        if not self.values:
            raise ConfigError(f"parameter {self.name!r} has no values")
        if len(set(self.values)) != len(self.values):
            raise ConfigError(
                f"parameter {self.name!r} repeats a value: {list(self.values)!r}; list each once"
            )


def _scalar(text: str) -> ParamValue:
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return text
    if not math.isfinite(value):
        raise ConfigError(f"parameter value {text!r} is not finite")
    return value


def parse_param(text: str) -> SweepParameter:
    """Parse ``NAME=start:stop:num``, ``NAME=a,b,c`` or ``NAME=a``.

    Examples
    --------
    >>> parse_param("damping=0.0:0.2:3")
    SweepParameter(name='damping', values=(0.0, 0.1, 0.2))
    >>> parse_param("frequency=2,4,8").values
    (2, 4, 8)

    Raises
    ------
    ConfigError
        For a missing ``=``, an empty name or value, a range with a bad number of points
        or non-numeric ends.
    """
    name, sep, spec = text.partition("=")
    name, spec = name.strip(), spec.strip()
    if not sep or not name or not spec:
        raise ConfigError(
            f"bad --param {text!r}: write NAME=start:stop:num, NAME=a,b,c or NAME=value "
            "(e.g. damping=0.02:0.2:10)"
        )
    if ":" in spec and "," not in spec:
        parts = spec.split(":")
        if len(parts) != 3:
            raise ConfigError(
                f"bad range in --param {text!r}: write start:stop:num (three parts), got "
                f"{len(parts)}"
            )
        start, stop, num = (_scalar(p) for p in parts)
        if not isinstance(start, int | float) or not isinstance(stop, int | float):
            raise ConfigError(f"bad range in --param {text!r}: start and stop must be numbers")
        if not isinstance(num, int) or num < 1:
            raise ConfigError(
                f"bad range in --param {text!r}: num must be an integer >= 1, got {parts[2]!r}"
            )
        grid = np.linspace(float(start), float(stop), num)
        values: tuple[ParamValue, ...]
        if isinstance(start, int) and isinstance(stop, int) and np.all(grid == np.round(grid)):
            values = tuple(int(v) for v in grid)
        else:
            # 12 significant digits: 0.1 stays 0.1 rather than 0.10000000000000002
            values = tuple(float(f"{v:.12g}") for v in grid)
        return SweepParameter(name, values)
    items = [item for item in spec.split(",")]
    if any(not item.strip() for item in items):
        raise ConfigError(f"bad list in --param {text!r}: an item is empty")
    return SweepParameter(name, tuple(_scalar(item) for item in items))


def parameter_grid(params: Sequence[SweepParameter]) -> list[dict[str, ParamValue]]:
    """The cartesian product of the parameters (the first one varies slowest).

    Raises
    ------
    ConfigError
        When a parameter name appears twice.
    """
    names = [p.name for p in params]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"parameter(s) {', '.join(twice)} given twice; give each once")
    return [
        dict(zip(names, combo, strict=True))
        for combo in itertools.product(*(p.values for p in params))
    ]


def _set_path(data: dict[str, Any], path: str, value: ParamValue) -> None:
    node: Any = data
    parts = path.split(".")
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[: depth + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(
                    f"parameter {path!r}: {where!r} is not an index of a list of {len(node)}"
                )
            if last:
                node[int(part)] = value
            else:
                node = node[int(part)]
        elif isinstance(node, dict):
            if part not in node:
                raise ConfigError(
                    f"parameter {path!r}: no field {where!r}; fields there: "
                    f"{', '.join(sorted(node))}"
                )
            if last:
                node[part] = value
            else:
                node = node[part]
        else:
            raise ConfigError(f"parameter {path!r}: {where!r} is a value, not a table")


def apply_params(config: Mapping[str, Any], params: Mapping[str, ParamValue]) -> dict[str, Any]:
    """A copy of a run configuration (``RunConfig.model_dump()``) with ``params`` set.

    Returns the validated configuration as a plain dict.

    Raises
    ------
    ConfigError
        For an unknown parameter name or a value the configuration refuses; the message
        names the parameters of this grid point.
    """
    data = RunConfig.model_validate(dict(config)).model_dump()
    simulation = data["simulation"]
    for name, value in params.items():
        if name in _RUN_FIELDS:
            data[name] = value
        elif name == "size":
            simulation["nx"] = simulation["ny"] = value
        elif name in _SIMULATION_FIELDS:
            simulation[name] = value
        elif name in _SOURCE_FIELDS:
            if not simulation["sources"]:
                raise ConfigError(
                    f"parameter {name!r} sets every source, but the configuration has none; "
                    "add [[simulation.sources]] to the config"
                )
            for source in simulation["sources"]:
                source[name] = value
        elif "." in name:
            _set_path(data, name, value)
        else:
            raise ConfigError(
                f"unknown sweep parameter {name!r}; use steps, seed, size, a simulation field "
                f"({', '.join(_SIMULATION_FIELDS)}), a source field "
                f"({', '.join(_SOURCE_FIELDS)}) or a dotted path like "
                "simulation.sources.0.frequency"
            )
    try:
        return RunConfig.model_validate(data).model_dump()
    except ParameterError as exc:
        raise ParameterError(
            f"parameters {dict(params)!r} give an invalid configuration: {exc}",
            exc.field,
            exc.value,
            exc.allowed,
        ) from None
