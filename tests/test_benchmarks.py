"""The benchmark scripts' own arithmetic: the update's FLOP count and the per-part clocks of a learning step."""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import step_parts  # noqa: E402
import train  # noqa: E402
from ddpg.agent import DDPGAgent  # noqa: E402
from ddpg.config import make_config  # noqa: E402
from update_breakdown import update_flops  # noqa: E402


def test_update_flops_counts_each_product_of_the_update_once():
    B, n_obs, n_act = 32, 5, 2
    # 1 hidden layer of 8, the action joining the critic's first layer: written out product by product
    agent = DDPGAgent(n_obs, -np.ones(n_act), np.ones(n_act), make_config({"hidden_sizes": (8,)}), "cpu")
    mm = lambda i, o: 2 * B * i * o  # noqa: E731
    actor = mm(n_obs, 8) + mm(8, n_act)
    critic = mm(n_obs + n_act, 8) + mm(8, 1)
    target = actor + critic
    critic_step = critic + mm(n_obs + n_act, 8) + mm(8, 1) + mm(8, 1)            # forward, ∂W both, ∂x into layer 0
    actor_step = actor + critic + mm(8, 1) + mm(8, n_act) + actor + mm(8, n_act)  # μ, Q, ∂x, ∂a, ∂W both, ∂x
    assert update_flops(agent, B) == target + critic_step + actor_step
    # the action joining the 2nd of 3 critic layers: the actor step's chain stops at that layer
    cfg = make_config({"hidden_sizes": (8, 4), "critic_action_layer": 1})
    agent = DDPGAgent(n_obs, -np.ones(n_act), np.ones(n_act), cfg, "cpu")
    actor = mm(n_obs, 8) + mm(8, 4) + mm(4, n_act)
    critic = mm(n_obs, 8) + mm(8 + n_act, 4) + mm(4, 1)
    critic_step = 2 * critic + mm(8 + n_act, 4) + mm(4, 1)
    actor_step = actor + critic + mm(4, 1) + mm(4, n_act) + 2 * actor - mm(n_obs, 8)
    assert update_flops(agent, B) == actor + critic + critic_step + actor_step


def test_step_parts_time_exactly_the_window_and_add_up(tmp_path, monkeypatch):
    for name in ("make_env", "make_noise", "make_update", "DDPGAgent", "ReplayBuffer"):
        monkeypatch.setattr(train, name, getattr(train, name))  # install() rebinds them; undo after the test
    parts = step_parts.install(train, warmup=50, steps=120)
    cfg = make_config({"env": "Pendulum-v1", "total_steps": 300, "learning_starts": 64, "batch_size": 32,
                       "hidden_sizes": (16,), "eval_interval": 10_000, "models_dir": str(tmp_path / "m"),
                       "runs_dir": str(tmp_path / "r")})
    train.train(cfg, quiet=True)
    assert parts.calls == dict.fromkeys(step_parts.PARTS, 120)  # every part once in each of the 120 steps
    us = parts.per_step()
    assert all(us[k] > 0 for k in step_parts.PARTS) and us["rest of the loop"] > 0
    assert abs(sum(v for k, v in us.items() if k != "whole step") - us["whole step"]) < 1e-6
