"""Reinforcement learning around the simulator: gymnasium and PettingZoo environments.

- :class:`WaveFieldEnv` (gymnasium ``Env``): one field; the agent moves its drive.
- :class:`SwarmEnv` (PettingZoo ``ParallelEnv``): one agent per swarm member, all fields in
  one batched solver, shared reward = the swarm's complexity synchronization.

The environments need gymnasium and PettingZoo only (``pip install
'resonance-engine[rl]'``); training (:mod:`resonance_engine.rl.train`) and trained-policy
controllers (:mod:`resonance_engine.rl.policy`) also need stable-baselines3 and torch.
"""

from resonance_engine.rl.actions import (
    ACTION_MODES,
    ACTION_SIZE,
    ActionLimits,
    DriveActuator,
    action_size,
    sanitize_actions,
)
from resonance_engine.rl.features import FEATURE_LIMIT, MeasureReference, features
from resonance_engine.rl.field_env import TRAINING_SEEDS, WaveFieldEnv, measure_reference
from resonance_engine.rl.swarm_env import (
    OBSERVATION_MODES,
    SWARM_OBSERVATION_SIZE,
    SwarmEnv,
    SwarmObserver,
    observation_size,
)

__all__ = [
    "WaveFieldEnv",
    "SwarmEnv",
    "SwarmObserver",
    "ActionLimits",
    "DriveActuator",
    "MeasureReference",
    "ACTION_SIZE",
    "ACTION_MODES",
    "OBSERVATION_MODES",
    "FEATURE_LIMIT",
    "SWARM_OBSERVATION_SIZE",
    "TRAINING_SEEDS",
    "action_size",
    "observation_size",
    "features",
    "measure_reference",
    "sanitize_actions",
]
