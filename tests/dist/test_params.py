"""Sweep parameters: parsing, the cartesian grid, applying a point, planning and keys."""

from __future__ import annotations

import numpy as np
import pytest

from resonance_engine.config import RunConfig, SimulationConfig, SourceConfig
from resonance_engine.dist import (
    RunOptions,
    SweepParameter,
    apply_params,
    parameter_grid,
    parse_param,
    plan_sweep,
    run_key,
)
from resonance_engine.errors import ConfigError


def test_range_is_a_linspace_with_both_ends() -> None:
    p = parse_param("damping=0.02:0.2:10")
    assert p.name == "damping"
    np.testing.assert_allclose(p.values, np.linspace(0.02, 0.2, 10), rtol=1e-11)
    assert p.values[0] == 0.02 and p.values[-1] == 0.2


def test_integer_range_stays_integer_and_list_keeps_types() -> None:
    assert parse_param("steps=100:400:4").values == (100, 200, 300, 400)
    assert all(isinstance(v, int) for v in parse_param("steps=100:400:4").values)
    assert parse_param("frequency=2,4.5,8").values == (2, 4.5, 8)
    assert parse_param("boundary=fixed,absorbing").values == ("fixed", "absorbing")
    assert parse_param(" seed = 7 ").values == (7,)


@pytest.mark.parametrize(
    "text",
    ["damping", "=1,2", "damping=", "damping=0:1", "damping=0:1:0", "damping=a:1:3",
     "damping=1,,2", "damping=1,1", "damping=0:1:2.5", "damping=nan"],
)
def test_bad_param_text_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_param(text)


def test_grid_is_the_cartesian_product_first_parameter_slowest() -> None:
    grid = parameter_grid([SweepParameter("a", (1, 2)), SweepParameter("b", ("x", "y", "z"))])
    assert len(grid) == 6
    assert grid[0] == {"a": 1, "b": "x"} and grid[1] == {"a": 1, "b": "y"}
    assert grid[-1] == {"a": 2, "b": "z"}
    with pytest.raises(ConfigError, match="twice"):
        parameter_grid([SweepParameter("a", (1,)), SweepParameter("a", (2,))])


def _base() -> RunConfig:
    sources = [SourceConfig(x=1, y=1, frequency=3), SourceConfig(x=2, y=2, frequency=5)]
    return RunConfig(simulation=SimulationConfig(nx=16, ny=16, sources=sources), steps=10)


def test_apply_params_sets_run_simulation_source_and_path_fields() -> None:
    data = apply_params(
        _base().model_dump(),
        {"steps": 7, "damping": 0.3, "frequency": 9.0, "simulation.sources.1.amplitude": 4.0,
         "size": 20},
    )
    assert data["steps"] == 7
    assert data["simulation"]["damping"] == 0.3
    assert [s["frequency"] for s in data["simulation"]["sources"]] == [9.0, 9.0]
    assert [s["amplitude"] for s in data["simulation"]["sources"]] == [1.0, 4.0]
    assert data["simulation"]["nx"] == data["simulation"]["ny"] == 20


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"dampin": 0.1}, "unknown sweep parameter 'dampin'"),
        ({"damping": -1.0}, "invalid configuration"),
        ({"simulation.sources.5.frequency": 1.0}, "not an index"),
        ({"simulation.nope": 1.0}, "no field"),
        ({"boundary": "sticky"}, "invalid configuration"),
    ],
)
def test_apply_params_refuses_bad_names_and_values(params: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        apply_params(_base().model_dump(), params)


def test_source_parameter_needs_sources() -> None:
    with pytest.raises(ConfigError, match="has none"):
        apply_params(RunConfig().model_dump(), {"frequency": 2.0})


def test_plan_keys_are_deterministic_distinct_and_follow_the_configuration() -> None:
    params = [parse_param("damping=0.1,0.2"), parse_param("frequency=3,4")]
    _, specs = plan_sweep(_base(), params)
    _, again = plan_sweep(_base(), params)
    assert [s.key for s in specs] == [s.key for s in again]
    assert len({s.key for s in specs}) == 4
    assert [s.index for s in specs] == [0, 1, 2, 3]
    # the key depends on the resolved configuration, not on how it was written
    _, by_path = plan_sweep(
        _base(),
        [parse_param("simulation.damping=0.1"), parse_param("simulation.sources.0.frequency=3"),
         parse_param("simulation.sources.1.frequency=3")],
    )
    assert by_path[0].key == specs[0].key
    # and on the options that change results
    assert run_key(specs[0].config, RunOptions(frames=3)) != run_key(specs[0].config)
    assert run_key(specs[0].config, RunOptions(threads=2)) == run_key(specs[0].config)


def test_default_pond_seed_parameter_draws_the_source_phases() -> None:
    _, specs = plan_sweep(None, [parse_param("seed=0,1")], size=32, steps=5)
    phases = [[s["phase"] for s in spec.config["simulation"]["sources"]] for spec in specs]
    assert phases[0] != phases[1]
    assert [spec.seed for spec in specs] == [0, 1]
    _, sized = plan_sweep(None, [parse_param("size=32,48")], steps=5)
    assert [s.config["simulation"]["nx"] for s in sized] == [32, 48]
    assert sized[0].config["simulation"]["dx"] == pytest.approx(1 / 31)
