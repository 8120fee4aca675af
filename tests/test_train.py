"""End-to-end: tiny train.py runs, checkpoints, exact resume, guards."""
import csv
from collections import Counter

import gymnasium as gym
import numpy as np
import pytest
import torch

import train
from conftest import TINY
from ddpg import checkpoint as ckpt_io
from ddpg.agent import DDPGAgent
from ddpg.config import make_config
from ddpg.errors import DDPGError


def tiny(tmp_path, **kw):
    return make_config({**TINY, "models_dir": str(tmp_path / "models"), "runs_dir": str(tmp_path / "runs"), **kw})


def tensors_equal(a, b):
    """Deep bit-for-bit comparison of nested state dicts."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(tensors_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(tensors_equal(x, y) for x, y in zip(a, b))
    return a == b


class Sabotage(gym.Wrapper):
    """Crashes (like a kill) or returns a NaN reward at a given step."""

    def __init__(self, env, at, mode):
        super().__init__(env)
        self.at, self.mode, self.n = at, mode, 0

    def step(self, action):
        self.n += 1
        obs, r, term, trunc, info = self.env.step(action)
        if self.n == self.at:
            if self.mode == "crash":
                raise RuntimeError("simulated crash")
            r = float("nan")
        return obs, r, term, trunc, info


def sabotaged_make_env(monkeypatch, at, mode):
    made = []

    def make(env_id, render_mode=None):
        env = gym.make(env_id)
        if not made:  # the training env is made first, the evaluation env second
            env = Sabotage(env, at, mode)
        made.append(env)
        return env

    monkeypatch.setattr(train, "make_env", make)


def read_csv(run_dir):
    with open(run_dir / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_tiny_run_writes_events_csv_and_weights(tmp_path):
    s = train.train(tiny(tmp_path), quiet=True)
    assert s["step"] == 1200 and s["episode"] == 6
    assert list(s["run_dir"].glob("events.out.tfevents.*"))
    rows = read_csv(s["run_dir"])
    tags = Counter(r["tag"] for r in rows)
    assert tags["charts/episodic_return"] == 6 and tags["eval/return"] == 3
    assert tags["losses/critic"] == 11 and tags["charts/sps"] == 12  # logs every 100 steps; updates from step 200 on
    assert s["run_dir"].parent.name == "Pendulum-v1" and s["run_dir"].name.startswith("tuned-seed0-")
    assert s["checkpoint"].parent.name == s["run_dir"].name  # weights and logs share the run's name
    actor = ckpt_io.load(s["actor"], "actor")
    full = ckpt_io.load(s["checkpoint"], "checkpoint")
    assert actor["step"] == full["step"] == 1200 and actor["env_id"] == "Pendulum-v1"
    assert tensors_equal(actor["actor"], full["agent"]["actor"])
    b = full["buffer"]
    # Only the 1200 filled rows are written (not the 5000-row capacity), and next observations only
    # where they are not the following row's observation: the 6 episode ends.
    assert b["size"] == 1200 and b["obs_action_reward"].shape == (1200, 3 + 1 + 1)
    assert b["obs_action_reward"].untyped_storage().nbytes() == 1200 * 5 * 4
    assert b["next_obs"].shape == (6, 3) and b["next_obs_differs"].nonzero().flatten().tolist() == \
        [199, 399, 599, 799, 999, 1199]
    assert b["terminated"].dtype == torch.bool
    assert set(full["agent"]) == {"actor", "critic", "actor_target", "critic_target", "actor_opt", "critic_opt"}
    best = ckpt_io.load(s["actor"].with_name(ckpt_io.BEST_ACTOR_FILE), "actor")
    evals = [(int(r["step"]), float(r["value"])) for r in rows if r["tag"] == "eval/return"]
    best_step, best_value = max(evals, key=lambda e: e[1])  # the CSV keeps 6 significant digits
    assert best["step"] == best_step and best["eval_return"] == pytest.approx(best_value, rel=1e-5)
    assert full["best_eval_return"] == best["eval_return"]


def test_checkpoint_round_trip_same_parameters_and_actions(tmp_path):
    cfg = make_config({"hidden_sizes": (32, 32)})
    torch.manual_seed(0)
    a = DDPGAgent(5, -np.ones(2), 2 * np.ones(2), cfg)
    from ddpg.buffer import Batch
    a.update(Batch(torch.randn(16, 5), torch.rand(16, 2), torch.randn(16), torch.randn(16, 5), torch.zeros(16)))
    other = dict.fromkeys(ckpt_io.REQUIRED_KEYS["checkpoint"], 0)  # the rest of a checkpoint, not tested here
    ckpt_io.atomic_save({**other, "kind": "checkpoint", "format_version": ckpt_io.FORMAT_VERSION, "env_id": "X",
                         "config": cfg.to_dict(), "agent": a.state_dict()}, tmp_path / "c.pt")
    torch.manual_seed(1)
    b = DDPGAgent(5, -np.ones(2), 2 * np.ones(2), cfg)
    b.load_state_dict(ckpt_io.load(tmp_path / "c.pt", "checkpoint")["agent"])
    assert tensors_equal(a.state_dict(), b.state_dict())
    obs = np.random.default_rng(0).standard_normal((20, 5))
    assert all(np.array_equal(a.act(o), b.act(o)) for o in obs)


@pytest.mark.parametrize("kw", [{}, {"obs_norm": True}])
def test_interrupted_and_resumed_run_is_bit_identical(tmp_path, monkeypatch, kw):
    full = train.train(tiny(tmp_path / "a", **kw), quiet=True)
    reference = ckpt_io.load(full["checkpoint"], "checkpoint")

    sabotaged_make_env(monkeypatch, at=1000, mode="crash")  # dies mid-episode, after the step-800 checkpoint
    with pytest.raises(RuntimeError, match="simulated crash"):
        train.train(tiny(tmp_path / "b", **kw), quiet=True)
    monkeypatch.undo()
    (path,) = (tmp_path / "b" / "models" / "Pendulum-v1").glob("*/checkpoint.pt")
    assert ckpt_io.load(path, "checkpoint")["step"] == 800

    cfg, state, _ = train.resolve_config({"resume": str(path), "models_dir": str(tmp_path / "b" / "models"),
                                          "runs_dir": str(tmp_path / "b" / "runs")})
    resumed = train.train(cfg, state, quiet=True)
    result = ckpt_io.load(resumed["checkpoint"], "checkpoint")
    assert result["step"] == reference["step"] == 1200
    assert tensors_equal(result["agent"], reference["agent"])
    assert tensors_equal(result["buffer"], reference["buffer"])
    assert tensors_equal(result["rng"], reference["rng"]) and result["noise"] == reference["noise"]
    # The curves go on from step 800: same rows as the uninterrupted run, none twice, none missing.
    def key(rows):
        return sorted((r["step"], r["tag"]) for r in rows if r["tag"] != "charts/sps")
    assert key(read_csv(resumed["run_dir"])) == key(read_csv(full["run_dir"]))


def test_a_resume_restores_the_best_actor_its_checkpoint_knew(tmp_path):
    s = train.train(tiny(tmp_path), quiet=True)
    best_path = s["actor"].with_name(ckpt_io.BEST_ACTOR_FILE)
    best = ckpt_io.load(best_path, "actor")
    kept = ckpt_io.load(s["checkpoint"], "checkpoint")["best_actor"]
    assert tensors_equal(kept, best) and best["step"] in (400, 800, 1200)
    # A best_actor.pt from evaluations after the checkpoint, whose rows a crash took from the log: the
    # checkpoint's best_eval_return does not describe it, so resuming puts back the one it does.
    torch.save({**best, "step": 1600, "eval_return": best["eval_return"] + 100,
                "actor": {k: torch.zeros_like(v) for k, v in best["actor"].items()}}, best_path)
    cfg, state, _ = train.resolve_config({"resume": str(s["checkpoint"]), "models_dir": str(tmp_path / "models"),
                                          "runs_dir": str(tmp_path / "runs")})
    train.train(cfg, state, quiet=True)  # at its total already: it trains nothing
    assert tensors_equal(ckpt_io.load(best_path, "actor"), best)


def test_a_refused_resume_leaves_best_actor_as_it_was(tmp_path):
    s = train.train(tiny(tmp_path, total_steps=600), quiet=True)
    old = s["checkpoint"].read_bytes()  # step 600
    cfg, state, _ = train.resolve_config({"resume": str(s["checkpoint"]), "total_steps": 1200,
                                          "models_dir": str(tmp_path / "models"), "runs_dir": str(tmp_path / "runs")})
    train.train(cfg, state, quiet=True)
    best_path = s["actor"].with_name(ckpt_io.BEST_ACTOR_FILE)
    best = best_path.read_bytes()
    s["checkpoint"].write_bytes(old)  # an older copy: its resume would cut back logs that went on past it
    cfg, state, _ = train.resolve_config({"resume": str(s["checkpoint"]), "total_steps": 1200,
                                          "models_dir": str(tmp_path / "models"), "runs_dir": str(tmp_path / "runs")})
    with pytest.raises(DDPGError, match="checkpoint"):
        train.train(cfg, state, quiet=True)
    assert best_path.read_bytes() == best


@pytest.mark.parametrize("key, value, needle", [
    ("step", "abc", "step ('abc', not a step count)"),
    ("step", -5, "step (-5, not a step count)"),
    ("best_eval_return", None, "best_eval_return (None, not a number)"),  # else it fails at the first evaluation
    ("unfinished_episode", {"seed": 1}, "unfinished_episode ({'seed': 1}, not an unfinished episode"),
    ("run_id", 1.5, "run_id (1.5, not a run id)"),
])
def test_a_checkpoint_with_a_damaged_value_is_refused_on_loading(tmp_path, key, value, needle):
    s = train.train(tiny(tmp_path, total_steps=400), quiet=True)
    state = ckpt_io.load(s["checkpoint"], "checkpoint")
    torch.save({**state, key: value}, s["checkpoint"])
    with pytest.raises(DDPGError, match="damaged values") as e:
        train.resolve_config({"resume": str(s["checkpoint"]), "total_steps": 800})
    assert needle in str(e.value)


@pytest.mark.parametrize("log, needle", [
    (b"epoch,loss,acc,lr\n1,0.5,0.9,0.1\n", "is not a log this repo wrote (its header is ['epoch', 'loss', 'acc', 'lr'])"),
    (b"step,tag,value\n\xff\xfe\x00garbage\n", "is damaged"),
])
def test_a_resume_leaves_a_log_it_did_not_write_as_it_was(tmp_path, log, needle):
    s = train.train(tiny(tmp_path, total_steps=400), quiet=True)
    (s["run_dir"] / "metrics.csv").write_bytes(log)
    cfg, state, _ = train.resolve_config({"resume": str(s["checkpoint"]), "total_steps": 800})
    with pytest.raises(DDPGError, match="metrics.csv") as e:
        train.train(cfg, state, quiet=True)
    assert needle in str(e.value)
    assert (s["run_dir"] / "metrics.csv").read_bytes() == log


def test_networks_too_large_for_memory_are_one_error(tmp_path):
    with pytest.raises(DDPGError, match="networks of --hidden-sizes 100000000 100000000 could not be allocated"):
        train.train(tiny(tmp_path, hidden_sizes=(10**8, 10**8)), quiet=True)
    assert not (tmp_path / "models" / "Pendulum-v1").exists()


def test_obs_norm_counts_each_training_observation_once_and_ships_with_the_actor(tmp_path):
    s = train.train(tiny(tmp_path, obs_norm=True), quiet=True)
    full = ckpt_io.load(s["checkpoint"], "checkpoint")
    stats = {k.removeprefix("obs_norm."): v for k, v in full["agent"]["actor"].items() if k.startswith("obs_norm.")}
    # The buffer keeps the raw observations (a row per step; capacity 5000): the statistics are theirs,
    # and evaluation episodes are not counted.
    obs = full["buffer"]["obs_action_reward"][:, :3].double()
    assert stats["count"] == 1200 and full["buffer"]["size"] == 1200
    torch.testing.assert_close(stats["mean"], obs.mean(0), rtol=0, atol=1e-6)
    torch.testing.assert_close(stats["m2"] / 1200, obs.var(0, correction=0), rtol=1e-5, atol=0)
    assert obs.abs().max() > 5  # Pendulum's angular velocity is raw here (up to 8), not normalised
    # actor.pt alone rebuilds the policy that acts on raw observations, statistics included
    env = gym.make("Pendulum-v1")
    actor = ckpt_io.load_actor(s["actor"], "Pendulum-v1", env.observation_space, env.action_space)
    agent = DDPGAgent(3, env.action_space.low, env.action_space.high, tiny(tmp_path, obs_norm=True))
    agent.load_state_dict(full["agent"])
    states = obs[::97].numpy()
    assert all(np.array_equal(actor.act(o), agent.act(o)) for o in states)
    plain = ckpt_io.load_actor(s["actor"], "Pendulum-v1", env.observation_space, env.action_space)
    plain.obs_norm = None
    assert not all(np.allclose(plain.act(o), agent.act(o), atol=1e-3) for o in states)


def test_resume_continues_to_a_larger_total(tmp_path):
    train.train(tiny(tmp_path), quiet=True)
    cfg, state, _ = train.resolve_config({"resume": "latest", "env": "Pendulum-v1", "total_steps": 1600,
                                          "models_dir": str(tmp_path / "models"), "runs_dir": str(tmp_path / "runs")})
    assert state["step"] == 1200 and cfg.hidden_sizes == (32, 32)
    assert train.train(cfg, state, quiet=True)["step"] == 1600


def test_nan_reward_stops_training_and_keeps_last_checkpoint(tmp_path, monkeypatch):
    sabotaged_make_env(monkeypatch, at=950, mode="nan")
    with pytest.raises(DDPGError, match=r"non-finite reward from Pendulum-v1 at step 950; training stopped, "
                                        r"last good checkpoint kept in .*/Pendulum-v1/"):
        train.train(tiny(tmp_path), quiet=True)
    (path,) = (tmp_path / "models" / "Pendulum-v1").glob("*/checkpoint.pt")
    kept = ckpt_io.load(path, "checkpoint")
    assert kept["step"] == 800
    assert all(torch.isfinite(t).all() for t in kept["agent"]["actor"].values())


def test_a_run_that_diverges_before_its_first_checkpoint_says_it_kept_none(tmp_path, monkeypatch):
    sabotaged_make_env(monkeypatch, at=250, mode="nan")  # the first checkpoint is due at 300
    with pytest.raises(DDPGError, match=r"at step 250; training stopped, it had saved no checkpoint yet "
                                        r"\(its logs are in .*runs/Pendulum-v1/[^/]+\)$"):
        train.train(tiny(tmp_path), quiet=True)
    assert not list((tmp_path / "models").rglob("*.pt"))


def test_paper_preset_runs_end_to_end(tmp_path):
    s = train.train(tiny(tmp_path, preset="paper", total_steps=400), quiet=True)
    saved = ckpt_io.load(s["checkpoint"], "checkpoint")
    cfg = saved["config"]
    assert (cfg["preset"], cfg["tau"], cfg["critic_action_layer"], cfg["critic_weight_decay"]) == ("paper", 0.001, 1, 1e-2)
    assert saved["agent"]["critic"]["layers.1.weight"].shape == (32, 32 + 1)  # the action joins at the 2nd layer
    assert saved["agent"]["critic_opt"]["param_groups"][0]["weight_decay"] == 1e-2


def test_100k_preset_runs_end_to_end(tmp_path):
    s = train.train(tiny(tmp_path, preset="100k", total_steps=400), quiet=True)
    saved = ckpt_io.load(s["checkpoint"], "checkpoint")
    assert (saved["config"]["preset"], saved["config"]["updates_per_step"]) == ("100k", 2)
    for opt in ("actor_opt", "critic_opt"):
        group = saved["agent"][opt]["param_groups"][0]
        assert group["lr"] == 1e-3
        step = saved["agent"][opt]["state"][0]["step"]
        assert int(step) == 2 * (400 - 200 + 1)  # 2 updates per step from step learning_starts on


def test_the_csv_reaches_the_last_step_between_log_intervals(tmp_path):
    """sweep.py and the results tables read a run's steps from its CSV, which must reach the last step."""
    import sweep

    s = train.train(tiny(tmp_path, total_steps=1250, run_name="r"), quiet=True)
    assert s["step"] == 1250
    with open(s["run_dir"] / "metrics.csv", newline="") as f:
        sps_steps = [int(r["step"]) for r in csv.DictReader(f) if r["tag"] == "charts/sps"]
    assert sps_steps == list(range(100, 1201, 100)) + [1250]
    (tmp_path / "Pendulum-v1_seed0.csv").write_bytes((s["run_dir"] / "metrics.csv").read_bytes())  # as exported
    r = sweep.trial_result(tmp_path, "Pendulum-v1", 0, 1250)
    assert (r["steps"], r["done"]) == (1250, True)


@pytest.mark.parametrize("backward", ["manual", "autograd"])
def test_updates_per_step_takes_that_many_updates_each_step(tmp_path, backward):
    # Adam counts its steps: updates run at steps 200..1200 (learning_starts 200), k per step.
    counts = {}
    for k in (1, 3):
        s = train.train(tiny(tmp_path / str(k), updates_per_step=k, backward=backward), quiet=True)
        agent = ckpt_io.load(s["checkpoint"], "checkpoint")["agent"]
        counts[k] = {int(st["step"]) for opt in ("actor_opt", "critic_opt") for st in agent[opt]["state"].values()}
    assert counts == {1: {1001}, 3: {3003}}
