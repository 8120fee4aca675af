"""The benchmark scripts' own arithmetic: the update's FLOP count, the per-part clocks of a learning step,
and the actor's tanh saturation; and their refusal of bad input."""
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import step_parts  # noqa: E402
from saturation import saturation  # noqa: E402
from throughput import cpu_model  # noqa: E402
from update_breakdown import one_update, op_kinds, update_flops  # noqa: E402

import train  # noqa: E402
from ddpg import runtime  # noqa: E402
from ddpg.agent import DDPGAgent  # noqa: E402
from ddpg.buffer import ReplayBuffer  # noqa: E402
from ddpg.config import make_config  # noqa: E402
from ddpg.manual_update import ManualUpdate  # noqa: E402
from ddpg.networks import Actor  # noqa: E402
from conftest import ROOT  # noqa: E402
from test_cli import assert_clean_error, snapshot  # noqa: E402


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


COMMITTED_JSON = '{"meta": {}, "results": []}\n'  # a throughput.py result, as committed in results/
THROUGHPUT_TINY = ["--env", "Pendulum-v1", "--steps", "20", "--warmup", "5", "--fill", "10", "--buffer-size", "1000",
                   "--learning-starts", "300", "--log-interval", "10"]
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="refused only where CUDA is missing")


def run_benchmark(script, *args, cwd):
    """A benchmark script in cwd, with its temporary folders in cwd/tmp (so one left behind shows)."""
    (cwd / "tmp").mkdir(exist_ok=True)
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "TMPDIR": str(cwd / "tmp")})


@pytest.mark.parametrize("argv, error", [
    (["rocket_reference.py", "--episodes", "0"], "error: --episodes must be >= 1, got 0"),
    (["rocket_reference.py", "--episodes", "1", "--weights", "missing.pt"], "error: no actor file at missing.pt"),
    (["rocket_reference.py", "--episodes", "1", "--sigma", "-1"], "error: --sigma must be a number >= 0, got -1.0"),
    (["rocket_reference.py", "--episodes", "1", "--seed", "-1"], "error: --seed must be >= 0, got -1"),
    (["rocket_reference.py", "--weights", ""], "error: --weights must name an actor file, got ''"),
    (["saturation.py", "--env", "Pendulum-v1", "--weights", "missing.pt"], "error: no actor file at missing.pt"),
    (["saturation.py", "--env", "Pendulum-v1", "--weights", "x.pt", "--steps", "0"],
     "error: --steps must be >= 1, got 0"),
    (["saturation.py", "--env", "Pendulum-v1", "--weights", "x.pt", "--seed", "-1"],
     "error: --seed must be >= 0, got -1"),
    (["checkpoint_cost.py", "--transitions", "-1"], "error: --transitions must be >= 1, got -1"),
    (["checkpoint_cost.py", "--transitions", "100", "--dir", "/proc/x"],
     "error: --dir: cannot write to /proc/x (No such file or directory); pass a writable directory"),
    (["checkpoint_cost.py", "--dir", ""], "error: --dir must name a folder, got ''"),
    (["crash_resume.py", "--kills", "-1", "--total-steps", "0"], "error: --kills must be >= 1, got -1"),
    (["crash_resume.py", "--total-steps", "0"], "error: --total-steps must be a positive integer, got 0"),
    (["crash_resume.py", "--max-delay", "-1"],
     "error: the delays must be finite, with 0 <= --min-delay <= --max-delay"),
    (["crash_resume.py", "--env", "NoSuch-v0"], "error: unknown or unavailable env 'NoSuch-v0'"),
    (["crash_resume.py", "--train-args=--bogus 1"],
     "error: --train-args '--bogus 1': unrecognized arguments: --bogus 1"),
    (["crash_resume.py", "--train-args=--run-name x"],
     "error: --train-args: crash_resume.py sets --run-name itself"),
    # a bad input used to fail in every run and then write X.json anyway
    (["throughput.py", *THROUGHPUT_TINY, "--env", "NoSuch-v0", "--json", "X.json"],
     "error: unknown or unavailable env 'NoSuch-v0'"),
    pytest.param(["throughput.py", *THROUGHPUT_TINY, "--device", "cuda", "--json", "X.json"],
                 "error: --device cuda was asked for but no CUDA device is available", marks=NO_CUDA),
    pytest.param(["throughput.py", *THROUGHPUT_TINY, "--paths", "cudagraphs", "--json", "X.json"],
                 "error: --cudagraphs needs a CUDA device, but this run is on cpu", marks=NO_CUDA),
    (["throughput.py", "--steps", "10", "--json", "X.json"], "error: --steps 10 is below --log-interval 500"),
    (["throughput.py", "--warmup", "0", "--parts"], "error: --warmup must be >= 1 with --parts, got 0"),
    (["throughput.py", *THROUGHPUT_TINY, "--json", "README.md"],
     "error: --json README.md: holds something other than this script's results, so it is left as it was"),
    (["throughput.py", "--json", ""], "error: --json must name a file, got ''"),
    (["peers.py", "--json", "X.json"], "error: --json X.json: holds something other than this script's results"),
    (["update_breakdown.py", "--rounds", "1"], "error: --rounds must be >= 2 (the first is warm-up), got 1"),
    (["sweep_concurrency.py", "--rounds", "0"], "error: --rounds must be >= 1, got 0"),
    (["sweep_concurrency.py", "--env", "NoSuch-v0"], "error: unknown or unavailable env 'NoSuch-v0'"),
    (["same_results.py", "no-such-rev"], "error: 'no-such-rev' is not a commit of the repo at"),
    (["ab_update.py", "--rev", "no-such-rev"],
     "error: --rev no-such-rev: git has no ddpg/manual_update.py at that revision"),
    (["ab_update.py", "--rev", "HEAD", "--per-round", "0"],
     "error: --threads, --rounds and --per-round must be at least 1"),
])
def test_benchmark_scripts_refuse_bad_input_in_one_line_and_touch_no_file(tmp_path, argv, error):
    (tmp_path / "X.json").write_text(COMMITTED_JSON)
    (tmp_path / "README.md").write_text("# not results\n")
    (tmp_path / "tmp").mkdir()
    before, paths = snapshot(tmp_path), sorted(tmp_path.rglob("*"))
    r = run_benchmark(*argv, cwd=tmp_path)
    assert_clean_error(r, error)
    assert r.stdout == "" and snapshot(tmp_path) == before and sorted(tmp_path.rglob("*")) == paths


