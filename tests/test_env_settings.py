"""ddpg/env_settings.toml: per-env defaults that flags override, checked against Config."""
import gymnasium as gym
import numpy as np
import pytest

from ddpg.config import ENV_SETTINGS_FILE, NOT_PER_ENV, PRESETS, env_settings, make_config
from ddpg.errors import DDPGError
from ddpg.gym_utils import make_env


def test_per_env_settings_apply_and_flags_win():
    rocket = make_config({"env": "Rocket-v0"})
    assert (rocket.gamma, rocket.noise_sigma, rocket.actor_lr) == (0.995, 0.05, 1e-4)
    assert make_config({"env": "Rocket-v0", "gamma": 0.9, "actor_lr": 3e-4}).gamma == 0.9
    cheetah = make_config({"env": "HalfCheetah-v5"})
    assert (cheetah.gamma, cheetah.noise_sigma) == (0.99, 0.1)  # no entry: the preset's values
    paper = make_config({"env": "Rocket-v0", "preset": "paper"})
    assert (paper.gamma, paper.noise_sigma) == (0.99, 0.2)  # the tuned entry does not leak into the paper preset


def test_the_100k_preset_layers_like_the_others(tmp_path):
    cheetah = make_config({"preset": "100k"})
    assert (cheetah.env, cheetah.total_steps) == ("HalfCheetah-v5", 100_000)
    assert all(getattr(cheetah, k) == v for k, v in PRESETS["100k"].items())
    assert (cheetah.hidden_sizes, cheetah.gamma, cheetah.learning_starts) == ((256, 256), 0.99, 10_000)  # tuned
    assert make_config({"preset": "100k", "updates_per_step": 1}).updates_per_step == 1  # a flag wins
    rocket = make_config({"preset": "100k", "env": "Rocket-v0"})
    assert (rocket.gamma, rocket.total_steps) == (0.99, 100_000)  # the tuned entry stays with the tuned preset
    path = tmp_path / "settings.toml"
    path.write_text('[100k."Pendulum-v1"]\nnoise_sigma = 0.3\n')
    assert env_settings("100k", "Pendulum-v1", path) == {"noise_sigma": 0.3}  # its own tables are allowed
    assert env_settings("tuned", "Pendulum-v1", path) == {}


def test_every_shipped_entry_builds_a_valid_config():
    import tomllib

    table = tomllib.loads(ENV_SETTINGS_FILE.read_text())
    assert set(table) <= set(PRESETS)
    for preset, envs in table.items():
        for env_id, entry in envs.items():
            cfg = make_config({"env": env_id, "preset": preset})
            assert all(getattr(cfg, k) == (tuple(v) if isinstance(v, list) else v) for k, v in entry.items())


@pytest.mark.parametrize("text, needle", [
    ('[tuned."Pendulum-v1"]\nlearning_start = 1000\n', "'learning_start', which is not a per-env setting"),
    ('[tuned."Pendulum-v1"]\nseed = 3\n', "'seed', which is not a per-env setting"),
    ('[tuned."Pendulum-v1"]\ngamma = "0.9"\n', "gamma = '0.9', which is not of type float"),
    ('[tuned."Pendulum-v1"]\nbatch_size = 64.0\n', "which is not of type int"),
    ('[tuned."Pendulum-v1"]\ngamma = true\n', "which is not of type float"),
    ('[tuned."Pendulum-v1"\n', "cannot read"),
    # Misspelt headers, which would otherwise be skipped in silence.
    ('[tunned."Pendulum-v1"]\ngamma = 0.9\n', "'tunned' is not a preset table"),
    ('[tuned."Pendulumm-v1"]\ngamma = 0.9\n', "[tuned.\"Pendulumm-v1\"] names no registered Gymnasium env"),
    ('gamma = 0.9\n', "'gamma' is not a preset table"),
    ('[tuned]\n"Pendulum-v1" = 3\n', "tuned.Pendulum-v1 = 3 is not an env table"),
])
def test_a_typo_in_the_file_is_a_one_line_error(tmp_path, text, needle):
    path = tmp_path / "settings.toml"
    path.write_text(text)
    with pytest.raises(DDPGError) as e:
        env_settings("tuned", "Pendulum-v1", path)
    assert needle in str(e.value) and "\n" not in str(e.value)
    assert "seed" in NOT_PER_ENV


class DictObservationEnv(gym.Env):
    observation_space = gym.spaces.Dict({"a": gym.spaces.Box(-1, 1, (2,))})
    action_space = gym.spaces.Box(-1, 1, (1,), dtype=np.float32)

    def __init__(self, render_mode=None):
        self.render_mode = render_mode


class ImageObservationEnv(DictObservationEnv):
    observation_space = gym.spaces.Box(0, 255, (8, 8, 3), dtype=np.uint8)


def test_car_racing_images_are_refused_with_what_is_supported():
    pytest.importorskip("Box2D")
    with pytest.raises(DDPGError, match=r"CarRacing-v3 has observations Box\(0, 255, \(96, 96, 3\).*supported"):
        make_env("CarRacing-v3")


def test_a_registered_env_whose_package_is_missing_is_one_line():
    # as HalfCheetah-v3 (mujoco-py) and phys2d/Pendulum-v0 (jax) are, in gymnasium's own registry
    gym.register("TestMissingPackage-v0", entry_point="ddpg_no_such_package.envs:Env")
    try:
        with pytest.raises(DDPGError, match=r"^env TestMissingPackage-v0 cannot start here: "
                                            r"No module named 'ddpg_no_such_package'$"):
            make_env("TestMissingPackage-v0")
    finally:
        del gym.registry["TestMissingPackage-v0"]


@pytest.mark.parametrize("cls", [DictObservationEnv, ImageObservationEnv])
def test_non_flat_observations_are_refused(cls):
    env_id = f"Test{cls.__name__}-v0"
    gym.register(env_id, entry_point=cls)
    try:
        with pytest.raises(DDPGError, match=r"supported: a flat \(1-D\) Box"):
            make_env(env_id)
    finally:
        gym.registry.pop(env_id)
