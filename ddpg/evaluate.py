"""Deterministic evaluation: the policy without noise, on its own env and seeds."""
from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np


def run_episodes(env: gym.Env, policy: Callable[[np.ndarray], np.ndarray], episodes: int, seed: int,
                 on_step: Callable[[], None] | None = None,
                 on_episode: Callable[[int, float, int], None] | None = None) -> list[tuple[float, int]]:
    """(return, length) of `episodes` episodes; episode k is reset with seed `seed + k`.

    `on_step()` runs after the reset and after every step (main.py grabs video frames there);
    `on_episode(k, return, length)` after each episode.
    """
    results = []
    for k in range(episodes):
        obs, _ = env.reset(seed=seed + k)
        if on_step:
            on_step()
        total, length, done = 0.0, 0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(policy(obs))
            total += float(reward)
            length += 1
            done = terminated or truncated
            if on_step:
                on_step()
        results.append((total, length))
        if on_episode:
            on_episode(k, total, length)
    return results
