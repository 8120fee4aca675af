"""Exploration noise, in units of half the action range (train.py scales it to the env's bounds)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ddpg.errors import DDPGError


class OUNoise:
    """Ornstein-Uhlenbeck process, Euler-discretised:

        x ← x + θ(μ - x)·dt + σ·sqrt(dt)·ε,   ε ~ N(0, I)

    The paper uses θ = 0.15, σ = 0.2 (§7); dt = 1 gives its discrete process. `reset()` at each
    episode start sets x back to μ. Draws come only from the injected generator.
    """

    def __init__(self, size: int, rng: np.random.Generator, theta: float = 0.15, sigma: float = 0.2,
                 dt: float = 1.0, mu: float = 0.0) -> None:
        self.size, self.rng = size, rng
        self.theta, self.sigma, self.dt, self.mu = theta, sigma, dt, mu
        self.x = np.full(size, mu, dtype=np.float64)

    def reset(self) -> None:
        self.x = np.full(self.size, self.mu, dtype=np.float64)

    def __call__(self) -> np.ndarray:
        eps = self.rng.standard_normal(self.size)
        self.x = self.x + self.theta * (self.mu - self.x) * self.dt + self.sigma * np.sqrt(self.dt) * eps
        return self.x

    def state_dict(self) -> dict[str, Any]:
        return {"x": self.x.tolist()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.x = np.asarray(state["x"], dtype=np.float64)


class GaussianNoise:
    """Uncorrelated N(0, σ²) noise; stateless, so `reset()` does nothing."""

    def __init__(self, size: int, rng: np.random.Generator, sigma: float = 0.1) -> None:
        self.size, self.rng, self.sigma = size, rng, sigma

    def reset(self) -> None:
        pass

    def __call__(self) -> np.ndarray:
        return self.sigma * self.rng.standard_normal(self.size)

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def make_noise(kind: str, size: int, rng: np.random.Generator, sigma: float, theta: float,
               dt: float) -> OUNoise | GaussianNoise:
    if kind == "ou":
        return OUNoise(size, rng, theta=theta, sigma=sigma, dt=dt)
    if kind == "gaussian":
        return GaussianNoise(size, rng, sigma=sigma)
    raise DDPGError(f"unknown noise kind {kind!r}; choose 'ou' or 'gaussian'")
