import copy

import numpy as np
import pytest
import torch

from ddpg.agent import DDPGAgent, soft_update
from ddpg.buffer import Batch
from ddpg.config import Config, make_config
from ddpg.networks import Actor, Critic, ObsNorm


def small_agent(**kw):
    cfg = Config(hidden_sizes=(16, 16), **kw)
    torch.manual_seed(0)
    return DDPGAgent(3, np.array([-2.0, 0.0]), np.array([2.0, 1.0]), cfg)


def perturbed_pair():
    torch.manual_seed(1)
    src = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Linear(5, 2))
    tgt = copy.deepcopy(src)
    with torch.no_grad():
        for p in tgt.parameters():
            p.add_(torch.randn_like(p))
    return src, tgt


def test_soft_update_tau_zero_leaves_target():
    src, tgt = perturbed_pair()
    before = [p.clone() for p in tgt.parameters()]
    soft_update(list(src.parameters()), list(tgt.parameters()), 0.0)
    for p, b in zip(tgt.parameters(), before, strict=True):
        assert torch.equal(p, b)


def test_soft_update_tau_one_copies_source():
    src, tgt = perturbed_pair()
    soft_update(list(src.parameters()), list(tgt.parameters()), 1.0)
    for p, s in zip(tgt.parameters(), src.parameters(), strict=True):
        assert torch.equal(p, s)


def test_soft_update_matches_formula():
    src, tgt = perturbed_pair()
    expected = [0.3 * s + 0.7 * t for s, t in zip(src.parameters(), tgt.parameters(), strict=True)]
    soft_update(list(src.parameters()), list(tgt.parameters()), 0.3)
    for p, e in zip(tgt.parameters(), expected, strict=True):
        torch.testing.assert_close(p, e, rtol=1e-6, atol=1e-7)


def test_target_bootstraps_on_truncation_but_not_on_termination():
    """Two identical transitions except `terminated`: y differs by exactly γ·Q'(s', μ'(s'))."""
    agent = small_agent(gamma=0.9, actor_lr=1e-12, critic_lr=1e-12)
    obs = torch.randn(1, 3).repeat(2, 1)
    nxt = torch.randn(1, 3).repeat(2, 1)
    act = torch.tensor([[0.5, 0.5], [0.5, 0.5]])
    rew = torch.tensor([1.0, 1.0])
    with torch.no_grad():
        q_next = agent.critic_target(nxt[:1], agent.actor_target(nxt[:1])).item()
    captured = {}
    orig = torch.nn.functional.mse_loss

    def spy(q, y):
        captured["y"] = y.clone()
        return orig(q, y)

    torch.nn.functional.mse_loss = spy
    try:
        # row 0: truncated by the time limit (terminated = 0); row 1: a real terminal (terminated = 1)
        agent.update(Batch(obs, act, rew, nxt, torch.tensor([0.0, 1.0])))
    finally:
        torch.nn.functional.mse_loss = orig
    y = captured["y"]
    assert y[1].item() == pytest.approx(1.0)
    assert y[0].item() == pytest.approx(1.0 + 0.9 * q_next, abs=1e-6)
    assert abs(q_next) > 1e-4  # otherwise the test could not tell the two cases apart


def test_update_changes_weights_and_returns_finite_metrics():
    agent = small_agent()
    before = [p.clone() for p in agent.actor.parameters()]
    tgt_before = [p.clone() for p in agent.critic_target.parameters()]
    b = Batch(torch.randn(8, 3), torch.rand(8, 2), torch.randn(8), torch.randn(8, 3), torch.zeros(8))
    m = agent.update(b)
    assert set(m) == {"critic_loss", "actor_loss", "q"}
    assert all(torch.isfinite(v) and v.dim() == 0 for v in m.values())
    assert any(not torch.equal(p, q) for p, q in zip(agent.actor.parameters(), before))
    assert any(not torch.equal(p, q) for p, q in zip(agent.critic_target.parameters(), tgt_before))


@pytest.mark.parametrize("reward_scale", [1.0, 0.01])
def test_actor_step_leaves_critic_gradients_alone(reward_scale):
    # After an update the critic's .grad must be the critic loss's gradient alone: the actor step
    # backpropagates through the critic but must not add into its weight gradients. The target
    # takes --reward-scale c as y = c·r + γ(1 - terminated)·Q'.
    agent = small_agent(reward_scale=reward_scale)
    b = Batch(torch.randn(8, 3), torch.rand(8, 2), 10 * torch.randn(8), torch.randn(8, 3), torch.zeros(8))
    ref = copy.deepcopy(agent.critic)
    with torch.no_grad():
        y = reward_scale * b.reward + agent.gamma * (1 - b.terminated) * agent.critic_target(b.next_obs, agent.actor_target(b.next_obs))
    torch.nn.functional.mse_loss(ref(b.obs, b.action), y).backward()
    agent.update(b)
    for p, r in zip(agent.critic.parameters(), ref.parameters()):
        torch.testing.assert_close(p.grad, r.grad, rtol=1e-6, atol=1e-7)
    assert all(p.requires_grad for p in agent.critic.parameters())


