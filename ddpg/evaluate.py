"""Deterministic evaluation: the policy without noise, on its own env and seeds."""
from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np


def run_episodes(env: gym.Env, policy: Callable[[np.ndarray], np.ndarray], episodes: int,
                 seed: int) -> list[tuple[float, int]]:
    """(return, length) of `episodes` episodes; episode k is reset with seed `seed + k`."""
    results = []
    for k in range(episodes):
        obs, _ = env.reset(seed=seed + k)
        total, length, done = 0.0, 0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(policy(obs))
            total += float(reward)
            length += 1
            done = terminated or truncated
        results.append((total, length))
    return results
