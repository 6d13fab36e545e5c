"""Training policies on the environments with stable-baselines3 (PPO or A2C, CPU torch).

:func:`train` builds the environment (a :class:`~resonance_engine.rl.field_env.WaveFieldEnv`,
or a :class:`~resonance_engine.rl.swarm_env.SwarmEnv` with ONE policy shared by all agents
through :class:`~resonance_engine.rl.vec.SharedPolicyVecEnv`), trains, and writes into the
output folder:

- ``policy.zip``: the SB3 model (updated at every checkpoint, at the end, and on Ctrl-C; each
  write goes to a temporary file first, so an interruption never leaves a broken file);
- ``policy.json``: what is needed to use it again (environment kind and parameters, the
  observation reference, the algorithm, timesteps done, the evaluation);
- ``checkpoints/step_N.zip`` every ``checkpoint_every`` timesteps;
- ``learning_curve.png``: episode return against timesteps;
- ``tensorboard/`` when tensorboard is installed (SB3's own logs).

Held-out evaluation (:mod:`resonance_engine.rl.evaluate`) runs on episode seeds from
``TRAINING_SEEDS`` on, which training never draws.

Importing this module imports stable-baselines3 and torch.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecMonitor

from resonance_engine.errors import ConfigError
from resonance_engine.rl.field_env import WaveFieldEnv
from resonance_engine.rl.swarm_env import SwarmEnv
from resonance_engine.rl.vec import SharedPolicyVecEnv

__all__ = ["TrainConfig", "TrainResult", "train", "make_env", "ALGORITHMS", "save_atomic"]

#: The algorithms ``resonance train --algo`` offers (actor-critic, Box actions).
ALGORITHMS: dict[str, type[BaseAlgorithm]] = {"ppo": PPO, "a2c": A2C}

EnvKind = Literal["swarm", "field"]


@dataclass
class TrainConfig:
    """What to train.

    Attributes
    ----------
    env : {"swarm", "field"}
    algo : {"ppo", "a2c"}
    timesteps : int
        Environment steps to train for, counted per vector slot (a swarm tick of 8 agents
        counts 8).
    seed : int
        Seed of the model and of the first training episode.
    env_kwargs : dict
        Parameters of the environment (e.g. ``n_agents``, ``size``, ``episode_ticks``).
    n_steps : int, optional
        Rollout length per slot (default: 128 for PPO, 8 for A2C).
    learning_rate : float, optional
        Default: 1e-3 for PPO, 7e-4 for A2C.
    gamma : float
        Discount (default 0.9: the rewards respond within a few ticks).
    checkpoint_every : int
        Timesteps between checkpoints (0: none).
    torch_threads : int
        Threads of torch (default 1: the networks are tiny, the simulator wants the cores).
    """

    env: EnvKind = "swarm"
    algo: str = "ppo"
    timesteps: int = 20_000
    seed: int = 0
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    n_steps: int | None = None
    learning_rate: float | None = None
    gamma: float = 0.9
    checkpoint_every: int = 5_000
    torch_threads: int = 1

    def __post_init__(self) -> None:
        if self.env not in ("swarm", "field"):
            raise ConfigError(f"env must be 'swarm' or 'field', got {self.env!r}")
        if self.algo not in ALGORITHMS:
            raise ConfigError(f"algo must be one of {', '.join(ALGORITHMS)}, got {self.algo!r}")
        if not isinstance(self.timesteps, int) or self.timesteps < 1:
            raise ConfigError(f"timesteps must be an integer >= 1, got {self.timesteps!r}")
        if self.checkpoint_every < 0:
            raise ConfigError(f"checkpoint_every must be >= 0, got {self.checkpoint_every}")
        if not 0 < self.gamma <= 1:
            raise ConfigError(f"gamma must be in (0, 1], got {self.gamma}")


@dataclass
class TrainResult:
    """What :func:`train` did."""

    policy: Path
    timesteps: int
    seconds: float
    interrupted: bool
    episodes: int
    curve: list[tuple[int, float]]
    picture: Path | None
    tensorboard: Path | None

    @property
    def final_return(self) -> float:
        """Mean return of the last 10 training episodes (NaN if none ended)."""
        tail = [r for _, r in self.curve[-10:]]
        return float(np.mean(tail)) if tail else math.nan


def make_env(kind: EnvKind, env_kwargs: dict[str, Any]) -> WaveFieldEnv | SwarmEnv:
    """The environment ``kind`` built from ``env_kwargs``."""
    try:
        return WaveFieldEnv(**env_kwargs) if kind == "field" else SwarmEnv(**env_kwargs)
    except TypeError as exc:
        raise ConfigError(f"bad parameter for the {kind} environment: {exc}") from None


def _vectorize(env: WaveFieldEnv | SwarmEnv) -> VecEnv:
    if isinstance(env, SwarmEnv):
        return VecMonitor(SharedPolicyVecEnv(env))
    return VecMonitor(DummyVecEnv([lambda: env]))


def save_atomic(model: BaseAlgorithm, path: Path) -> Path:
    """``model.save`` to a temporary file beside ``path``, then rename it over ``path``."""
    tmp = path.with_name(f".{path.stem}.partial.zip")
    model.save(tmp)
    os.replace(tmp, path)
    return path


class _Progress(BaseCallback):
    """Collects episode returns, reports progress, writes checkpoints."""

    def __init__(
        self,
        out: Path,
        checkpoint_every: int,
        report: Callable[[int, float, int], None] | None,
        write_metadata: Callable[[int], None],
    ) -> None:
        super().__init__()
        self.out = out
        self.checkpoint_every = checkpoint_every
        self.report = report
        self.write_metadata = write_metadata
        self.curve: list[tuple[int, float]] = []
        self._next_checkpoint = checkpoint_every

    def _on_step(self) -> bool:
        returns = [info["episode"]["r"] for info in self.locals["infos"] if "episode" in info]
        if returns:
            self.curve.append((int(self.num_timesteps), float(np.mean(returns))))
        if self.report is not None:
            recent = [r for _, r in self.curve[-10:]]
            self.report(
                self.num_timesteps, float(np.mean(recent)) if recent else math.nan, len(self.curve)
            )
        if self.checkpoint_every and self.num_timesteps >= self._next_checkpoint:
            self._next_checkpoint += self.checkpoint_every
            folder = self.out / "checkpoints"
            folder.mkdir(exist_ok=True)
            save_atomic(self.model, folder / f"step_{self.num_timesteps}.zip")
            save_atomic(self.model, self.out / "policy.zip")
            self.write_metadata(self.num_timesteps)
        return True


def plot_learning_curve(curve: list[tuple[int, float]], path: Path, title: str) -> Path:
    """Episode return against timesteps (and a running mean over 10 episodes)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if curve:
        steps, returns = np.array(curve).T
        ax.plot(steps, returns, ".", alpha=0.4, label="episode return")
        k = min(10, returns.size)
        smooth = np.convolve(returns, np.ones(k) / k, mode="valid")
        ax.plot(steps[k - 1 :], smooth, "-", label=f"mean of {k} episodes")
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no episode finished", ha="center", transform=ax.transAxes)
    ax.set_xlabel("timesteps")
    ax.set_ylabel("episode return")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def env_metadata(env: WaveFieldEnv | SwarmEnv, kind: EnvKind, kwargs: dict[str, Any]) -> dict:
    """The environment part of ``policy.json`` (enough to rebuild the environment)."""
    return {
        "env": kind,
        "env_kwargs": kwargs,
        "reference": env.reference.as_dict(),
        "limits": env.limits.as_dict(),
    }


