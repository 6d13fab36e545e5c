"""A trained swarm policy on held-out episodes against the controls (README numbers).

``resonance experiment sync --policy`` runs a policy for ``warmup + ticks`` ticks, longer
than its training episodes. A high CS there may be coordination, or every agent's CI
following the same open-loop trend (the same policy pushing every gain to a bound). This
runs the policy's held-out episodes at a chosen length beside controls: uncoupled agents,
independent random actions, the constant actions "always raise the gain" and "always
lower the gain" (the same open-loop push for every agent, no feedback), the Kuramoto
coupling at ``--kuramoto`` K and, for a policy trained with ``--observation drive
--action per-source``, hand-written phase following through the same observation and
actuator. Every condition reports the CS of the episode, the windowed CS (mean and at the
last tick), the CS of the episode's *differenced* CI series (which a common trend cannot
earn) and the order parameter R of the drive phases at the last tick; for each control it
prints, for each of the last-window CS, the episode CS, the differenced CS and R, the mean
paired difference (policy - control, same seeds) with its standard error and on how many
seeds the policy was higher. The JSON goes to stdout; ``--markdown PATH`` also writes the
tables (the layout of ``resonance train``'s ``evaluation.md``).

    nice python benchmarks/rl_swarm_long.py DIR/policy.zip --ticks 100 --warmup 40 --episodes 3

Several policies trained on the same environment (e.g. several training seeds) share the
control episodes: ``rl_swarm_long.py A/policy.zip B/policy.zip ...`` names them ``policy 0``,
``policy 1``, ... and pairs each with every control; ``--controllers`` adds the adaptive,
MPC and LMPC swarm controllers.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from resonance_engine.cli.train import evaluation_markdown, hand_written_strengths
from resonance_engine.rl.evaluate import (
    Condition,
    actor_controls,
    evaluate_swarm,
    held_out_seeds,
    paired_differences,
    summarize,
)
from resonance_engine.rl.policy import TrainedPolicy
from resonance_engine.rl.swarm_env import SwarmEnv


def main(argv: list[str] | None = None) -> None:
    """Run the evaluation (command-line arguments ``argv``; default ``sys.argv[1:]``)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("policy", nargs="+", help="policy.zip files trained on the same environment")
    p.add_argument("--ticks", type=int, default=100)
    p.add_argument("--warmup", type=int, default=40)
    p.add_argument("--window", type=int, default=32)
    p.add_argument("--episodes", type=int, default=3)
    p.add_argument("--kuramoto", type=float, default=32.0, help="K of the Kuramoto row (0: none)")
    p.add_argument("--controllers", action="store_true",
                   help="also the swarm controllers (adaptive, mpc, lmpc) at their defaults")
    p.add_argument("--markdown", type=Path, default=None, help="also write the tables here")
    args = p.parse_args(argv)
    policies = [TrainedPolicy(path) for path in args.policy]
    policy = policies[0]
    kwargs = {**policy.env_kwargs, "episode_ticks": args.ticks, "warmup_ticks": args.warmup,
              "window": args.window}
    coupling, mode = kwargs.get("coupling", 0.0), kwargs.get("coupling_mode", "gain")
    seeds = held_out_seeds(args.episodes)
    probe = SwarmEnv(**kwargs, reference=policy.reference)
    names = ["policy"] if len(policies) == 1 else [f"policy {k}" for k in range(len(policies))]
    conditions = [Condition(name, coupling, mode, actor=pol.act)
                  for name, pol in zip(names, policies, strict=True)]
    conditions.append(Condition("uncoupled"))
    if args.kuramoto > 0:
        conditions.append(Condition(f"kuramoto K={args.kuramoto:g}", args.kuramoto, "kuramoto"))
    if args.controllers:
        _, controllers = hand_written_strengths()
        conditions += [Condition(f"{m} (controller)", k, m) for m, k in controllers.items()]
    conditions += actor_controls(probe, seeds[0], coupling, mode)
    results = evaluate_swarm(kwargs, conditions, seeds, reference=policy.reference)
    paired = {name: paired_differences(results, name) for name in names}
    rows = summarize(results)
    if args.markdown is not None:
        text = evaluation_markdown(rows, seeds, "swarm", paired)
        args.markdown.write_text(text, encoding="utf-8")
    print(json.dumps({"load": os.getloadavg(), "seeds": [seeds[0], seeds[-1]], "env_kwargs": kwargs,
                      "policies": dict(zip(names, args.policy, strict=True)),
                      "rows": rows, "paired": paired}, indent=1, default=str))


if __name__ == "__main__":
    main()
