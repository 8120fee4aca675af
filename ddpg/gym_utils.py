"""Making environments, with one-line errors for ids and spaces DDPG cannot use."""
from __future__ import annotations

import gymnasium as gym
import numpy as np

from ddpg.errors import DDPGError


def make_env(env_id: str, render_mode: str | None = None, **kwargs: object) -> gym.Env:
    """`gym.make` that refuses unknown ids and non-continuous action spaces in one line."""
    try:
        env = gym.make(env_id, render_mode=render_mode, **kwargs)
    except TypeError as e:  # a constructor argument the env does not take
        raise DDPGError(f"env {env_id} does not accept these arguments: {e}") from None
    except gym.error.Error as e:
        raise DDPGError(f"unknown or unavailable env {env_id!r} ({e}); pass an id from gymnasium's "
                        f"registry, e.g. HalfCheetah-v5, Pendulum-v1 or Rocket-v0") from None
    if not isinstance(env.action_space, gym.spaces.Box):
        kind = type(env.action_space).__name__
        env.close()
        raise DDPGError(f"env {env_id} has a {kind} action space; DDPG needs a continuous (Box) action space")
    if not (np.all(np.isfinite(env.action_space.low)) and np.all(np.isfinite(env.action_space.high))):
        env.close()
        raise DDPGError(f"env {env_id} has unbounded actions; DDPG scales tanh outputs to finite bounds")
    if not isinstance(env.observation_space, gym.spaces.Box) or len(env.observation_space.shape) != 1:
        env.close()
        raise DDPGError(f"env {env_id} has observations {env.observation_space}; this repo's MLPs need a flat Box")
    return env