def test_throughput_writes_its_json_only_when_every_run_succeeded(tmp_path, monkeypatch, capsys):
    import throughput

    out = tmp_path / "X.json"
    out.write_text(COMMITTED_JSON)
    done = {"sps": 100.0, "peak_rss_mb": 1.0, "wall_s": 1.0, "parts_us": None, "threads": 1, "device": "cpu"}
    monkeypatch.setattr(throughput, "one_path", lambda path, precision, args: {
        "path": path, "precision": precision, **({"error": "RuntimeError: boom"} if path == "eager" else done)})
    monkeypatch.setattr(sys, "argv", ["throughput.py", *THROUGHPUT_TINY, "--paths", "manual", "eager",
                                      "--json", str(out)])
    assert throughput.main() == 1
    captured = capsys.readouterr()
    assert "eager fp32: failed: RuntimeError: boom" in captured.out
    assert captured.err == f"error: 1 of 2 runs failed (eager fp32 round 1); --json {out} not written\n"
    assert out.read_text() == COMMITTED_JSON
    monkeypatch.setattr(throughput, "one_path", lambda path, precision, args: {"path": path, "precision": precision,
                                                                               **done})
    assert throughput.main() == 0  # a file it wrote is replaced
    assert [r["path"] for r in json.loads(out.read_text())["results"]] == ["manual", "eager"]


def test_ab_update_says_bit_identical_only_when_the_two_updates_agree(monkeypatch, capsys, tmp_path):
    import ab_update
    import ddpg.manual_update as current

    class Nudged(current.ManualUpdate):  # one bias moved after each update: no longer the same update
        def __call__(self):
            metrics = super().__call__()
            self.agent.actor.layers[0].bias.data[0] += 1e-3
            return metrics

    def fake_rev(update_class):
        return lambda rev, folder: (SimpleNamespace(ManualUpdate=update_class), "abc1234")

    for name in ("flush_denormals", "keep_freed_memory"):  # process-wide settings: not in the test process
        monkeypatch.setattr(ab_update, name, lambda: True)
    for update_class, verdict in ((current.ManualUpdate, True), (Nudged, False)):
        monkeypatch.setattr(ab_update, "module_at", fake_rev(update_class))
        monkeypatch.setattr(sys, "argv", ["ab_update.py", "--rev", "X", "--rounds", "2", "--per-round", "2"])
        assert ab_update.main() == 0
        out = capsys.readouterr().out
        assert out.count("round ") == 2 and "abc1234's time / the working tree's" in out
        assert out.rstrip().endswith(f"after 6 updates each, all four networks bit-identical: {verdict}"), out
    # a revision whose update takes other dtypes, or other arguments, is refused in one line
    bf16_tape = SimpleNamespace(actor=SimpleNamespace(inputs=[None, torch.zeros(1, dtype=torch.bfloat16)]))
    for update_class, error in ((lambda *a: bf16_tape, "runs the hidden layers in torch.bfloat16, not --precision fp32"),
                                (lambda agent: None, "its ManualUpdate does not fit this package (TypeError")):
        monkeypatch.setattr(ab_update, "module_at", fake_rev(update_class))
        with pytest.raises(SystemExit) as e:
            ab_update.main()
        assert e.value.code == 2 and error in capsys.readouterr().err
    module, short = ab_update.module_at("HEAD", tmp_path)  # and git's own path: HEAD's file, imported
    assert callable(module.ManualUpdate) and len(short) >= 7 and int(short, 16) >= 0


