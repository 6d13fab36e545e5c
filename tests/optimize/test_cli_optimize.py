"""``resonance optimize``: stores, resumes, lists, draws, and refuses bad input with exit 2."""

from __future__ import annotations

import json

import pytest

from resonance_engine.cli.main import main
from resonance_engine.store import AgentDB

ROSEN = "tests.optimize.objectives:rosenbrock"
PARAMS = ["--param", "a=0:-2:2", "--param", "b=0:-2:2"]


def test_optimize_stores_resumes_and_draws(tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(".")
    db, out = str(tmp_path / "o.db"), str(tmp_path / "out")
    common = [ROSEN, *PARAMS, "--executor", "serial", "--db", db, "--out", out, "--json",
              "--seed", "2"]
    assert main(["optimize", *common, "--budget", "60"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["status"] == "finished" and first["evaluations"] >= 60
    assert (tmp_path / "out" / "convergence.png").stat().st_size > 1000
    assert main(["optimize", *common, "--budget", "300", "--resume",
                 str(first["optimization_id"])]) == 0
    resumed = json.loads(capsys.readouterr().out)
    assert resumed["reused"] == first["evaluations"]
    assert resumed["evaluations"] > first["evaluations"]
    with AgentDB(db, readonly=True) as store:
        assert len(store.evaluations(first["optimization_id"])) == resumed["evaluations"]
        assert store.optimization(first["optimization_id"]).config["objective"] == ROSEN
    assert main(["optimize", "--list", "--db", db, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["optimizations"]
    assert listed[0]["evaluations"] == resumed["evaluations"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["nope:x", "--param", "a=1"], "cannot import objective"),
        (["cs"], "at least one --param"),
        ([ROSEN, "--param", "a=3:0:1"], "LOW <= X0 <= HIGH"),
        ([ROSEN, "--param", "a=x"], "NAME=X0"),
        ([ROSEN, "--param", "a=0:0:1", "--param", "b=1"], "bounds for every --param"),
        ([ROSEN, "--param", "a=1", "--budget", "0"], "--budget: must be an integer >= 1"),
        (["target", "--param", "damping=0.1"], "needs a target"),
        (["separation", "--param", "alpha=1"], "needs scenarios"),
        ([], "name an objective"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.syspath_prepend(".")
    assert main(["optimize", *argv, "--no-db", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
