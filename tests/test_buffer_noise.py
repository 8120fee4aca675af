import numpy as np
import pytest
import torch

from ddpg.buffer import ReplayBuffer
from ddpg.errors import DDPGError
from ddpg.noise import GaussianNoise, OUNoise, make_noise


def test_buffer_wraps_around_and_keeps_the_newest():
    buf = ReplayBuffer(5, obs_dim=2, action_dim=1, device="cpu")
    for i in range(8):
        buf.add(np.full(2, i), np.array([i / 10]), float(i), np.full(2, i + 1), i % 2 == 0)
    assert buf.size == 5 and buf.pos == 3
    stored = sorted(buf.storage[:, buf.cols["reward"]].squeeze(-1).tolist())
    assert stored == [3.0, 4.0, 5.0, 6.0, 7.0]
    b = buf.sample(64)
    # every sampled row is internally consistent: obs = r, next_obs = r + 1, terminated = (r even)
    assert torch.equal(b.obs[:, 0], b.reward) and torch.equal(b.next_obs[:, 0], b.reward + 1)
    assert torch.equal(b.terminated, (b.reward % 2 == 0).float())
    assert b.reward.min() >= 3


def test_sampling_before_the_ring_wraps_returns_only_written_rows():
    buf = ReplayBuffer(10_000, obs_dim=2, action_dim=1, device="cpu")
    for i in range(1, 101):  # row i - 1 holds i in every column; unwritten rows are all zeros
        buf.add(np.full(2, i), np.array([i]), float(i), np.full(2, i), False)
    batches = [buf.sample(256) for _ in range(200)]
    rewards = torch.cat([b.reward for b in batches])
    for b in batches:
        for column in (b.obs[:, 0], b.obs[:, 1], b.action[:, 0], b.next_obs[:, 0], b.next_obs[:, 1]):
            assert torch.equal(column, b.reward)
    counts = torch.bincount(rewards.long(), minlength=101)
    assert counts[0] == 0 and rewards.max() == 100  # never an unwritten row
    assert counts[1:].min() > 400 and counts[1:].max() < 630  # uniform: 51200 draws, 512 expected per row


def test_buffer_sample_shapes_device_dtype():
    buf = ReplayBuffer(100, obs_dim=4, action_dim=3, device="cpu")
    for _ in range(10):
        buf.add(np.random.randn(4), np.random.randn(3), 1.0, np.random.randn(4), False)
    b = buf.sample(32)
    assert b.obs.shape == (32, 4) and b.action.shape == (32, 3) and b.reward.shape == (32,)
    assert b.next_obs.shape == (32, 4) and b.terminated.shape == (32,)
    for t in b:
        assert t.dtype == torch.float32 and t.device.type == "cpu"


def test_buffer_sampling_is_seeded_and_restorable():
    def filled(seed):
        buf = ReplayBuffer(50, 1, 1, "cpu", seed=seed)
        for i in range(50):
            buf.add(np.array([i]), np.array([0.0]), float(i), np.array([i]), False)
        return buf

    a, b = filled(3), filled(3)
    assert torch.equal(a.sample(16).reward, b.sample(16).reward)
    state = a.state_dict()
    first = a.sample(16).reward
    c = ReplayBuffer(50, 1, 1, "cpu", seed=99)
    c.load_state_dict(state)
    assert torch.equal(c.sample(16).reward, first)
    assert not torch.equal(filled(4).sample(16).reward, filled(3).sample(16).reward)


def test_ou_noise_same_seed_same_sequence_and_reset_restores_start():
    a = OUNoise(3, np.random.default_rng(7), theta=0.15, sigma=0.2, dt=1.0)
    b = OUNoise(3, np.random.default_rng(7), theta=0.15, sigma=0.2, dt=1.0)
    seq_a = np.array([a() for _ in range(50)])
    seq_b = np.array([b() for _ in range(50)])
    assert np.array_equal(seq_a, seq_b)
    assert not np.array_equal(seq_a, np.array([OUNoise(3, np.random.default_rng(8))() for _ in range(50)]))
    a.reset()
    assert np.array_equal(a.x, np.zeros(3))


def test_ou_noise_follows_its_equation_and_is_correlated():
    rng = np.random.default_rng(0)
    n = OUNoise(1, np.random.default_rng(0), theta=0.15, sigma=0.2, dt=0.5, mu=0.3)
    x0 = n.x.copy()
    x1 = n()
    eps = rng.standard_normal(1)
    assert np.allclose(x1, x0 + 0.15 * (0.3 - x0) * 0.5 + 0.2 * np.sqrt(0.5) * eps)
    n = OUNoise(1, np.random.default_rng(1), theta=0.15, sigma=0.2, dt=1.0)
    xs = np.array([n()[0] for _ in range(20000)])
    lag1 = np.corrcoef(xs[:-1], xs[1:])[0, 1]
    assert 0.8 < lag1 < 0.9  # theory: 1 - θ·dt = 0.85
    assert abs(xs[1000:].std() - 0.2 / np.sqrt(1 - 0.85**2)) < 0.03  # stationary std of the AR(1)


def test_make_noise_builds_each_kind_and_refuses_unknown_ones():
    rng = np.random.default_rng(0)
    ou = make_noise("ou", 3, rng, sigma=0.2, theta=0.3, dt=0.5)
    assert isinstance(ou, OUNoise) and (ou.size, ou.sigma, ou.theta, ou.dt) == (3, 0.2, 0.3, 0.5)
    g = make_noise("gaussian", 2, rng, sigma=0.4, theta=0.3, dt=0.5)
    assert isinstance(g, GaussianNoise) and (g.size, g.sigma) == (2, 0.4)
    with pytest.raises(DDPGError, match=r"^unknown noise kind 'pink'; choose 'ou' or 'gaussian'$"):
        make_noise("pink", 2, rng, sigma=0.4, theta=0.3, dt=0.5)


def test_gaussian_noise_scale():
    g = GaussianNoise(2, np.random.default_rng(0), sigma=0.1)
    xs = np.array([g() for _ in range(5000)])
    assert abs(xs.std() - 0.1) < 0.005 and abs(xs.mean()) < 0.01


def test_buffer_state_round_trip_is_bit_exact_and_compact():
    rng = np.random.default_rng(0)
    buf = ReplayBuffer(50, obs_dim=3, action_dim=2, device="cpu")
    obs = rng.standard_normal(3)
    for t in range(80):  # wraps around; episodes of 7 steps, some ending in a real terminal
        nxt = rng.standard_normal(3)
        if t % 5 == 0:
            nxt[0] = -0.0  # a sign bit that == would not see
        end = t % 7 == 6
        buf.add(obs, rng.uniform(-1, 1, 2), rng.standard_normal(), nxt, end and t % 2 == 0)
        obs = rng.standard_normal(3) if end else nxt
    state = buf.state_dict()
    assert state["next_obs"].shape[0] < 50 // 3  # stored only at episode ends and the ring seam
    other = ReplayBuffer(50, obs_dim=3, action_dim=2, device="cpu")
    other.load_state_dict(state)
    assert torch.equal(other.storage.view(torch.int32), buf.storage.view(torch.int32))
    assert (other.pos, other.size) == (buf.pos, buf.size) == (30, 50)
