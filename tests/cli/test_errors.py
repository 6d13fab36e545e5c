"""The inputs that printed a traceback or were silently accepted: one line and exit 2.

Each case of issue 11's list ("One line and exit 2, never a traceback"), run in-process
in an empty working folder that must stay as it was (no output folder, no database).
The arguments' fuzzing over every command is in test_argument_fuzz.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import refusal_problem

from resonance_engine.cli.main import main
from resonance_engine.config import RunConfig
from resonance_engine.errors import ParameterError

MEASURE = "standin:standin_measure"  # never imported: the commands fail before


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["run", "--steps", "-1"], "--steps: must be an integer >= 0"),
        (["run", "--metrics-every", "0"], "--metrics-every: must be an integer >= 1"),
        (["run", "--metrics-every", "-3"], "--metrics-every"),
        (["serve", "--metrics-every", "0"], "--metrics-every"),
        (["serve", "--metrics-every", "-3"], "--metrics-every"),
        (["run", "--seed", "-1"], "--seed: must be an integer >= 0"),
        (["sweep", "--param", "damping=0.1", "--seed", "-1"], "--seed"),
        (["swarm", "--seed", "-1"], "--seed"),
        (["serve", "--seed", "-1"], "--seed"),
        (["export-web", "site", "--seed", "-1"], "--seed"),
        (["sweep", "--param", "seed=-1", "--executor", "serial"], "seed"),
        (["run", "--seed", "99999999999999999999"], "fits in 64 bits"),
        (["run", "--size", "100000"], "needs about"),
        (["serve", "--size", "100000"], "needs about"),
        (["swarm", "--agents", "100000"], "needs about"),
        (["sweep", "--param", "damping=0.1", "--steps", "-1"], "--steps"),
        (["db", "similar", "1", "--at", "nan"], "--at: must be a finite number"),
        (["db", "similar", "1", "--at", "inf"], "--at"),
        (["swarm", "--measure", "os:getcwd", "--size", "16", "--ticks", "4", "--window", "4"],
         "returned str"),
        (["bench", "solver", "--sizes", "abc"], "--sizes"),
        (["experiment", "sync", "--surrogates", "-1"], "--surrogates"),
        (["run", "--size", "0"], "--size: must be an integer >= 1"),
        (["swarm", "--basin", "-1"], "--basin"),
        (["swarm", "--window", "100", "--ticks", "10"], "longer than the run"),
        (["experiment", "sync", "--window", "100", "--ticks", "10"], "longer than the measured"),
        (["db", "similar", "1", "--at", "0", "--max-distance", "-1"], "--max-distance"),
        (["db", "similar", "1", "--at", "0", "--max-distance", "nan"], "--max-distance"),
        (["swarm", "--agent-ids", "0,1"], "only used with --role agents"),
    ],
)
def test_listed_inputs_are_one_line_and_exit_2(argv: list[str], says: str, workdir: Path) -> None:
    problem = refusal_problem(argv, workdir, says)
    assert problem is None, problem


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("dx = 1e-300", "simulation.dx = 1e-300 is not allowed: it must be >= 1e-09"),
        ("dx = 1e300", "simulation.dx = 1e+300 is not allowed"),
        ("damping = 1e6", "exceeds 2/dt"),
        ("feedback_strength = nan", "simulation.feedback_strength = nan"),
        ("energy_limit = nan", "simulation.energy_limit = nan"),
        ("nx = 100000\nny = 100000", "needs about"),
    ],
)
def test_bad_toml_values_are_one_line(line: str, says: str, workdir: Path) -> None:
    config = workdir / "pond.toml"
    config.write_text(f"steps = 1\n[simulation]\n{line}\n")
    problem = refusal_problem(["run", "--config", str(config)], workdir, says)
    assert problem is None, problem


def test_an_output_file_that_is_a_folder_is_refused_before_the_run(workdir: Path) -> None:
    (workdir / "D" / "field.png").mkdir(parents=True)
    problem = refusal_problem(["run", "--size", "16", "--steps", "2", "--out", "D"], workdir,
                              "'D/field.png': it is a folder")
    assert problem is None, problem


def test_an_empty_config_runs_with_a_warning(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "empty.toml").write_text("")
    argv = ["run", "--config", "empty.toml", "--size", "16", "--steps", "2", "--no-db"]
    assert main([*argv, "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "no [[simulation.sources]]" in err and "Traceback" not in err


def test_pydantic_errors_are_parameter_errors_with_field_value_and_range() -> None:
    with pytest.raises(ParameterError) as caught:
        RunConfig.model_validate({"simulation": {"nx": 2}})
    error = caught.value
    assert (error.field, error.value) == ("simulation.nx", 2)
    assert error.allowed == ">= 3"
    assert "simulation.nx = 2" in str(error) and "\n" not in str(error)
