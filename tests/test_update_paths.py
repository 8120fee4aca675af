"""The compiled update equals the eager one; the CUDA-graph path refuses to run without CUDA."""
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
    agent = DDPGAgent(5, -np.ones(2), np.ones(2), cfg, "cpu")
    buf = ReplayBuffer(1000, 5, 2, "cpu", seed=0)
    rng = np.random.default_rng(0)
    for _ in range(500):
        buf.add(rng.standard_normal(5), rng.uniform(-1, 1, 2), rng.standard_normal(), rng.standard_normal(5),
                rng.random() < 0.05)
    return cfg, agent, buf


def test_compiled_update_matches_eager_after_100_updates():
    cfg, eager_agent, eager_buf = agent_and_buffer()
    eager, name = make_update(eager_agent, eager_buf, cfg)
    assert name == "eager"
    cfg_c, comp_agent, comp_buf = agent_and_buffer(compile=True)
    compiled, name_c = make_update(comp_agent, comp_buf, cfg_c)
    assert name_c == "torch.compile"
    for _ in range(100):
        m_e, m_c = eager(), compiled()
    for k in m_e:
        torch.testing.assert_close(m_c[k], m_e[k], rtol=1e-4, atol=1e-5)
    for net in ("actor", "critic", "actor_target", "critic_target"):
        for p_e, p_c in zip(getattr(eager_agent, net).parameters(), getattr(comp_agent, net).parameters(),
                            strict=True):
            torch.testing.assert_close(p_c, p_e, rtol=1e-4, atol=1e-5)
    # and the updates really moved the weights, so the comparison is not trivially true
    _, fresh, _ = agent_and_buffer()
    moved = max((p - q).abs().max().item() for p, q in zip(eager_agent.actor.parameters(), fresh.actor.parameters()))
    assert moved > 1e-3


def test_cuda_graph_path_refuses_without_cuda():
    cfg, agent, buf = agent_and_buffer(cudagraphs=True)
    with pytest.raises(DDPGError, match="--cudagraphs needs a CUDA device, but this run is on cpu"):
        make_update(agent, buf, cfg)
    with pytest.raises(DDPGError, match="needs a CUDA device"):
        CudaGraphUpdate(agent, buf, 32)
