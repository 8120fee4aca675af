"""Tests for the Rocket-v0 environment and its LQR reference controller (CPU, fast)."""

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering; before mujoco rendering loads

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import ddpg.envs  # noqa: F401  (registers Rocket-v0)
from ddpg.envs.reference import LQRController, RandomPolicy, evaluate, slider_trim
from ddpg.envs.rocket import RocketEnv


def rollout(seed: int, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    env = gymnasium.make("Rocket-v0")
    obs, _ = env.reset(seed=seed)
    observations, rewards, thrusts = [obs], [], []
    for a in actions:
        obs, reward, terminated, truncated, info = env.step(a)
        observations.append(obs)
        rewards.append(reward)
        thrusts.append(info["thrust"])
        if terminated or truncated:
            break
    env.close()
    return np.array(observations), np.array(rewards), np.array(thrusts)


def test_registered_and_reimport_is_harmless() -> None:
    import importlib

    importlib.reload(ddpg.envs)  # second registration attempt must not raise
    spec = gymnasium.spec("Rocket-v0")
    assert spec.max_episode_steps == 1000


def test_seeding_determines_trajectory_and_thrust_noise() -> None:
    actions = np.random.default_rng(0).uniform(-1, 1, size=(50, 1)).astype(np.float32)
    np.random.seed(1)  # the global RNG must play no part
    obs_a, rew_a, thrust_a = rollout(123, actions)
    np.random.seed(2)
    obs_b, rew_b, thrust_b = rollout(123, actions)
    obs_c, _, thrust_c = rollout(124, actions)

    np.testing.assert_array_equal(obs_a, obs_b)
    np.testing.assert_array_equal(rew_a, rew_b)
    np.testing.assert_array_equal(thrust_a, thrust_b)
    n = min(len(thrust_a), len(thrust_c))
    assert n >= 10
    assert not np.allclose(thrust_a[:n], thrust_c[:n])
    # thrust = hover * (1 + 0.05 eps): mean ~ hover, relative std ~ 0.05
    hover = 10.0 * 9.81
    assert abs(thrust_a.mean() / hover - 1.0) < 0.03
    assert 0.03 < thrust_a.std() / hover < 0.07


def test_reset_is_fresh_every_time() -> None:
    env = RocketEnv()
    first, _ = env.reset(seed=7)
    for _ in range(100):  # move far from the start, then reset again
        env.step(np.ones(1, dtype=np.float32))
    again, _ = env.reset(seed=7)
    np.testing.assert_array_equal(first, again)
    for _ in range(20):  # unseeded resets stay within the reset noise of init
        obs, _ = env.reset()
        assert np.max(np.abs(obs)) <= env.reset_noise_scale + 1e-12


def test_zero_action_tips_over_and_terminates() -> None:
    env = gymnasium.make("Rocket-v0")
    env.reset(seed=0)
    for step in range(1, 1001):
        obs, _, terminated, truncated, info = env.step(np.zeros(1, dtype=np.float32))
        if terminated or truncated:
            break
    assert terminated and not truncated
    assert step < 200  # well within the 1000-step horizon
    assert abs(info["pitch"]) > 0.5


def test_positive_action_accelerates_slider_at_commanded_rate() -> None:
    action, steps = 0.5, 5

    def slider_velocity_change(a: float) -> float:
        env = RocketEnv()
        obs0, _ = env.reset(seed=0)
        for _ in range(steps):
            obs, *_ = env.step(np.array([a], dtype=np.float32))
        assert abs(obs[3]) < 0.4  # stayed off the joint limits
        return obs[7] - obs0[7]

    env = RocketEnv()
    expected = env.max_slider_accel * action * steps * env.dt
    dv = slider_velocity_change(action)
    assert dv > 0
    assert dv == pytest.approx(expected, rel=0.2)
    # Minus the zero-action drift (the tipping hull drags the slider), the
    # commanded part matches almost exactly.
    assert dv - slider_velocity_change(0.0) == pytest.approx(expected, rel=0.02)


def test_rewards_bounded_and_costs_even() -> None:
    env = RocketEnv()
    for x, pitch, rate, u in [(0.3, 0.2, -0.5, 0.7), (2.0, -0.4, 1.0, -1.0), (0.0, 0.0, 0.0, 0.0)]:
        r, _ = env.reward(x, pitch, rate, u)
        r_mirror, _ = env.reward(-x, -pitch, -rate, -u)
        assert r == r_mirror
        assert 0.0 <= r <= 1.0
    assert env.reward(0.0, 0.0, 0.0, 0.0)[0] == 1.0


def test_check_env_passes() -> None:
    check_env(RocketEnv())
    env = gymnasium.make("Rocket-v0")
    check_env(env.unwrapped, skip_render_check=True)  # "human" needs a display
    env.close()


def test_rgb_array_frame_is_not_blank() -> None:
    env = RocketEnv(render_mode="rgb_array", width=320, height=240)
    env.reset(seed=0)
    env.step(np.zeros(1, dtype=np.float32))
    frame = env.render()
    env.close()
    assert frame.shape == (240, 320, 3) and frame.dtype == np.uint8
    assert frame.std() > 10.0
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 50
    # the green slider mass is in view
    r, g, b = (frame[..., i].astype(int) for i in range(3))
    assert np.sum((g > r + 40) & (g > b + 40)) > 20


def test_lqr_gain_stabilises_linear_model() -> None:
    env = RocketEnv()
    assert slider_trim(env) == pytest.approx(-0.15, abs=1e-6)
    ctrl = LQRController(env)
    closed_loop = ctrl.a - ctrl.b @ ctrl.gain
    assert np.max(np.abs(np.linalg.eigvals(closed_loop))) < 1.0


def test_reference_beats_random_by_wide_margin() -> None:
    lqr = evaluate(LQRController(RocketEnv()), episodes=3, seed=0, sigma=0.05)
    random = evaluate(RandomPolicy(0), episodes=3, seed=0, sigma=0.05)
    assert lqr.min() > 970.0
    assert random.max() < 300.0
    assert lqr.mean() > 5 * random.mean()
