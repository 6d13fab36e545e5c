"""The controllers' rows of the synchronization experiment's verdict table (issue 14):
CS reached beside the same swarms uncoupled, bytes, compute per tick and episodes."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from resonance_engine.cli.main import main
from resonance_engine.json_safe import dumps

MEASURE = "swarm.standin:standin_factory"


def _sync(out: Path, *args: str) -> tuple[dict, str]:
    """``resonance experiment sync`` with small common settings; results.json and report.md."""
    code = main(["experiment", "sync", "--seeds", "2", "--surrogates", "10", "--basin", "0",
                 "--mfpt", "0", *args, "--executor", "serial", "--out", str(out), "--quiet",
                 "--json"])
    assert code == 0
    return json.loads((out / "results.json").read_text()), (out / "report.md").read_text()


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    return _sync(tmp_path_factory.mktemp("sync"), "--agents", "3", "--size", "24", "--ticks",
                 "24", "--warmup", "4", "--window", "8", "--mechanisms", "gain", "--strengths",
                 "gain=0.5", "--controllers", "adaptive,mpc,lmpc", "--strengths",
                 "adaptive=0.5", "--strengths", "mpc=4", "--strengths", "lmpc=4", "--measure",
                 MEASURE)


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
    assert len(table) == 2 and table[0].count("|") == 16  # verdict row (15 columns), sweep row
    # the stand-in swarms stay below the breakdown threshold: the early warning says so
    warning = results["early_warning"]
    assert not warning["measured"] and warning["mechanism"] in results["strengths"]
    assert f"Not measured: {warning['why']}." in report


def test_the_lmpc_task_sentence_is_formatted_from_the_numbers():
    from resonance_engine.swarm.experiment import SyncExperimentConfig, _task_sentence, _tasks

    tasks = [{"episodes": 2, "optimum": 10.0, "costs": [10.4, 10.01], "bound_active": True},
             {"episodes": None, "optimum": 12.0, "costs": [13.0] * 10, "bound_active": False},
             {"episodes": 1, "optimum": 11.0, "costs": [11.02], "bound_active": True}, None]
    row = _tasks(tasks)
    assert row["lmpc_tasks"] == 3 and row["lmpc_not_within"] == 1
    assert row["episodes_needed"] == 1.5 and row["episodes_needed_max"] == 2
    assert row["lmpc_bound_active"] == 2 and row["lmpc_task_optimum"] == pytest.approx(11.0)
    said = _task_sentence(row, SyncExperimentConfig())
    assert "2 of 3 runs came within 0.5 % of the constrained optimum (mean 11.000" in said
    assert "after 1.5 episodes on average (at most 2)" in said
    assert "first episode 11.473" in said  # mean of 10.4, 13.0, 11.02
    assert "a bound active at it in 2 of 3" in said
    assert "n/a" in _task_sentence(_tasks([None, None]), SyncExperimentConfig())


@pytest.fixture(scope="module")
def warned(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    """A kuramoto swarm (the real measure, 32x32) watched with faults and without."""
    return _sync(tmp_path_factory.mktemp("warning"), "--agents", "4", "--size", "32",
                 "--ticks", "96", "--warmup", "40", "--window", "24", "--mechanisms",
                 "gain,kuramoto", "--strengths", "gain=0.5", "--strengths", "kuramoto=8",
                 "--controllers", "none", "--faults", "frequency,dropout",
                 "--warning-threshold", "0.3", "--warning-horizon", "6")


def test_the_early_warning_is_measured_against_runs_without_faults(warned):
    from resonance_engine.swarm.early_warning import TrialResult, summarize_trials

    results, report = warned
    w = results["early_warning"]
    best = max(results["verdicts"], key=lambda v: v["cs_mean"])
    assert w["measured"] and w["mechanism"] == best["mechanism"] == "kuramoto"
    assert w["threshold"] == 0.3 and w["horizon"] == 6 and w["fault_tick"] == 40 + 24 + 36
    trials = [TrialResult(**t) for t in w["trials"]]
    assert [t.fault for t in trials] == ["none"] * 2 + ["frequency"] * 2 + ["dropout"] * 2
    # the summary is recomputed from the stored trials, and the report quotes it
    again = summarize_trials(trials[:2], {"frequency": trials[2:4], "dropout": trials[4:]}, 6,
                             0.3)
    for key, value in json.loads(dumps(again)).items():  # NaN is null in results.json
        assert w[key] == value
    for t in trials:  # alerts and crossings count from the fault tick, in the control too
        assert all(x is None or x >= w["fault_tick"] for x in (t.alert_tick, t.crossing_tick))
    control = w["control"]
    row = next(s for s in report.splitlines() if s.startswith("| no fault (control) |"))
    assert row.startswith(f"| no fault (control) | {control['cs_before_fault']:.3f} | "
                          f"{control['above_at_fault']} of 2 | {control['runs_crossing']} |")
    line = next(s for s in report.splitlines() if s.startswith("- Early warning:"))
    crossed = sum(w[f]["runs_crossing"] for f in ("frequency", "dropout"))
    warned_ = sum(w[f]["warned_before_crossing"] for f in ("frequency", "dropout"))
    assert f"{crossed} crossed below it afterwards and {warned_} of those" in line
    assert f"was {w['false_alarm_rate']:.2f} ({w['false_alarms']} of 2 runs)" in line


def test_an_unknown_controller_is_one_line_on_stderr(tmp_path: Path, capsys) -> None:
    code = main(["experiment", "sync", "--controllers", "mpc,oracle", "--out", str(tmp_path),
                 "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "oracle" in err and err.count("\n") == 1