def test_throughput_and_checkpoint_cost_run_and_leave_no_scratch_folder(tmp_path):
    """A tiny real run of each: throughput.py's child builds its Config from run_flags and removes its run's
    folder; checkpoint_cost.py writes a checkpoint that ckpt_io.load accepts, beside (not over) one in --dir."""
    r = run_benchmark("throughput.py", *THROUGHPUT_TINY, "--parts", "--json", "out/t.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert [res["path"] for res in json.loads((tmp_path / "out" / "t.json").read_text())["results"]] == ["manual"]
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "checkpoint.pt").write_text("the user's")
    r = run_benchmark("checkpoint_cost.py", "--transitions", "2000", "--repeats", "1", "--dir", "d", cwd=tmp_path)
    assert r.returncode == 0 and "restored buffer is bit-identical" in r.stdout, r.stderr
    assert [p.name for p in (tmp_path / "d").iterdir()] == ["checkpoint.pt"]
    assert (tmp_path / "d" / "checkpoint.pt").read_text() == "the user's"
    left = [p.name for p in (tmp_path / "tmp").iterdir() if not p.name.startswith("torchinductor")]  # torch's cache
    assert left == []


def test_peers_refuses_bf16_where_it_would_be_emulated_before_running_either_side(monkeypatch, capsys):
    import peers
    from ddpg import runtime

    monkeypatch.setattr(runtime, "native_bf16", lambda: False)
    for side in ("project_path", "sb3_path"):
        monkeypatch.setattr(peers, side, lambda *a: pytest.fail("a side ran"))
    monkeypatch.setattr(sys, "argv", ["peers.py", "--matmul-precision", "bf16", "--pairs", "1"])
    assert peers.main() == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --matmul-precision bf16: "), err


def test_same_results_names_the_first_difference_and_ignores_timings_and_run_ids(tmp_path):
    from same_results import compare, first_difference

    state = {"step": 5, "run_id": 1, "last_eval_return": float("nan"),
             "agent": {"w": torch.arange(4.0)}, "rng": {"numpy": [1, 2]}}
    other = {**state, "run_id": 2, "agent": {"w": torch.arange(4.0)}}  # another run's id, an equal copy
    assert first_difference(state, other) is None
    other["agent"]["w"][3] = 3.5
    assert first_difference(state, other, "ckpt") == "ckpt.agent.w"
    assert first_difference(state, {**state, "rng": {"numpy": [1, 3]}}) == ".rng.numpy[1] (2 vs 3)"
    assert first_difference(torch.zeros(2), torch.zeros(2, dtype=torch.float64), "x") == "x"

    rows = ["step,tag,value", "0,run/id,17", "1000,charts/sps,250.0", "1000,eval/return,-3.5"]
    for d, sps, run_id in ((tmp_path / "a", "250.0", "17"), (tmp_path / "b", "190.0", "42")):
        (d / "runs").mkdir(parents=True)
        (d / "runs" / "metrics.csv").write_text("\n".join(rows).replace("250.0", sps).replace(",17", f",{run_id}"))
    assert compare(tmp_path / "a", tmp_path / "b") is None  # only the timings and run ids differ
    (tmp_path / "b" / "runs" / "metrics.csv").write_text("\n".join(rows).replace("-3.5", "-3.25"))
    assert compare(tmp_path / "a", tmp_path / "b") == (
        "runs/metrics.csv: (['1000', 'eval/return', '-3.5'], ['1000', 'eval/return', '-3.25'])")
    (tmp_path / "b" / "runs" / "extra.csv").write_text("step,tag,value\n")
    assert compare(tmp_path / "a", tmp_path / "b").startswith("the runs wrote different files: ['runs/extra.csv']")


@pytest.mark.parametrize("caps, label", [({"avx512_f": True, "avx512_bf16": True}, "a CPU, AVX-512, AVX512_BF16"),
                                         ({"avx512_f": True, "amx_bf16": True}, "a CPU, AVX-512, AMX-BF16"),
                                         ({"avx512_f": True, "avx512_bf16": False}, "a CPU, AVX-512"),
                                         ({"avx2": True}, "a CPU, no AVX-512")])
def test_the_cpu_the_benchmarks_name_has_the_bf16_units_the_refusal_reads(monkeypatch, caps, label):
    # One reading of the CPU for both: a JSON that says AVX512_BF16 comes from a machine that runs bf16.
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: {"cpu_name": "a CPU", **caps})
    monkeypatch.setattr("throughput.Path.read_text", lambda self: "model name\t: a CPU\nflags\t: avx512f avx512_bf16\n")
    assert cpu_model() == label
    assert runtime.native_bf16() is ("BF16" in label)
