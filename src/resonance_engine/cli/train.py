"""``resonance train``: train a policy on the field or swarm environment, evaluate it."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from resonance_engine.cli.args import COUNT, COUNT0, NONNEGATIVE, nonempty
from resonance_engine.cli.common import (
    add_common_options,
    output_dir,
    print_summary,
    progress_bar,
    show_progress,
)
from resonance_engine.errors import ConfigError

__all__ = [
    "register",
    "cmd_train",
    "HAND_WRITTEN_COUPLINGS",
    "hand_written_strengths",
    "evaluation_markdown",
    "paired_markdown",
]

#: Strengths K tried per coupling mechanism where the mechanism names none (``sweep``).
HAND_WRITTEN_COUPLINGS: dict[str, tuple[float, ...]] = {
    "gain": (0.05, 0.5),
    "ci-feedback": (0.5, 2.0),
    "kuramoto": (2.0, 8.0, 32.0),
    "common-drive": (2.0, 8.0, 32.0),
    "diffusive": (10.0, 100.0),
}


def hand_written_strengths() -> tuple[dict[str, tuple[float, ...]], dict[str, float]]:
    """The couplings and the controllers to compare a policy with.

    Returns every registered coupling mechanism with its strengths (its own ``sweep`` where
    it has one, else HAND_WRITTEN_COUPLINGS), and every swarm controller
    (:mod:`resonance_engine.swarm.controllers`) with its default strength.
    """
    from resonance_engine.swarm.controllers import CONTROLLERS
    from resonance_engine.swarm.coupling import COUPLING_MODES

    couplings = {
        mode: tuple(getattr(cls, "sweep", None) or HAND_WRITTEN_COUPLINGS.get(mode, (1.0,)))
        for mode, cls in COUPLING_MODES.items()
        if mode not in CONTROLLERS and mode != "rl"
    }
    controllers = {m: COUPLING_MODES[m].default_strength for m in CONTROLLERS}
    return couplings, controllers


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train an RL policy (stable-baselines3) on the field or swarm environment",
        description=(
            "Train PPO or A2C (CPU torch) on WaveFieldEnv or SwarmEnv (one policy shared by "
            "all agents), write DIR/policy.zip, policy.json, checkpoints/, learning_curve.png "
            "and tensorboard/ logs, then evaluate on held-out seeds against the baselines."
        ),
    )
    p.add_argument("--env", choices=("swarm", "field"), default="swarm")
    p.add_argument("--algo", choices=("ppo", "a2c"), default="ppo")
    p.add_argument(
        "--timesteps",
        type=COUNT,
        default=20_000,
        help="environment steps (a swarm tick of N agents counts N; default 20000)",
    )
    p.add_argument("--agents", type=COUNT, default=8, help="swarm agents (default 8)")
    p.add_argument("--size", type=COUNT, default=64, help="cells per side (default 64)")
    p.add_argument(
        "--steps-per-tick",
        type=COUNT,
        default=10,
        help="solver steps per environment step (default 10)",
    )
    p.add_argument(
        "--episode-ticks",
        type=COUNT,
        default=64,
        help="environment steps per episode (default 64)",
    )
    p.add_argument(
        "--warmup-ticks",
        type=COUNT0,
        default=20,
        help="ticks run before an episode's first observation (default 20)",
    )
    p.add_argument(
        "--window",
        type=COUNT,
        default=16,
        help="swarm: CS window of the reward in ticks (default 16)",
    )
    p.add_argument(
        "--ci-sampling",
        choices=("average", "tick"),
        default="average",
        help="swarm: CI averaged over frames that resolve the drives (default) or one frame "
        "per tick, as in 'resonance swarm'",
    )
    p.add_argument(
        "--coupling-mode",
        type=nonempty,
        default="gain",
        help="swarm: mechanism of --coupling (gain, kuramoto, ci-feedback, common-drive, "
        "diffusive; default gain)",
    )
    p.add_argument(
        "--coupling",
        type=NONNEGATIVE,
        default=0.0,
        help="swarm: strength of the swarm's own coupling rule (default 0)",
    )
    p.add_argument(
        "--reward",
        type=nonempty,
        default=None,
        help="field: target (default) | max; swarm: shared (default: Pearson CS of the CI "
        "series) | per_agent | diff (CS of the differenced CI series, which a common trend "
        "cannot earn) | diff_per_agent",
    )
    p.add_argument(
        "--order-weight",
        type=NONNEGATIVE,
        default=None,
        help="swarm: weight of a shaping term added to the reward, the Kuramoto order "
        "parameter of the agents' drive phases (default 0: none)",
    )
    p.add_argument(
        "--order-reward",
        choices=("shared", "own"),
        default=None,
        help="swarm: pay every agent the swarm's order parameter (shared, the default) or "
        "each agent its own alignment with the swarm's mean phases (own)",
    )
    p.add_argument(
        "--target",
        type=NONNEGATIVE,
        default=2.0,
        help="field: target CI as a multiple of the reference field's (default 2)",
    )
    p.add_argument(
        "--observation",
        choices=("measures", "drive"),
        default=None,
        help="swarm: what an agent observes: its signature's measures and the aggregate's "
        "(default), or also its drive's frequency and phase gaps to the swarm's mean drive "
        "(read from the signatures' drive payload, which is agent state)",
    )
    p.add_argument(
        "--action",
        choices=("global", "per-source"),
        default=None,
        help="swarm: gain, frequency and one common phase jump (default), or gain, "
        "frequency and one phase nudge per source",
    )
    p.add_argument(
        "--gain-step",
        type=NONNEGATIVE,
        default=None,
        help="largest change of ln(drive gain) per tick (default 0.1; 0 freezes the gain)",
    )
    p.add_argument(
        "--frequency-step",
        type=NONNEGATIVE,
        default=None,
        help="largest change of ln(frequency factor) per tick (default 0.02)",
    )
    p.add_argument(
        "--phase-step",
        type=NONNEGATIVE,
        default=None,
        help="largest phase jump (global) or nudge (per-source) per tick in rad (default 0.3)",
    )
    p.add_argument(
        "--action-cost",
        type=NONNEGATIVE,
        default=0.01,
        help="weight of mean(a^2) in the reward (default 0.01)",
    )
    p.add_argument(
        "--checkpoint-every",
        type=COUNT0,
        default=5000,
        help="timesteps between checkpoints (0: none; default 5000)",
    )
    p.add_argument(
        "--eval-episodes",
        type=COUNT0,
        default=5,
        help="held-out episodes per condition after training (0: none; default 5)",
    )
    add_common_options(p, out_default="resonance-out/train")
    p.set_defaults(func=cmd_train)


def _env_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    common: dict[str, Any] = {
        "size": args.size,
        "steps_per_tick": args.steps_per_tick,
        "episode_ticks": args.episode_ticks,
        "warmup_ticks": args.warmup_ticks,
        "action_cost": args.action_cost,
    }
    steps = {
        "gain_step": args.gain_step,
        "frequency_step": args.frequency_step,
        "phase_step": args.phase_step,
    }
    limits = {k: v for k, v in steps.items() if v is not None}
    if limits:
        common["limits"] = limits
    if args.env == "field":
        return {**common, "reward": args.reward or "target", "target": args.target}
    if args.agents < 2:
        raise ConfigError(f"--agents must be >= 2 for the swarm environment, got {args.agents}")
    return {
        **common,
        "n_agents": args.agents,
        "window": args.window,
        "coupling": args.coupling,
        "coupling_mode": args.coupling_mode,
        "reward": args.reward or "shared",
        "order_weight": args.order_weight or 0.0,
        "order_reward": args.order_reward or "shared",
        "swarm": {"ci_average": args.ci_sampling == "average"},
        "observation": args.observation or "measures",
        "action": args.action or "global",
    }


def _check(args: argparse.Namespace) -> None:
    # the numbers are checked while parsing (resonance_engine.cli.args)
    valid: tuple[str, ...] = ("target", "max")
    if args.env == "swarm":
        try:
            from resonance_engine.rl.swarm_env import REWARD_MODES
        except ImportError:  # no rl extra: cmd_train says so next
            valid = ()
        else:
            valid = REWARD_MODES
    if args.reward is not None and valid and args.reward not in valid:
        raise ConfigError(
            f"--reward for --env {args.env} must be one of {', '.join(valid)}, "
            f"got {args.reward!r}"
        )
    swarm_only = (args.observation, args.action, args.order_weight, args.order_reward)
    if args.env == "field" and any(option is not None for option in swarm_only):
        raise ConfigError(
            "--observation, --action, --order-weight and --order-reward are options of --env swarm"
        )
    if args.order_reward is not None and not args.order_weight:
        raise ConfigError(
            f"--order-reward {args.order_reward} chooses whom the order shaping pays; give it "
            "a weight with --order-weight W (W > 0)"
        )
    if args.observation == "drive" and args.coupling > 0 and args.coupling_mode != "kuramoto":
        raise ConfigError(
            f"--observation drive reads the drive phases from the signatures, which the "
            f"{args.coupling_mode!r} coupling does not send: use --coupling 0 or "
            "--coupling-mode kuramoto"
        )


def cmd_train(args: argparse.Namespace) -> int:
    """Train, save, evaluate on held-out seeds; Ctrl-C keeps the policy and exits 130."""
    _check(args)
    try:
        from resonance_engine.rl.train import TrainConfig, train
    except ImportError as exc:
        raise ConfigError(
            f"resonance train needs the rl extra ({exc}): pip install 'resonance-engine[rl]' "
            "(CPU torch: add --index-url https://download.pytorch.org/whl/cpu, see README)"
        ) from None
    seed = args.seed if args.seed is not None else 0
    out = output_dir(args.out)
    config = TrainConfig(
        env=args.env,
        algo=args.algo,
        timesteps=args.timesteps,
        seed=seed,
        env_kwargs=_env_kwargs(args),
        checkpoint_every=args.checkpoint_every,
    )
    with progress_bar(show_progress(args), log_lines=not args.quiet and not args.json) as bar:
        task = bar.add_task(f"train {args.algo} on {args.env}", total=args.timesteps, status="")

        def report(timesteps: int, mean_return: float, episodes: int) -> None:
            text = f"episode return {mean_return:+.3f} ({episodes} ep)" if episodes else ""
            bar.update(task, completed=min(timesteps, args.timesteps), status=text)

        result = train(config, out, progress=report)
    summary: dict[str, Any] = {
        "env": args.env,
        "algo": args.algo,
        "timesteps": result.timesteps,
        "seconds": result.seconds,
        "timesteps_per_s": result.timesteps / result.seconds if result.seconds > 0 else 0.0,
        "episodes": result.episodes,
        "final_return_mean_10": result.final_return,
        "policy": str(result.policy),
        "learning_curve": str(result.picture),
        "tensorboard": str(result.tensorboard) if result.tensorboard else "not installed",
        "interrupted": result.interrupted,
    }
    if not result.interrupted and args.eval_episodes > 0:
        try:
            rows = _evaluate(args, result.policy, out)
        except KeyboardInterrupt:
            summary["interrupted"] = True
        else:
            summary["evaluation"] = str(out / "evaluation.md")
            for row in rows:
                key = row["condition"].replace(" ", "_").replace("=", "")
                summary[f"eval_{key}_return"] = row["episode_return"]
                if args.env == "swarm":
                    summary[f"eval_{key}_cs"] = row["cs_episode"]
                    summary[f"eval_{key}_cs_final"] = row["cs_final"]
                    summary[f"eval_{key}_cs_diff"] = row["cs_diff_episode"]
                    summary[f"eval_{key}_order"] = row["order_final"]
    print_summary(args, "resonance train", summary)
    return 130 if summary["interrupted"] else 0


def _evaluate(args: argparse.Namespace, policy_path: Path, out: Path) -> list[dict[str, Any]]:
    from resonance_engine.rl.evaluate import (
        OPEN_LOOP_GAINS,
        Condition,
        actor_controls,
        constant_actor,
        evaluate_field,
        evaluate_swarm,
        held_out_seeds,
        paired_differences,
        random_actor,
        summarize,
    )
    from resonance_engine.rl.policy import TrainedPolicy
    from resonance_engine.rl.swarm_env import SwarmEnv

    policy = TrainedPolicy(policy_path)
    seeds = held_out_seeds(args.eval_episodes)
    if args.env == "field":
        open_loop = {name: constant_actor(gain) for name, gain in OPEN_LOOP_GAINS.items()}
        results = evaluate_field(
            policy.env_kwargs,
            {
                "policy": policy.act,
                "no action": None,
                "random": random_actor(seeds[0]),
                **open_loop,
            },
            seeds,
            reference=policy.reference,
        )
    else:
        conditions = [
            Condition("policy", args.coupling, args.coupling_mode, actor=policy.act),
            Condition("uncoupled", 0.0),
        ]
        couplings, controllers = hand_written_strengths()
        conditions += [
            Condition(f"{mode} K={k:g}", k, mode) for mode, ks in couplings.items() for k in ks
        ]
        conditions += [Condition(f"{m} (controller)", k, m) for m, k in controllers.items()]
        probe = SwarmEnv(**policy.env_kwargs, reference=policy.reference)
        conditions += actor_controls(probe, seeds[0], args.coupling, args.coupling_mode)
        results = evaluate_swarm(policy.env_kwargs, conditions, seeds, reference=policy.reference)
    rows = summarize(results)
    paired = paired_differences(results) if args.env == "swarm" else []
    if args.env == "swarm":
        coupled = [r for r in rows if r["condition"].split(" K=")[0] in couplings]
        best = max(coupled, key=lambda r: r["cs_episode"])
        best["best_hand_written"] = True
    (out / "evaluation.json").write_text(
        json.dumps(
            {
                "seeds": seeds,
                "rows": rows,
                "paired": paired,
                "episodes": [r.__dict__ for r in results],
            },
            indent=2,
            default=str,
        ),
        encoding="utf-8",
    )
    (out / "evaluation.md").write_text(
        evaluation_markdown(rows, seeds, args.env, paired), encoding="utf-8"
    )
    return rows


def _pm(row: dict[str, Any], key: str) -> str:
    value, std = row[key], row[f"{key}_std"]
    if not math.isfinite(value):
        return "n/a"
    return f"{value:+.3f} +- {std:.3f}" if math.isfinite(std) else f"{value:+.3f}"


#: Columns of the paired table: (EpisodeResult field, heading).
PAIRED_COLUMNS = (
    ("cs_final", "CS (last window)"),
    ("cs_episode", "CS (episode)"),
    ("cs_diff_episode", "CS of differences (episode)"),
    ("order_final", "R (last tick)"),
)


def paired_markdown(paired: list[dict[str, Any]], subject: str = "policy") -> list[str]:
    """The lines of the table of ``subject`` minus each control on the same seeds.

    Parameters
    ----------
    paired : list of dict
        Rows of :func:`~resonance_engine.rl.evaluate.paired_differences` for ``subject``
        (with the keys of :data:`PAIRED_COLUMNS`).
    subject : str
        The condition's name, for the heading.

    Returns
    -------
    list of str
        Markdown lines: each cell is the mean difference +- its standard error and, in
        parentheses, on how many seeds ``subject`` was higher.
    """
    lines = [
        f"{subject[:1].upper()}{subject[1:]} minus each control on the same seeds: mean "
        f"difference +- its standard error ({subject} higher on how many seeds).",
        "",
        "| control | " + " | ".join(head for _, head in PAIRED_COLUMNS) + " |",
        "|---" * (len(PAIRED_COLUMNS) + 1) + "|",
    ]
    for d in paired:
        cells = [
            f"{d[f'{k}_diff']:+.3f} +- {d[f'{k}_diff_se']:.3f} ({d[f'{k}_higher']}/{d[f'{k}_n']})"
            for k, _ in PAIRED_COLUMNS
        ]
        lines.append(f"| {d['control']} | " + " | ".join(cells) + " |")
    return lines


def evaluation_markdown(
    rows: list[dict[str, Any]],
    seeds: list[int],
    env: str,
    paired: list[dict[str, Any]] | dict[str, list[dict[str, Any]]] | None = None,
) -> str:
    """The evaluation table and, for the swarm, the paired differences.

    Parameters
    ----------
    rows : list of dict
        :func:`~resonance_engine.rl.evaluate.summarize` of the episodes: mean +- standard
        deviation over the held-out seeds per condition.
    seeds : list of int
        The episode seeds.
    env : {"swarm", "field"}
    paired : list of dict, or dict of str to list of dict, optional
        :func:`~resonance_engine.rl.evaluate.paired_differences` of ``"policy"`` (a list),
        or of each subject by name (a dict: one paired table per subject).

    Returns
    -------
    str
        Markdown.
    """
    lines = [
        f"# Held-out evaluation ({env} environment)",
        "",
        f"{len(seeds)} episodes per condition, seeds {seeds[0]}..{seeds[-1]} (never drawn in "
        "training). Mean +- standard deviation over the episodes. Drive cost: mean squared "
        "drive change per tick in units of the action limits.",
        "",
    ]
    if env == "swarm":
        lines += [
            "| condition | CS (episode) | CS (windowed, mean) | CS (last window) | "
            "CS of differences (episode) | R (last tick) | return | drive cost |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            name = r["condition"] + (" (best hand-written)" if r.get("best_hand_written") else "")
            lines.append(
                f"| {name} | {_pm(r, 'cs_episode')} | {_pm(r, 'cs_window_mean')} | "
                f"{_pm(r, 'cs_final')} | {_pm(r, 'cs_diff_episode')} | "
                f"{_pm(r, 'order_final')} | {_pm(r, 'episode_return')} | "
                f"{_pm(r, 'drive_cost')} |"
            )
        tables = {"policy": paired} if isinstance(paired, list) else dict(paired or {})
        for subject, table in tables.items():
            if table:
                lines += ["", *paired_markdown(table, subject)]
    else:
        lines += ["| condition | return | mean a^2 |", "|---|---|---|"]
        for r in rows:
            lines.append(
                f"| {r['condition']} | {_pm(r, 'episode_return')} | {_pm(r, 'drive_cost')} |"
            )
    return "\n".join(lines) + "\n"
