"""A trained swarm policy is one more mechanism of the synchronization experiment: its row
in the verdict table (``resonance experiment sync --policy DIR/policy.zip``)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from resonance_engine.cli.main import main
from resonance_engine.rl.train import TrainConfig, train
from resonance_engine.swarm.experiment import SyncExperimentConfig, run_sync_experiment

SIZE, STEPS = 24, 4


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("policy")
    kwargs = {"n_agents": 2, "size": SIZE, "steps_per_tick": STEPS, "episode_ticks": 6,
              "warmup_ticks": 2, "window": 4}
    result = train(TrainConfig(env="swarm", timesteps=32, env_kwargs=kwargs,
                               checkpoint_every=0, n_steps=8), out)
    return result.policy


def test_the_verdict_table_has_a_row_for_the_policy(policy: Path, tmp_path: Path) -> None:
    cfg = SyncExperimentConfig(
        agents=2, size=SIZE, steps_per_tick=STEPS, warmup=2, ticks=10, window=4, seeds=(0,),
        mechanisms=("gain", "rl"), strengths=(("gain", (0.5,)),),
        options=(("rl", (("policy", str(policy)),)),),
        surrogates=10, basin_samples=0, mfpt_runs=0, traffic_ticks=1,
    )
    result = run_sync_experiment(cfg, tmp_path)
    rows = {v["mechanism"]: v for v in result["verdicts"]}
    assert set(rows) == {"gain", "rl"}
    assert math.isfinite(rows["rl"]["cs_mean"])
    # the policy moved the drives: its run differs from the uncoupled swarm of the same seed
    baseline = next(r for r in result["sweep"] if r["strength"] == 0.0)
    assert rows["rl"]["cs_mean"] != pytest.approx(baseline["cs_mean"], abs=1e-12)
    assert rows["rl"]["carries"].startswith("complexity measures")
    assert "| rl |" in (tmp_path / "report.md").read_text()
    assert result["options"] == {"rl": {"policy": str(policy)}}


def test_rl_without_a_policy_and_a_missing_policy_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["experiment", "sync", "--agents", "2", "--size", "24", "--ticks", "8",
              "--seeds", "1", "--basin", "0", "--mfpt", "0", "--out", str(tmp_path)]
    assert main([*common, "--mechanisms", "gain,rl"]) == 2
    assert "needs --policy" in capsys.readouterr().err
    assert main([*common, "--mechanisms", "gain", "--policy", "nothere.zip",
                 "--executor", "serial"]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err


def test_rl_swarm_long_reports_differenced_cs_and_r_for_every_condition(
    policy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """benchmarks/rl_swarm_long.py: every condition has the differenced CS and R, and each
    policy's paired differences cover every control with all four measures."""
    import importlib.util
    import json

    script = Path(__file__).parents[2] / "benchmarks" / "rl_swarm_long.py"
    spec = importlib.util.spec_from_file_location("rl_swarm_long", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    table = tmp_path / "eval.md"
    module.main([str(policy), str(policy), "--ticks", "6", "--warmup", "2", "--window", "4",
                 "--episodes", "2", "--kuramoto", "8", "--markdown", str(table)])
    out = json.loads(capsys.readouterr().out)
    names = [r["condition"] for r in out["rows"]]
    assert names[:4] == ["policy 0", "policy 1", "uncoupled", "kuramoto K=8"]
    assert {"always lower gain", "always raise frequency", "random"} <= set(names)
    for row in out["rows"]:
        assert math.isfinite(row["cs_diff_episode"]) and 0 <= row["order_final"] <= 1, row
    for subject in ("policy 0", "policy 1"):
        controls = [d["control"] for d in out["paired"][subject]]
        assert controls == [n for n in names if n != subject]
        for d in out["paired"][subject]:
            assert d["cs_diff_episode_n"] == d["order_final_n"] == 2
    # the same policy twice: identical episodes, so every paired difference is 0
    twin = next(d for d in out["paired"]["policy 0"] if d["control"] == "policy 1")
    assert twin["cs_diff_episode_diff"] == 0 and twin["order_final_diff"] == 0
    text = table.read_text()
    assert "Policy 0 minus each control" in text and "Policy 1 minus each control" in text
    assert "CS of differences (episode)" in text and "R (last tick)" in text
