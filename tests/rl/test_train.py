"""Training: a short PPO run learns, Ctrl-C keeps the policy, the CLI trains and runs it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from resonance_engine.cli.main import main
from resonance_engine.rl.evaluate import evaluate_field, held_out_seeds
from resonance_engine.rl.policy import TrainedPolicy
from resonance_engine.rl.train import TrainConfig, train

#: A tiny field task PPO can learn in 2048 steps: raise the gain measure G of a 32x32 field.
TINY_FIELD = {
    "size": 32,
    "episode_ticks": 16,
    "warmup_ticks": 10,
    "steps_per_tick": 10,
    "reward": "max",
    "reward_measure": "gain",
    "limits": {"gain_step": 0.3},
}


def test_short_ppo_run_beats_a_random_policy_on_held_out_seeds(tmp_path: Path) -> None:
    """PPO, 2048 steps (about 10-40 s on 2 cores). Measured (benchmarks/rl_field_eval.py):
    the policy's mean return on the 8 held-out seeds is 11.5 (training seed 0) and 15.6
    (seed 1) above the random policy's (31); asserted: at least 5 above, and better on at
    least 6 of the 8 seeds."""
    result = train(
        TrainConfig(
            env="field",
            algo="ppo",
            timesteps=2048,
            seed=0,
            env_kwargs=TINY_FIELD,
            checkpoint_every=0,
            n_steps=128,
        ),
        tmp_path,
    )
    assert result.timesteps == 2048 and not result.interrupted
    policy = TrainedPolicy(result.policy)
    rng = np.random.default_rng(0)
    seeds = held_out_seeds(8)
    episodes = evaluate_field(
        policy.env_kwargs,
        {"policy": policy.act, "random": lambda obs: rng.uniform(-1, 1, (len(obs), 3))},
        seeds,
        reference=policy.reference,
    )
    trained = np.array([e.episode_return for e in episodes if e.condition == "policy"])
    random = np.array([e.episode_return for e in episodes if e.condition == "random"])
    assert trained.mean() > random.mean() + 5.0, (trained, random)
    assert (trained > random).sum() >= 6, (trained, random)
    assert (tmp_path / "learning_curve.png").stat().st_size > 0
    meta = json.loads((tmp_path / "policy.json").read_text())
    assert meta["env"] == "field" and meta["timesteps"] == 2048 and not meta["interrupted"]


def test_ctrl_c_keeps_the_last_checkpoint(tmp_path: Path) -> None:
    def interrupt(timesteps: int, mean_return: float, episodes: int) -> None:
        if timesteps >= 200:
            raise KeyboardInterrupt

    env = {**TINY_FIELD, "size": 24, "episode_ticks": 8, "warmup_ticks": 2, "steps_per_tick": 2}
    result = train(
        TrainConfig(
            env="field", algo="a2c", timesteps=10_000, seed=1, env_kwargs=env, checkpoint_every=64
        ),
        tmp_path,
        progress=interrupt,
    )
    assert result.interrupted and 200 <= result.timesteps < 10_000
    checkpoints = sorted((tmp_path / "checkpoints").glob("step_*.zip"))
    assert checkpoints, "checkpoints were written before the interruption"
    assert not list(tmp_path.rglob("*.partial*")), "no half-written file is left"
    meta = json.loads((tmp_path / "policy.json").read_text())
    assert meta["interrupted"] is True and meta["timesteps"] == result.timesteps
    for path in (result.policy, checkpoints[-1]):
        policy = TrainedPolicy(path)
        assert policy.act(np.zeros((2, 13), np.float32)).shape == (2, 3)


DRIVE_LAYOUT = ["--observation", "drive", "--action", "per-source"]
SHAPED = ["--reward", "diff", "--order-weight", "0.5", "--order-reward", "own"]


@pytest.mark.parametrize("layout", [[], [*DRIVE_LAYOUT, *SHAPED]], ids=["default", "drive"])
def test_cli_trains_a_swarm_policy_and_swarm_runs_it(
    layout: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    code = main(
        [
            "train",
            *layout,
            "--env",
            "swarm",
            "--agents",
            "2",
            "--size",
            "24",
            "--steps-per-tick",
            "2",
            "--episode-ticks",
            "6",
            "--warmup-ticks",
            "2",
            "--window",
            "4",
            "--timesteps",
            "48",
            "--checkpoint-every",
            "0",
            "--eval-episodes",
            "2",
            "--out",
            str(out),
            "--json",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["timesteps"] >= 48 and summary["interrupted"] is False
    for name in ("policy.zip", "policy.json", "learning_curve.png", "evaluation.md"):
        assert (out / name).is_file(), name
    table = (out / "evaluation.md").read_text()
    for row in (
        "| policy |",
        "| uncoupled |",
        "(best hand-written)",
        "| random |",
        "| mpc (controller) |",
        "| always raise gain |",
        "| always lower gain |",
        "| always lower frequency |",
    ):
        assert row in table
    assert ("| phase following (hand-written) |" in table) == bool(layout)
    assert "CS of differences (episode)" in table and "Policy minus each control" in table
    meta = json.loads((out / "policy.json").read_text())
    reward = ("diff", 0.5, "own") if layout else ("shared", 0.0, "shared")
    kwargs = meta["env_kwargs"]
    assert (kwargs["reward"], kwargs["order_weight"], kwargs["order_reward"]) == reward
    assert "eval_policy_cs" in summary and "eval_uncoupled_cs_final" in summary
    assert 0 <= summary["eval_uncoupled_order"] <= 1 and "eval_policy_cs_diff" in summary
    assert "R (last tick) |\n" in table  # the paired table's last column

    code = main(
        [
            "swarm",
            "--agents",
            "2",
            "--size",
            "24",
            "--steps-per-tick",
            "2",
            "--ticks",
            "6",
            "--window",
            "4",
            "--no-db",
            "--out",
            str(tmp_path / "swarm"),
            "--json",
            "--controller",
            f"rl:{out / 'policy.zip'}",
        ]
    )
    assert code == 0
    run = json.loads(capsys.readouterr().out)
    assert run["coupling_mode"] == "rl"
    assert run["policy_ticks_acted"] == 5  # from the end of the 2 warm-up ticks on


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--env", "swarm", "--reward", "max"], "--reward for --env swarm"),
        (["train", "--reward", "pearson"], "must be one of shared, per_agent, diff, diff_per"),
        (["train", "--order-weight", "-0.5"], "--order-weight: must be a finite number >= 0"),
        (["train", "--env", "field", "--order-weight", "1"], "options of --env swarm"),
        (["train", "--env", "field", "--order-reward", "own"], "options of --env swarm"),
        (["train", "--order-reward", "own"], "give it a weight with --order-weight W"),
        (["train", "--order-weight", "1", "--order-reward", "mine"], "invalid choice: 'mine'"),
        (["train", "--action-cost", "-1"], "--action-cost: must be a finite number >= 0"),
        (["train", "--env", "swarm", "--agents", "1"], "--agents must be >= 2"),
        (["train", "--env", "field", "--observation", "drive"], "options of --env swarm"),
        (["train", "--observation", "drive", "--coupling", "0.5"], "does not send"),
        (["swarm", "--controller", "nope", "--no-db"], "invalid choice 'nope'"),
        (["swarm", "--controller", "rl:nothere.zip", "--no-db"], "does not exist"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = main([*argv, "--out", str(tmp_path)])
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