def train(
    config: TrainConfig,
    out: Path,
    progress: Callable[[int, float, int], None] | None = None,
) -> TrainResult:
    """Train a policy (see the module docstring); Ctrl-C stops and keeps what was learnt.

    Parameters
    ----------
    config : TrainConfig
    out : Path
        Output folder (created).
    progress : callable, optional
        ``progress(timesteps, mean return of the last 10 episodes, episodes)`` after every
        vector step.
    """
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(max(1, config.torch_threads))
    env = make_env(config.env, config.env_kwargs)
    vec = _vectorize(env)
    algo = ALGORITHMS[config.algo]
    kwargs: dict[str, Any] = {
        "gamma": config.gamma,
        "seed": config.seed,
        "device": "cpu",
        "verbose": 0,
    }
    if config.algo == "ppo":
        n_steps = config.n_steps or 128
        kwargs.update(
            n_steps=n_steps,
            batch_size=min(256, n_steps * vec.num_envs),
            learning_rate=config.learning_rate or 1e-3,
        )
    else:
        kwargs.update(n_steps=config.n_steps or 8, learning_rate=config.learning_rate or 7e-4)
    tensorboard = out / "tensorboard" if importlib.util.find_spec("tensorboard") else None
    if tensorboard is not None:
        kwargs["tensorboard_log"] = str(tensorboard)
    vec.seed(config.seed)
    model = algo("MlpPolicy", vec, **kwargs)
    meta = {
        **env_metadata(env, config.env, config.env_kwargs),
        "algo": config.algo,
        "train": asdict(config),
    }

    def write_metadata(timesteps: int, **extra: Any) -> None:
        meta.update(timesteps=timesteps, **extra)
        tmp = out / ".policy.json.partial"
        tmp.write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
        os.replace(tmp, out / "policy.json")

    callback = _Progress(out, config.checkpoint_every, progress, write_metadata)
    start = time.perf_counter()
    interrupted = False
    try:
        model.learn(config.timesteps, callback=callback, tb_log_name=config.algo)
    except KeyboardInterrupt:
        interrupted = True
    seconds = time.perf_counter() - start
    policy = save_atomic(model, out / "policy.zip")
    write_metadata(int(model.num_timesteps), interrupted=interrupted, seconds=seconds)
    vec.close()
    picture = plot_learning_curve(
        callback.curve,
        out / "learning_curve.png",
        f"{config.algo.upper()} on {config.env} ({model.num_timesteps} timesteps)",
    )
    return TrainResult(
        policy,
        int(model.num_timesteps),
        seconds,
        interrupted,
        len(callback.curve),
        callback.curve,
        picture,
        tensorboard,
    )
