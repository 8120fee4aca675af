"""Rocket-v0: balance a rocket with an off-centre mass by moving a slider mass.

The model is planar (world x horizontal, z up, pitch about the world y-axis)
because the movable mass slides in one plane, so that plane is where the
dynamics are: nothing can push the rocket out of it.

Physics (see ``assets/rocket.xml``; SI units throughout)
  * hull 8 kg (2 m long), payload 1 kg fixed 0.15 m off the axis, slider 1 kg
    on a rail perpendicular to the axis (joint range +-0.4 m); 10 kg in total.
  * The main engine pushes along the rocket axis at its base with thrust
    ``T = m_total * g * (1 + thrust_noise * eps)``, ``eps ~ N(0, 1)`` drawn each
    control step from ``self.np_random`` (so ``reset(seed=...)`` seeds it).
    Since the payload puts the centre of mass (CoM) off the thrust line, thrust
    makes a pitching torque; with the slider centred an uncontrolled rocket tips
    over in about 1.3 s (~67 steps). The slider balances it at ``x_s = -0.15 m``.
    Noise torque is (thrust error) x (CoM offset), so it is small once balanced.
  * There is no throttle: altitude random-walks with the thrust noise, and
    horizontal position is controlled only by tilting the thrust.
  * The rocket starts upright at 60 m altitude, slider centred, every qpos/qvel
    entry perturbed by U(-reset_noise_scale, reset_noise_scale) (0.01).
    Contacts are disabled (nothing to hit); the slider joint limits are active.

Action (1-D, [-1, 1]): commanded acceleration of the slider relative to the
hull, in units of ``max_slider_accel`` (default 2 m/s^2). It is applied as a motor force
``action * m_eff * max_slider_accel`` where ``m_eff`` is the slider's effective
(reduced) mass against the rest of the rocket, so that ``action = 1`` accelerates
the slider at ``max_slider_accel`` relative to the hull (before joint limits).

Observation (float64, 8 entries); positions are of the rocket's pivot point
(on the axis 1 m above the base, near the CoM) relative to the start:
  0 x      horizontal position (m)
  1 z      altitude / ``Z_OBS_DIVISOR`` (units of 10 m; it random-walks)
  2 pitch  tilt from vertical (rad), positive = nose towards +x
  3 slider slider position along the hull's lateral axis (m), limits +-0.4
  4 vx     horizontal velocity (m/s)
  5 vz     vertical velocity (m/s)
  6 rate   pitch rate (rad/s)
  7 vs     slider velocity relative to the hull (m/s)

Reward per step (at most 1, never below 0)::

    r = max(0, 1 - (w_pitch*pitch^2 + w_x*x^2 + w_rate*rate^2 + w_ctrl*action^2))

with defaults w_pitch=1, w_x=0.02, w_rate=0.1, w_ctrl=0.01 (all costs are
even functions). An episode that survives the 1000-step horizon with small
errors therefore scores close to 1000.

Termination: ``|pitch| > pitch_limit`` (0.5 rad), ``|x| > x_limit`` (5 m),
``|z| > z_limit`` (50 m, loose: altitude is not controllable) or a non-finite
state. Truncation: 1000 steps (``max_episode_steps`` at registration).

Control step dt = 4 x 0.005 s = 0.02 s (50 Hz). ``info`` holds the applied
``thrust`` (N), ``x``, ``z`` (m), ``pitch`` and the four ``cost_*`` terms.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mujoco
import numpy as np
from gymnasium import spaces, utils
from gymnasium.envs.mujoco import MujocoEnv
from numpy.typing import NDArray

MODEL_PATH = Path(__file__).resolve().parent / "assets" / "rocket.xml"
"""MJCF model shipped with the package."""

FRAME_SKIP = 4
"""Physics steps (0.005 s each) per control step: dt = 0.02 s."""

Z_OBS_DIVISOR = 10.0
"""Altitude is reported in units of 10 m so the observation stays O(1)."""

DEFAULT_CAMERA_CONFIG: dict[str, Any] = {
    # used by "human" rendering (free viewer camera tracking the rocket);
    # "rgb_array" uses the MJCF's "track" camera, which follows the CoM.
    "type": mujoco.mjtCamera.mjCAMERA_TRACKING,
    "trackbodyid": 1,
    "distance": 6.0,
    "azimuth": 90.0,
    "elevation": 0.0,
}


class RocketEnv(MujocoEnv, utils.EzPickle):
    """Planar rocket balanced on noisy thrust by a sliding mass (see module docstring)."""

    metadata = {
        "render_modes": ["human", "rgb_array", "depth_array"],
        "render_fps": 50,  # = round(1 / dt), checked by MujocoEnv
    }

    def __init__(
        self,
        thrust_noise: float = 0.05,
        max_slider_accel: float = 2.0,
        pitch_limit: float = 0.5,
        x_limit: float = 5.0,
        z_limit: float = 50.0,
        pitch_cost_weight: float = 1.0,
        x_cost_weight: float = 0.02,
        rate_cost_weight: float = 0.1,
        ctrl_cost_weight: float = 0.01,
        reset_noise_scale: float = 0.01,
        render_mode: str | None = None,
        width: int = 640,
        height: int = 480,
        **kwargs: Any,
    ) -> None:
        utils.EzPickle.__init__(
            self, thrust_noise, max_slider_accel, pitch_limit, x_limit, z_limit,
            pitch_cost_weight, x_cost_weight, rate_cost_weight, ctrl_cost_weight,
            reset_noise_scale, render_mode, width, height, **kwargs,
        )
        numbers = dict(thrust_noise=thrust_noise, max_slider_accel=max_slider_accel, pitch_limit=pitch_limit,
                       x_limit=x_limit, z_limit=z_limit, pitch_cost_weight=pitch_cost_weight,
                       x_cost_weight=x_cost_weight, rate_cost_weight=rate_cost_weight,
                       ctrl_cost_weight=ctrl_cost_weight, reset_noise_scale=reset_noise_scale)
        for name, value in numbers.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
        self.thrust_noise = thrust_noise
        self.max_slider_accel = max_slider_accel
        self.pitch_limit = pitch_limit
        self.x_limit = x_limit
        self.z_limit = z_limit
        self.pitch_cost_weight = pitch_cost_weight
        self.x_cost_weight = x_cost_weight
        self.rate_cost_weight = rate_cost_weight
        self.ctrl_cost_weight = ctrl_cost_weight
        self.reset_noise_scale = reset_noise_scale

        observation_space = spaces.Box(-np.inf, np.inf, shape=(8,), dtype=np.float64)
        MujocoEnv.__init__(
            self,
            str(MODEL_PATH),
            FRAME_SKIP,
            observation_space=observation_space,
            render_mode=render_mode,
            width=width,
            height=height,
            camera_name="track",
            default_camera_config=DEFAULT_CAMERA_CONFIG,
            **kwargs,
        )
        self._thrust_id = self.model.actuator("thrust").id
        self._slider_act_id = self.model.actuator("slider").id
        self._slider_dof = self.model.joint("slider").dofadr[0]

        self.total_mass = float(mujoco.mj_getTotalmass(self.model))
        # thrust that exactly cancels gravity (N)
        self.hover_thrust = self.total_mass * float(-self.model.opt.gravity[2])
        self.slider_effective_mass = self._effective_slider_mass()
        self.model.actuator_gear[self._slider_act_id, 0] = (
            self.slider_effective_mass * max_slider_accel
        )
        self.last_thrust = self.hover_thrust

    # -- spaces -------------------------------------------------------------
    def _set_action_space(self) -> spaces.Box:
        # Only the slider is the agent's; the thrust actuator is driven by the env.
        low, high = self.model.actuator_ctrlrange[self.model.actuator("slider").id]
        self.action_space = spaces.Box(low=low, high=high, shape=(1,), dtype=np.float32)
        return self.action_space

    def _effective_slider_mass(self) -> float:
        """1 / (M^-1)_ss: force per unit slider acceleration relative to the hull.

        It is the slider mass reduced by the recoil of the rest of the rocket
        (translation and rotation). It does not depend on pitch and varies by
        < 0.1 % over the slider range, so it is computed once at the start pose.
        """
        mujoco.mj_forward(self.model, self.data)
        unit = np.zeros(self.model.nv)
        unit[self._slider_dof] = 1.0
        minv_col = np.zeros(self.model.nv)
        mujoco.mj_solveM(self.model, self.data, minv_col.reshape(1, -1), unit.reshape(1, -1))
        return 1.0 / float(minv_col[self._slider_dof])

    # -- gym API -----------------------------------------------------------
    def step(
        self, action: NDArray[np.float32]
    ) -> tuple[NDArray[np.float64], float, bool, bool, dict[str, Any]]:
        u = float(np.clip(np.asarray(action, dtype=np.float64).reshape(-1)[0], -1.0, 1.0))
        eps = self.np_random.standard_normal()
        thrust = max(0.0, self.hover_thrust * (1.0 + self.thrust_noise * eps))
        self.last_thrust = thrust

        ctrl = np.zeros(self.model.nu)
        ctrl[self._thrust_id] = thrust
        ctrl[self._slider_act_id] = u
        self.do_simulation(ctrl, self.frame_skip)

        obs = self._get_obs()
        x, z, pitch = self.data.qpos[:3]
        reward, costs = self.reward(x, pitch, self.data.qvel[2], u)

        terminated = bool(
            not np.all(np.isfinite(self.state_vector()))
            or abs(pitch) > self.pitch_limit
            or abs(x) > self.x_limit
            or abs(z) > self.z_limit
        )
        info = {"thrust": thrust, "x": float(x), "z": float(z), "pitch": float(pitch), **costs}
        if self.render_mode == "human":
            self.render()
        return obs, reward, terminated, False, info

    def reward(self, x: float, pitch: float, rate: float, u: float) -> tuple[float, dict[str, float]]:
        """Per-step reward in [0, 1] and its cost terms; every cost is an even function."""
        costs = {
            "cost_pitch": float(self.pitch_cost_weight * pitch**2),
            "cost_x": float(self.x_cost_weight * x**2),
            "cost_rate": float(self.rate_cost_weight * rate**2),
            "cost_ctrl": float(self.ctrl_cost_weight * u**2),
        }
        return max(0.0, 1.0 - sum(costs.values())), costs

    def reset_model(self) -> NDArray[np.float64]:
        # Fresh from init_qpos/init_qvel every time: nothing accumulates over resets.
        n = self.reset_noise_scale
        qpos = self.init_qpos + self.np_random.uniform(-n, n, size=self.model.nq)
        qvel = self.init_qvel + self.np_random.uniform(-n, n, size=self.model.nv)
        self.set_state(qpos, qvel)
        self.last_thrust = self.hover_thrust
        return self._get_obs()

    def _get_reset_info(self) -> dict[str, Any]:
        return {"thrust": self.last_thrust}

    def _get_obs(self) -> NDArray[np.float64]:
        obs = np.concatenate([self.data.qpos, self.data.qvel]).astype(np.float64)
        obs[1] /= Z_OBS_DIVISOR
        return obs
