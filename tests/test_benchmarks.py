"""The benchmark scripts' own arithmetic: the update's FLOP count, the per-part clocks of a learning step,
and the actor's tanh saturation."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import step_parts  # noqa: E402
from saturation import saturation  # noqa: E402
from update_breakdown import one_update, op_kinds, update_flops  # noqa: E402

import train  # noqa: E402
from ddpg.agent import DDPGAgent  # noqa: E402
from ddpg.buffer import ReplayBuffer  # noqa: E402
from ddpg.config import make_config  # noqa: E402
from ddpg.manual_update import ManualUpdate  # noqa: E402
from ddpg.networks import Actor  # noqa: E402


@pytest.mark.parametrize("kw", [{}, {"hidden_sizes": (8, 4), "critic_action_layer": 1}, {"hidden_sizes": (8,)}])
def test_update_flops_are_the_products_the_hand_written_update_runs(kw):
    """update_flops from the layer shapes against torch's own count of one ManualUpdate call's mm/addmm."""
    cfg = make_config({"hidden_sizes": (16, 16), "batch_size": 32, **kw})
    agent = DDPGAgent(5, -np.ones(2), np.ones(2), cfg, "cpu")
    buf = ReplayBuffer(1000, 5, 2, "cpu", seed=0)
    buf.storage.normal_()
    buf.size = 500
    update = ManualUpdate(agent, buf, 32)
    update()  # the first call steps Adam through opt.step(): count the second
    with FlopCounterMode(display=False) as counted:
        update()
    assert counted.get_total_flops() == update_flops(agent, 32) > 0


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_op_kinds_count_the_updates_products_and_lose_no_time(precision):
    """The profile's kinds must hold all 28 products of a 2-hidden-layer update (15 forward addmm, 13 mm),
    the two Adam steps, and every op's self time exactly once."""
    from torch.profiler import ProfilerActivity, profile

    update, _ = one_update(16, 32, "manual", precision)
    update()  # the first call steps Adam through opt.step(): profile later ones
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(3):
            update()
    averages = prof.key_averages()
    kinds = op_kinds(averages, 3)
    assert kinds["matrix products"][1] == 28 and kinds["fused Adam"][1] == 2
    assert kinds["views, allocations and reads (no arithmetic)"][1] > 0
    total = sum(e.self_cpu_time_total for e in averages) / 3
    assert sum(us for us, _ in kinds.values()) == pytest.approx(total, rel=1e-9) and total > 0


def test_step_parts_clock_exactly_the_window_and_put_train_back(tmp_path):
    names = {name: getattr(train, name) for name in step_parts.WRAPPED}
    cfg = make_config({"env": "Pendulum-v1", "total_steps": 300, "learning_starts": 64, "batch_size": 32,
                       "hidden_sizes": (16,), "eval_interval": 10_000, "models_dir": str(tmp_path / "m"),
                       "runs_dir": str(tmp_path / "r")})
    with step_parts.clocked(train, warmup=50, steps=120) as parts:
        train.train(cfg, quiet=True)
    assert {name: getattr(train, name) for name in step_parts.WRAPPED} == names
    assert parts.calls == dict.fromkeys(step_parts.PARTS, 120)  # every part once in each of the 120 steps
    us = parts.per_step()
    assert all(us[k] > 0 for k in step_parts.PARTS) and us["rest of the loop"] > 0


def test_saturation_reads_the_actors_own_pre_tanh_and_flags_a_saturated_output():
    """Actor.pre_tanh must be what Actor.forward squashes; a bias of 10 on one output must zero
    that dimension's float32 tanh derivative (as in HumanoidStandup's run) and leave the other live."""
    actor = Actor(5, -0.4 * torch.ones(2), 0.4 * torch.ones(2), (16, 16))
    states = np.random.default_rng(0).normal(size=(64, 5)).astype(np.float32)
    with torch.no_grad():
        actor.layers[-1].bias.copy_(torch.tensor([10.0, 0.0]))
        actor.layers[-1].weight.mul_(0.01)
        x = actor.pre_tanh(torch.as_tensor(states))
        np.testing.assert_allclose(actor(torch.as_tensor(states)).numpy(), (0.4 * torch.tanh(x)).numpy(), atol=1e-6)
    min_abs, max_grad = saturation(actor, states)
    assert 9.5 < min_abs[0] < 10.5 and max_grad[0] == 0.0
    assert min_abs[1] < 1 and max_grad[1] > 0.5


@pytest.mark.parametrize("argv, error", [
    (["rocket_reference.py", "--episodes", "0"], "error: --episodes must be >= 1, got 0"),
    (["rocket_reference.py", "--episodes", "1", "--weights", "missing.pt"], "error: no actor file at missing.pt"),
    (["saturation.py", "--env", "Pendulum-v1", "--weights", "missing.pt"], "error: no actor file at missing.pt"),
    (["saturation.py", "--env", "Pendulum-v1", "--weights", "x.pt", "--steps", "0"],
     "error: --steps must be >= 1, got 0"),
])
def test_benchmark_scripts_refuse_bad_input_in_one_line(tmp_path, argv, error):
    script = Path(__file__).resolve().parents[1] / "benchmarks" / argv[0]
    r = subprocess.run([sys.executable, str(script), *argv[1:]], cwd=tmp_path, capture_output=True, text=True,
                       timeout=120)
    assert (r.returncode, r.stderr.strip().splitlines(), r.stdout) == (2, [error], "")


def test_peers_refuses_bf16_where_it_would_be_emulated_before_running_either_side(monkeypatch, capsys):
    import peers
    from ddpg import runtime

    monkeypatch.setattr(runtime, "native_bf16", lambda: False)
    for side in ("project_path", "sb3_path"):
        monkeypatch.setattr(peers, side, lambda *a: pytest.fail("a side ran"))
    monkeypatch.setattr(sys, "argv", ["peers.py", "--matmul-precision", "bf16", "--pairs", "1"])
    assert peers.main() == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("peers.py: --matmul-precision bf16: "), err
