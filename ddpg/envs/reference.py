"""Classical reference controller for Rocket-v0 and a small evaluation helper.

``LQRController`` linearises the MuJoCo model around hover (slider at the
balance point, upright, hover thrust) with ``mujoco.mjd_transitionFD``, discretises
it at the control step (zero-order hold over the frame skip) and solves the
discrete algebraic Riccati equation by fixed-point (value) iteration.

Altitude (z, vz) is left out of the design: with no throttle it is
uncontrollable, and it is decoupled from the other states at hover.
"""

from __future__ import annotations

from typing import Callable

import gymnasium
import mujoco
import numpy as np
from numpy.typing import NDArray

from ddpg.envs.rocket import RocketEnv
from ddpg.evaluate import run_episodes as run_seeded_episodes
from ddpg.gym_utils import make_env

Policy = Callable[[NDArray[np.float64]], NDArray[np.float32]]

STATE_INDICES = np.array([0, 2, 3, 4, 6, 7])
"""Observation entries used by the LQR: x, pitch, slider, vx, pitch rate, slider vel."""

DEFAULT_Q = np.diag([0.5, 20.0, 1.0, 1.0, 2.0, 0.1])
"""State weights in the order of STATE_INDICES (SI units)."""

DEFAULT_R = np.array([[1.0]])
"""Weight on the action (in [-1, 1] units)."""


def solve_dare(
    a: NDArray, b: NDArray, q: NDArray, r: NDArray, tol: float = 1e-10, max_iter: int = 200_000
) -> NDArray:
    """Discrete algebraic Riccati equation by fixed-point iteration of the Riccati map."""
    p = q.copy()
    for _ in range(max_iter):
        bp = b.T @ p
        p_next = q + a.T @ p @ a - a.T @ p @ b @ np.linalg.solve(r + bp @ b, bp @ a)
        p_next = 0.5 * (p_next + p_next.T)  # keep symmetric against round-off
        if np.max(np.abs(p_next - p)) <= tol * max(1.0, np.max(np.abs(p_next))):
            return p_next
        p = p_next
    raise RuntimeError("Riccati iteration did not converge")


def slider_trim(env: RocketEnv) -> float:
    """Slider position that puts the combined CoM on the thrust line (upright)."""
    model = env.model
    data = mujoco.MjData(model)  # scratch copy: do not disturb the env
    rocket = model.body("rocket").id
    slider = model.joint("slider").qposadr[0]

    def com_offset(s: float) -> float:
        data.qpos[:] = env.init_qpos
        data.qpos[slider] = s
        mujoco.mj_forward(model, data)
        # lateral CoM offset from the axis; upright, so body x == world x
        return float(data.subtree_com[rocket, 0] - data.xpos[rocket, 0])

    c0, c1 = com_offset(0.0), com_offset(1.0)  # linear in s
    return -c0 / (c1 - c0)


class LQRController:
    """Discrete-time LQR on the hover linearisation; ``__call__(obs) -> action``."""

    def __init__(self, env: gymnasium.Env, q: NDArray = DEFAULT_Q, r: NDArray = DEFAULT_R) -> None:
        rocket: RocketEnv = env.unwrapped  # type: ignore[assignment]
        model = rocket.model
        data = mujoco.MjData(model)
        self.s_trim = slider_trim(rocket)

        # Hover operating point.
        data.qpos[:] = rocket.init_qpos
        data.qpos[model.joint("slider").qposadr[0]] = self.s_trim
        data.qvel[:] = 0.0
        data.ctrl[model.actuator("thrust").id] = rocket.hover_thrust
        data.ctrl[model.actuator("slider").id] = 0.0
        mujoco.mj_forward(model, data)

        n = 2 * model.nv
        a = np.zeros((n, n))
        b = np.zeros((n, model.nu))
        mujoco.mjd_transitionFD(model, data, 1e-6, True, a, b, None, None)
        # Zero-order hold over the frame skip: A^k, (A^{k-1} + ... + I) B.
        a_d = np.linalg.matrix_power(a, rocket.frame_skip)
        b_d = sum(np.linalg.matrix_power(a, i) for i in range(rocket.frame_skip)) @ b
        idx = STATE_INDICES
        self.a = a_d[np.ix_(idx, idx)]
        self.b = b_d[np.ix_(idx, [model.actuator("slider").id])]

        p = solve_dare(self.a, self.b, q, r)
        self.gain = np.linalg.solve(r + self.b.T @ p @ self.b, self.b.T @ p @ self.a)
        self.x_trim = np.zeros(len(idx))
        self.x_trim[2] = self.s_trim

    def __call__(self, obs: NDArray[np.float64]) -> NDArray[np.float32]:
        dx = np.asarray(obs, dtype=np.float64)[STATE_INDICES] - self.x_trim
        return np.clip(-self.gain @ dx, -1.0, 1.0).astype(np.float32)


class RandomPolicy:
    """Uniform random actions in [-1, 1] from its own seeded generator."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def __call__(self, obs: NDArray[np.float64]) -> NDArray[np.float32]:
        return self.rng.uniform(-1.0, 1.0, size=1).astype(np.float32)


def zero_policy(obs: NDArray[np.float64]) -> NDArray[np.float32]:
    """Never moves the slider (it still drifts under the rocket's rotation)."""
    return np.zeros(1, dtype=np.float32)


def run_episodes(
    policy: Policy, episodes: int, seed: int = 0, sigma: float = 0.05
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Returns and lengths of ``episodes`` episodes of Rocket-v0 (episode i seeded ``seed + i``)."""
    env = make_env("Rocket-v0", thrust_noise=sigma)
    results = run_seeded_episodes(env, policy, episodes, seed)
    env.close()
    return np.array([r for r, _ in results]), np.array([n for _, n in results], dtype=np.int64)


def evaluate(policy: Policy, episodes: int, seed: int = 0, sigma: float = 0.05) -> NDArray[np.float64]:
    """Episode returns of ``policy`` on Rocket-v0 with thrust noise ``sigma``."""
    return run_episodes(policy, episodes, seed, sigma)[0]
