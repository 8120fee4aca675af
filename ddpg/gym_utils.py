"""Making environments, with one-line errors for ids and spaces DDPG cannot use."""
from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Iterator

import gymnasium as gym
import numpy as np

from ddpg.errors import DDPGError, first_line

FLOOR_HALF_SIZE = 1000.0  # metres; drawn floor for rendered locomotion envs
# MuJoCo warnings about Gymnasium's own model files, which a user cannot act on; each would add lines to
# every run's output and pad one-line errors (half_cheetah.xml sets `settotalmass`, deprecated in MuJoCo 4).
KNOWN_MUJOCO_WARNINGS = ("compiler attribute 'settotalmass' is deprecated",)


def drop_known_mujoco_warnings() -> None:
    """Route MuJoCo's warnings, for the whole process, through a filter that drops the known ones above and
    prints the rest to stderr (MuJoCo's own handler also appends them to MUJOCO_LOG.TXT; this one does not)."""
    try:
        import mujoco
    except ImportError:  # gym.make then says what is missing
        return

    def warn(message: str) -> None:
        if not message.startswith(KNOWN_MUJOCO_WARNINGS):
            print(f"WARNING: {message}", file=sys.stderr)

    mujoco.set_mju_user_warning(warn)


@contextlib.contextmanager
def warnings_held(held: list[tuple[object, ...]]) -> Iterator[None]:
    """Collect the warnings that pass the filters into `held` instead of showing them, meanwhile.

    `warnings.showwarning` is the documented hook for this. `warnings.catch_warnings` would reset the
    filters' memory, so that a warning shown "once" per process came again at each call.
    """
    shown_by = warnings.showwarning
    warnings.showwarning = lambda *args: held.append(args)
    try:
        yield
    finally:
        warnings.showwarning = shown_by


def make_env(env_id: str, render_mode: str | None = None, **kwargs: object) -> gym.Env:
    """`gym.make` that refuses unknown ids and non-continuous action spaces in one line."""
    # Gymnasium's warnings (e.g. "HalfCheetah-v3 is out of date") are shown only once the env has started,
    # so that a refused id prints one line, not a warning above it.
    held: list[tuple[object, ...]] = []
    try:
        if "mujoco" in str(gym.spec(env_id).entry_point):
            drop_known_mujoco_warnings()
        with warnings_held(held):
            env = gym.make(env_id, render_mode=render_mode, **kwargs)
            if kwargs:  # a bad value may only show at reset (e.g. a string where a number belongs)
                env.reset(seed=0)
    except (TypeError, ValueError) as e:  # a constructor argument the env does not take, or a bad value
        raise DDPGError(f"env {env_id} does not accept these arguments {kwargs}: {first_line(e)}") from None
    except gym.error.Error as e:
        raise DDPGError(f"unknown or unavailable env {env_id!r} ({first_line(e)}); pass an id from gymnasium's "
                        f"registry, e.g. HalfCheetah-v5, Pendulum-v1 or Rocket-v0") from None
    except RuntimeError as e:  # e.g. `import mujoco` refusing an unusable MUJOCO_GL value
        raise DDPGError(f"could not make env {env_id}: {first_line(e)}") from None
    except ImportError as e:  # a registered id whose package is not installed (HalfCheetah-v3 needs mujoco-py)
        raise DDPGError(f"env {env_id} cannot start here: {first_line(e)}") from None
    except Exception as e:  # e.g. frame_skip=0 (ZeroDivisionError), a missing xml_file (OSError)
        if not kwargs:
            for args in held:  # they may explain the traceback
                warnings.showwarning(*args)
            raise
        raise DDPGError(f"env {env_id} failed to start with these arguments {kwargs}: {type(e).__name__}: "
                        f"{first_line(e)}") from None
    for args in held:
        warnings.showwarning(*args)
    if not isinstance(env.action_space, gym.spaces.Box):
        kind = type(env.action_space).__name__
        env.close()
        raise DDPGError(f"env {env_id} has a {kind} action space; DDPG needs a continuous (Box) action space")
    if not (np.all(np.isfinite(env.action_space.low)) and np.all(np.isfinite(env.action_space.high))):
        env.close()
        raise DDPGError(f"env {env_id} has unbounded actions; DDPG scales tanh outputs to finite bounds")
    if not isinstance(env.observation_space, gym.spaces.Box) or len(env.observation_space.shape) != 1:
        env.close()
        raise DDPGError(f"env {env_id} has observations {env.observation_space}; supported: a flat (1-D) Box "
                        f"of numbers, as MuJoCo, Box2D and classic-control envs have (images and Dict "
                        f"observations need another network)")
    if render_mode is not None:
        check_camera(env, env_id, kwargs)
        follow_agent(env)
    return env


