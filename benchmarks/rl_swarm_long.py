"""A trained swarm policy on held-out episodes against the controls (README numbers).

``resonance experiment sync --policy`` runs a policy for ``warmup + ticks`` ticks, longer
than its training episodes. A high CS there may be coordination, or every agent's CI
following the same open-loop trend (the same policy pushing every gain to a bound). This
runs the policy's held-out episodes at a chosen length beside controls: uncoupled agents,
independent random actions, the constant actions "always raise the gain" and "always
lower the gain" (the same open-loop push for every agent, no feedback), the Kuramoto
coupling at ``--kuramoto`` K and, for a policy trained with ``--observation drive
--action per-source``, hand-written phase following through the same observation and
actuator. For each control it prints on how many seeds the policy's CS was higher and the
mean paired difference with its standard error.

    nice python benchmarks/rl_swarm_long.py DIR/policy.zip --ticks 100 --warmup 40 --episodes 3
"""

from __future__ import annotations

import argparse
import json
import math
import os

import numpy as np

from resonance_engine.rl.evaluate import (
    Condition,
    actor_controls,
    evaluate_swarm,
    held_out_seeds,
    summarize,
)
from resonance_engine.rl.policy import TrainedPolicy
from resonance_engine.rl.swarm_env import SwarmEnv

MEASURES = ("cs_episode", "cs_final")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("policy")
    p.add_argument("--ticks", type=int, default=100)
    p.add_argument("--warmup", type=int, default=40)
    p.add_argument("--window", type=int, default=32)
    p.add_argument("--episodes", type=int, default=3)
    p.add_argument("--kuramoto", type=float, default=32.0, help="K of the Kuramoto row (0: none)")
    args = p.parse_args()
    policy = TrainedPolicy(args.policy)
    kwargs = {**policy.env_kwargs, "episode_ticks": args.ticks, "warmup_ticks": args.warmup,
              "window": args.window}
    coupling, mode = kwargs.get("coupling", 0.0), kwargs.get("coupling_mode", "gain")
    seeds = held_out_seeds(args.episodes)
    probe = SwarmEnv(**kwargs, reference=policy.reference)
    conditions = [Condition("policy", coupling, mode, actor=policy.act), Condition("uncoupled")]
    if args.kuramoto > 0:
        conditions.append(Condition(f"kuramoto K={args.kuramoto:g}", args.kuramoto, "kuramoto"))
    conditions += actor_controls(probe, seeds[0], coupling, mode)
    results = evaluate_swarm(kwargs, conditions, seeds, reference=policy.reference)
    mine = {r.seed: r for r in results if r.condition == "policy"}
    paired = []
    for c in conditions[1:]:
        row: dict[str, object] = {"control": c.name}
        for key in MEASURES:
            d = np.array([getattr(mine[r.seed], key) - getattr(r, key)
                          for r in results if r.condition == c.name])
            row[f"{key}_policy_higher"] = f"{int((d > 0).sum())}/{d.size}"
            row[f"{key}_diff"] = float(d.mean())
            se = d.std(ddof=1) / math.sqrt(d.size) if d.size > 1 else math.nan
            row[f"{key}_diff_se"] = float(se)
        paired.append(row)
    print(json.dumps({"load": os.getloadavg(), "seeds": [seeds[0], seeds[-1]], "env_kwargs": kwargs,
                      "rows": summarize(results), "paired": paired}, indent=1, default=str))


if __name__ == "__main__":
    main()