def test_network_shapes_and_action_bounds():
    low, high = torch.tensor([-2.0, 0.0, -0.5]), torch.tensor([2.0, 1.0, 3.0])
    actor = Actor(5, low, high, (32, 32))
    with torch.no_grad():
        for layer in actor.layers:
            layer.weight.mul_(50)  # saturate tanh to probe the bounds
        a = actor(torch.randn(1000, 5) * 10)
    assert a.shape == (1000, 3)
    assert torch.all(a >= low) and torch.all(a <= high)
    assert (a[:, 0].max() - a[:, 0].min()) > 3.5  # uses the whole [-2, 2] range, not only [-1, 1]
    for layer in (0, 1):
        critic = Critic(5, 3, (32, 32), action_layer=layer)
        assert critic(torch.randn(7, 5), torch.randn(7, 3)).shape == (7,)
    assert Critic(5, 3, (400, 300), action_layer=1).layers[1].in_features == 403


def test_paper_init_narrows_only_the_final_layers():
    """The paper's U[±1/sqrt(fan_in)] for hidden layers is also nn.Linear's default; its final layers' U[±3e-3] is not."""
    torch.manual_seed(0)
    paper = DDPGAgent(17, -np.ones(6), np.ones(6), make_config({"preset": "paper"}))
    default = DDPGAgent(17, -np.ones(6), np.ones(6), make_config({"preset": "paper", "paper_init": False}))
    for net, ref in ((paper.actor, default.actor), (paper.critic, default.critic)):
        *hidden, last = net.layers
        assert last.weight.abs().max() <= 3e-3 and last.bias.abs().max() <= 3e-3
        assert last.weight.std().item() == pytest.approx(3e-3 / np.sqrt(3), rel=0.1)  # U[±a] has std a/√3
        # the default final layer is 20x wider: its bound is 1/sqrt(300) = 0.058
        assert ref.layers[-1].weight.abs().max() > 0.9 / np.sqrt(ref.layers[-1].in_features)
        for layer in hidden:  # hidden layers fill their whole ±1/sqrt(fan_in) range
            bound = 1 / np.sqrt(layer.in_features)
            for p in (layer.weight, layer.bias):
                assert 0.9 * bound < p.abs().max() <= bound
    assert [layer.out_features for layer in paper.actor.layers] == [400, 300, 6]
    wd = paper.critic_opt.param_groups[0]["weight_decay"]
    assert wd == 1e-2 and paper.actor_opt.param_groups[0]["lr"] == 1e-4


def test_obs_norm_tracks_the_running_mean_and_std_and_clips():
    norm = ObsNorm(4)
    x = torch.tensor([[1e3, -5.0, 7.0, 0.0]])
    assert torch.equal(norm(x), x.clamp(-10, 10))  # before any observation: only the clip
    rng = np.random.default_rng(0)
    stream = rng.standard_normal((3000, 4)) * [300.0, 0.01, 1.0, 0.0] + [1600.0, 2.0, -3.0, 4.0]
    for k, row in enumerate(stream, 1):
        norm.observe(torch.as_tensor(row))
        if k in (1, 10, 3000):  # Welford's update equals the batch statistics at every point
            np.testing.assert_allclose(norm.mean.numpy(), stream[:k].mean(0), rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose((norm.m2 / norm.count).numpy(), stream[:k].var(0), rtol=1e-9, atol=1e-12)
    batch = torch.as_tensor(stream[:50], dtype=torch.float32)
    expected = (stream[:50] - stream.mean(0)) / np.sqrt(stream.var(0) + 1e-8)
    np.testing.assert_allclose(norm(batch).numpy(), np.clip(expected, -10, 10), rtol=1e-4, atol=1e-4)
    assert norm(batch)[:, 3].abs().max() == 0  # a dimension that never varied: 0, not NaN
    assert norm(torch.tensor([[1e5, 0.0, 0.0, 4.0]]))[0, 0] == 10  # clipped at +10
    inplace = batch.clone()
    norm.normalize_(inplace)
    assert torch.equal(inplace, norm(batch))
    # Saved: the float64 statistics only; the float32 shift and scale are derived again on loading.
    assert set(norm.state_dict()) == {"count", "mean", "m2"}
    loaded = ObsNorm(4)
    loaded.load_state_dict(norm.state_dict())
    assert torch.equal(loaded(batch), norm(batch))


def test_actor_with_obs_norm_acts_on_raw_observations_and_its_target_has_no_statistics():
    cfg = make_config({"hidden_sizes": (32, 32), "obs_norm": True})
    torch.manual_seed(0)
    agent = DDPGAgent(3, -np.ones(2), np.ones(2), cfg)
    rng = np.random.default_rng(1)
    for _ in range(200):
        agent.observe(rng.standard_normal(3) * 100 + 50)
    raw = rng.standard_normal(3) * 100 + 50
    with torch.no_grad():
        expected = agent.actor(agent.actor.obs_norm(torch.as_tensor(raw, dtype=torch.float32)[None]))[0]
        unnormalised = agent.actor(torch.as_tensor(raw, dtype=torch.float32)[None])[0]
    np.testing.assert_array_equal(agent.act(raw), expected.numpy())
    assert (expected - unnormalised).abs().max() > 1e-3  # normalising changed the action
    assert agent.actor.obs_norm.count == 200 and agent.actor_target.obs_norm is None
    assert {"obs_norm.count", "obs_norm.mean", "obs_norm.m2"} <= set(agent.state_dict()["actor"])
    plain = DDPGAgent(3, -np.ones(2), np.ones(2), make_config({"hidden_sizes": (32, 32)}))
    plain.observe(raw)  # without --obs-norm: nothing to count, and the actor's saved state is as before
    assert plain.actor.obs_norm is None and not any(k.startswith("obs_norm") for k in plain.actor.state_dict())
