"""A trained swarm policy over long episodes, against open-loop controls (README numbers).

``resonance experiment sync --policy`` runs a policy for ``warmup + ticks`` ticks, longer
than its training episodes. A high CS there may be coordination, or every agent's CI
following the same open-loop trend (the same policy pushing every gain to a bound). This
runs the policy's held-out episodes at that length beside controls that exchange nothing:
uncoupled agents, independent random actions, and the constant actions "always raise the
gain" and "always lower the gain" (the same open-loop push for every agent, no feedback).

    nice python benchmarks/rl_swarm_long.py DIR/policy.zip --ticks 100 --warmup 40 --episodes 3
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from resonance_engine.rl.evaluate import (
    OPEN_LOOP_GAINS,
    Condition,
    constant_actor,
    evaluate_swarm,
    held_out_seeds,
    summarize,
)
from resonance_engine.rl.policy import TrainedPolicy


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("policy")
    p.add_argument("--ticks", type=int, default=100)
    p.add_argument("--warmup", type=int, default=40)
    p.add_argument("--window", type=int, default=32)
    p.add_argument("--episodes", type=int, default=3)
    args = p.parse_args()
    policy = TrainedPolicy(args.policy)
    kwargs = {**policy.env_kwargs, "episode_ticks": args.ticks, "warmup_ticks": args.warmup,
              "window": args.window}
    rng = np.random.default_rng(0)

    conditions = [
        Condition("policy", actor=policy.act),
        Condition("uncoupled"),
        Condition("random", actor=lambda obs: rng.uniform(-1, 1, (len(obs), 3))),
        *[Condition(name, actor=constant_actor(g)) for name, g in OPEN_LOOP_GAINS.items()],
    ]
    seeds = held_out_seeds(args.episodes)
    rows = summarize(evaluate_swarm(kwargs, conditions, seeds, reference=policy.reference))
    print(json.dumps({"load": os.getloadavg()[0], "seeds": seeds, "env_kwargs": kwargs,
                      "rows": rows}, indent=1, default=str))


if __name__ == "__main__":
    main()
