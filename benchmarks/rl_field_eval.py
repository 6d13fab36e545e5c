"""Field environment: does PPO learn more than the obvious rule? (numbers for the README)

Trains PPO on the tiny field task of ``tests/rl/test_train.py`` (raise the gain measure G
of a 32x32 field) from several training seeds, and evaluates each policy on held-out
episode seeds against three baselines that run the same episodes:

- ``random``: uniform random actions (the floor);
- ``no action``: the drive left alone;
- ``always raise gain``: action (+1, 0, 0) every tick, the hand-written answer to "raise G"
  (the control that can fail: a policy that only learnt this rule does not beat it).

Prints one JSON document: per training seed the held-out returns of every actor, the
learning curve's first and last 10 episodes, the training time; and the sentences the
README quotes, formatted from those numbers.

    nice python benchmarks/rl_field_eval.py --seeds 0,1,2 --timesteps 2048 --episodes 8
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from resonance_engine.rl.evaluate import (
    OPEN_LOOP_GAINS,
    constant_actor,
    evaluate_field,
    held_out_seeds,
)
from resonance_engine.rl.policy import TrainedPolicy
from resonance_engine.rl.train import TrainConfig, train

TINY_FIELD = {
    "size": 32,
    "episode_ticks": 16,
    "warmup_ticks": 10,
    "steps_per_tick": 10,
    "reward": "max",
    "reward_measure": "gain",
    "limits": {"gain_step": 0.3},
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="0,1,2", help="training seeds")
    p.add_argument("--timesteps", type=int, default=2048)
    p.add_argument("--episodes", type=int, default=8, help="held-out episodes per actor")
    args = p.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    held_out = held_out_seeds(args.episodes)
    report: dict = {"load before": os.getloadavg()[0], "held_out_seeds": held_out, "runs": []}
    for seed in seeds:
        with tempfile.TemporaryDirectory() as folder:
            result = train(
                TrainConfig(env="field", algo="ppo", timesteps=args.timesteps, seed=seed,
                            env_kwargs=TINY_FIELD, checkpoint_every=0, n_steps=128),
                Path(folder),
            )
            policy = TrainedPolicy(result.policy)
            rng = np.random.default_rng(seed)
            actors = {
                "policy": policy.act,
                "random": lambda obs, rng=rng: rng.uniform(-1, 1, (len(obs), 3)),
                "no action": None,
                "always raise gain": constant_actor(
                    OPEN_LOOP_GAINS["always raise gain"]
                ),
            }
            episodes = evaluate_field(policy.env_kwargs, actors, held_out,
                                      reference=policy.reference)
        returns = {name: [e.episode_return for e in episodes if e.condition == name]
                   for name in actors}
        curve = [r for _, r in result.curve]
        trained = np.array(returns["policy"])
        report["runs"].append({
            "training_seed": seed,
            "train_seconds": result.seconds,
            "timesteps": result.timesteps,
            "curve_first_10": float(np.mean(curve[:10])),
            "curve_last_10": float(np.mean(curve[-10:])),
            "returns": returns,
            "mean": {name: float(np.mean(v)) for name, v in returns.items()},
            "wins_over": {name: int((trained > np.array(v)).sum())
                          for name, v in returns.items() if name != "policy"},
        })
    report["load after"] = os.getloadavg()[0]
    sentences = []
    n = len(held_out)
    for run in report["runs"]:
        m, w = run["mean"], run["wins_over"]
        beats = {k: m["policy"] > m[k] and w[k] > n // 2 for k in w}
        sentences.append(
            f"training seed {run['training_seed']} ({run['timesteps']} steps, "
            f"{run['train_seconds']:.0f} s): policy {m['policy']:.1f}, random {m['random']:.1f}, "
            f"no action {m['no action']:.1f}, always raise gain {m['always raise gain']:.1f}; "
            f"better than random on {w['random']}/{n} seeds, than always-raise-gain on "
            f"{w['always raise gain']}/{n}; "
            + ("it beats every baseline" if all(beats.values()) else
               "it does not beat: " + ", ".join(k for k, b in beats.items() if not b))
            + f"; learning curve {run['curve_first_10']:.1f} (first 10 episodes) -> "
            f"{run['curve_last_10']:.1f} (last 10)"
        )
    report["sentences"] = sentences
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
