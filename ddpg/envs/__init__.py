"""Custom Gymnasium environments; importing this package registers them."""

import gymnasium

if "Rocket-v0" not in gymnasium.registry:
    gymnasium.register(
        id="Rocket-v0",
        entry_point="ddpg.envs.rocket:RocketEnv",
        max_episode_steps=1000,
    )
