"""The controllers' rows of the synchronization experiment's verdict table (issue 14):
CS reached beside the same swarms uncoupled, bytes, compute per tick and episodes."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from resonance_engine.cli.main import main

MEASURE = "swarm.standin:standin_factory"


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("sync")
    code = main([
        "experiment", "sync", "--agents", "3", "--size", "24", "--ticks", "24",
        "--warmup", "4", "--window", "8", "--seeds", "2", "--surrogates", "10",
        "--basin", "0", "--mfpt", "0", "--mechanisms", "gain", "--strengths", "gain=0.5",
        "--controllers", "adaptive,mpc,lmpc", "--strengths", "adaptive=0.5",
        "--strengths", "mpc=4", "--strengths", "lmpc=4", "--measure", MEASURE,
        "--executor", "serial", "--out", str(out), "--quiet", "--json",
    ])
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    return results, (out / "report.md").read_text()


def test_every_controller_has_a_row_with_its_compute_and_the_uncoupled_control(experiment):
    results, _ = experiment
    rows = {v["mechanism"]: v for v in results["verdicts"]}
    assert list(rows) == ["gain", "adaptive", "mpc", "lmpc"]
    assert not rows["gain"]["controller"]
    uncoupled = next(r for r in results["sweep"] if r["strength"] == 0.0)
    for name in ("adaptive", "mpc", "lmpc"):
        v = rows[name]
        assert v["controller"] and v["coupling_bytes_per_tick"] == 3 * 64
        assert v["control_ms_per_tick"] > 0
        assert v["uncoupled_cs_mean"] == uncoupled["cs_mean"]
        assert v["cs_gain_over_uncoupled"] == pytest.approx(v["cs_mean"] - uncoupled["cs_mean"])
        assert 0 <= v["models_accepted"] <= 2
    runs = [r for r in results["runs"] if r["mechanism"] == "lmpc"]
    # episodes are counted only by the learning controller
    assert all(math.isfinite(r["episodes_per_agent"]) for r in runs)
    assert rows["mpc"]["episodes_per_agent"] is None  # NaN in JSON: mpc does not learn


def test_the_controller_sentences_are_formatted_from_the_numbers(experiment):
    results, report = experiment
    for v in results["verdicts"]:
        line = next((s for s in report.splitlines()
                     if s.startswith(f"- {v['mechanism']} (controller")), None)
        if not v["controller"]:
            assert line is None
            continue
        assert line is not None
        assert f"CS {v['cs_mean']:.3f} against {v['uncoupled_cs_mean']:.3f}" in line
        diff, spread = v["cs_gain_over_uncoupled"], 2 * max(v["cs_sd"], v["uncoupled_cs_sd"])
        word = "within" if abs(diff) <= spread else ("above" if diff > 0 else "below")
        assert re.search(rf": {word}\b", line)
        assert f"{v['control_ms_per_tick']:.2f} ms per tick for 3 agents" in line
        if v["mechanism"] == "lmpc":
            assert f"{v['episodes_per_agent']:.1f} episodes per agent" in line
    table = [s for s in report.splitlines() if s.startswith("| lmpc |")]
    assert len(table) == 2 and table[0].count("|") == 15  # verdict row (14 columns), sweep row


def test_an_unknown_controller_is_one_line_on_stderr(tmp_path: Path, capsys) -> None:
    code = main(["experiment", "sync", "--controllers", "mpc,oracle", "--out", str(tmp_path),
                 "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "oracle" in err and err.count("\n") == 1
