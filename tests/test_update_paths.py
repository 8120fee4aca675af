"""Every update path computes the autograd update; the CUDA-graph path refuses to run without CUDA."""
import numpy as np
import pytest
import torch

from ddpg.agent import DDPGAgent
from ddpg.buffer import ReplayBuffer
from ddpg.config import make_config
from ddpg.errors import DDPGError
from ddpg.update_paths import CudaGraphUpdate, make_update


def agent_and_buffer(**kw):
    cfg = make_config({"hidden_sizes": (64, 64), "batch_size": 32, **kw})
    torch.manual_seed(0)
    agent = DDPGAgent(5, np.array([-1.0, 0.0]), np.array([1.0, 3.0]), cfg, "cpu")
    buf = ReplayBuffer(1000, 5, 2, "cpu", seed=0)
    rng = np.random.default_rng(0)
    for _ in range(500):
        buf.add(rng.standard_normal(5), rng.uniform([-1, 0], [1, 3]), rng.standard_normal(), rng.standard_normal(5),
                rng.random() < 0.05)
    return cfg, agent, buf


def assert_same_training(path_kw: dict, ref_kw: dict, n_updates: int, expected_name: str, **kw) -> None:
    """`n_updates` of each path from the same start give the same metrics and all four networks."""
    cfg_r, ref_agent, ref_buf = agent_and_buffer(**ref_kw, **kw)
    ref, name_r = make_update(ref_agent, ref_buf, cfg_r)
    assert name_r == "eager autograd"
    cfg_p, agent, buf = agent_and_buffer(**path_kw, **kw)
    update, name = make_update(agent, buf, cfg_p)
    assert name == expected_name
    for _ in range(n_updates):
        m_r, m_p = ref(), update()
    for k in m_r:
        torch.testing.assert_close(m_p[k], m_r[k], rtol=1e-4, atol=1e-5)
    for net in ("actor", "critic", "actor_target", "critic_target"):
        for p_r, p_p in zip(getattr(ref_agent, net).parameters(), getattr(agent, net).parameters(), strict=True):
            torch.testing.assert_close(p_p, p_r, rtol=1e-4, atol=1e-5)
    # and the updates really moved the weights, so the comparison is not trivially true
    _, fresh, _ = agent_and_buffer(**kw)
    for net in ("actor", "critic"):
        moved = max((p - q).abs().max().item()
                    for p, q in zip(getattr(agent, net).parameters(), getattr(fresh, net).parameters()))
        assert moved > 1e-3, net


def test_compiled_update_matches_eager_after_100_updates():
    assert_same_training({"compile": True}, {"backward": "autograd"}, 100, "torch.compile")


@pytest.mark.parametrize("kw", [
    {},  # the tuned preset's shape: the action enters the critic's first layer
    {"hidden_sizes": (48, 40, 32), "critic_action_layer": 1, "critic_weight_decay": 1e-2, "gamma": 0.9},
    {"hidden_sizes": (32,), "critic_action_layer": 0, "tau": 1.0},
])
def test_hand_written_backward_matches_autograd_after_200_updates(kw):
    assert_same_training({"backward": "manual"}, {"backward": "autograd"}, 200, "hand-written backward", **kw)


def test_hand_written_backward_is_the_cpu_default_but_not_with_compile():
    cfg, agent, buf = agent_and_buffer()
    assert make_update(agent, buf, cfg)[1] == "hand-written backward"
    cfg, agent, buf = agent_and_buffer(compile=True)
    assert make_update(agent, buf, cfg)[1] == "torch.compile"
    with pytest.raises(DDPGError, match="drop --backward manual"):
        agent_and_buffer(compile=True, backward="manual")


def test_cuda_graph_path_refuses_without_cuda():
    cfg, agent, buf = agent_and_buffer(cudagraphs=True)
    with pytest.raises(DDPGError, match="--cudagraphs needs a CUDA device, but this run is on cpu"):
        make_update(agent, buf, cfg)
    with pytest.raises(DDPGError, match="needs a CUDA device"):
        CudaGraphUpdate(agent, buf, 32)