def check_camera(env: gym.Env, env_id: str, kwargs: dict[str, object]) -> None:
    """Refuse a MuJoCo camera the model lacks: an unknown camera_id makes MuJoCo print an error and exit at
    the first frame, an unknown camera_name quietly falls back to the free camera."""
    renderer = getattr(env.unwrapped, "mujoco_renderer", None)
    if renderer is None:
        return
    cam, ncam = renderer.camera_id, env.unwrapped.model.ncam
    if "camera_name" in kwargs and cam == -1:
        asked = f"named {kwargs['camera_name']!r}"
    elif not isinstance(cam, int) or not -1 <= cam < ncam:
        asked = f"with camera_id={cam!r}"
    else:
        return
    env.close()
    fixed = "0" if ncam == 1 else f"0 to {ncam - 1}"
    has = f"camera_id {fixed}, and -1 for the free camera" if ncam else "only the free camera, camera_id=-1"
    raise DDPGError(f"env {env_id} has no camera {asked}; it has {has}")


def follow_agent(env: gym.Env) -> None:
    """Make a MuJoCo env's camera track the agent's root body, in windows and in videos.

    Gymnasium's v5 renderer uses a free camera, which ignores `trackbodyid`, so a running agent
    (HalfCheetah, Ant, Swimmer, ...) leaves the picture within a second. An agent counts as mobile
    when its root body has an unlimited free or slide joint; fixed-base envs keep their view.
    """
    renderer = getattr(env.unwrapped, "mujoco_renderer", None)
    if renderer is None or renderer.camera_id not in (None, -1):  # not MuJoCo, or a model camera was chosen
        return
    import mujoco

    model = env.unwrapped.model
    config = dict(renderer.default_cam_config or {})
    body = config.get("trackbodyid", 1)
    body = body if body >= 1 else 1
    root = 1 if model.nbody > 1 else 0
    joints = [j for j in range(model.njnt) if model.jnt_bodyid[j] == root]
    moving = (int(mujoco.mjtJoint.mjJNT_FREE), int(mujoco.mjtJoint.mjJNT_SLIDE))
    mobile = any(int(model.jnt_type[j]) in moving and not model.jnt_limited[j] for j in joints)
    if mobile:
        renderer.default_cam_config = {**config, "type": mujoco.mjtCamera.mjCAMERA_TRACKING, "trackbodyid": body}
        renderer.camera_id = None  # -1 would reset the camera to FREE before every offscreen frame
        # A plane collides everywhere but is drawn only within its size: widen the drawn floor too,
        # so a fast agent does not run off it into the void (HalfCheetah covers ~80 m an episode).
        for g in np.flatnonzero(model.geom_type == int(mujoco.mjtGeom.mjGEOM_PLANE)):
            old = model.geom_size[g, :2].copy()
            if np.all(old > 0) and np.all(old < FLOOR_HALF_SIZE):
                model.geom_size[g, :2] = FLOOR_HALF_SIZE
                mat = model.geom_matid[g]
                if mat >= 0 and not model.mat_texuniform[mat]:  # keep the checker squares their size
                    model.mat_texrepeat[mat] *= FLOOR_HALF_SIZE / old
