"""sweep.py on a real local Ray (one start for the module): a grid, a killed trial, a killed driver, bad input."""
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch

import sweep
import train
from conftest import ROOT, TINY, tiny_flags
from ddpg import checkpoint as ckpt_io
from ddpg.config import make_config
from ddpg.errors import DDPGError

ray = pytest.importorskip("ray")

TINY_FLAGS = tiny_flags()


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    sweep.connect(None, cpus=2)  # the local Ray that sweep.py itself starts
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def rows(csv_path):
    return [line.split(",") for line in csv_path.read_text().splitlines()[1:]]


def test_grid_of_two_envs_and_two_seeds(tmp_path):
    d = tmp_path / "grid"
    argv = ["--envs", "Pendulum-v1", "InvertedPendulum-v5", "--seeds", "0", "1", "--sweep-dir", str(d),
            "--total-steps", "1200", *TINY_FLAGS]
    assert sweep.main(argv) == 0
    table = (d / "summary.md").read_text()
    trial_rows = re.findall(r"^\| (\S+) \| (\d) \| ([\d,]+) \|", table, re.M)
    assert "| final eval (mean ± std) |" in table
    assert sorted(trial_rows) == sorted((e, s, "1,200") for e in ("Pendulum-v1", "InvertedPendulum-v5")
                                        for s in "01")
    for env_id in ("Pendulum-v1", "InvertedPendulum-v5"):
        assert re.search(rf"^\| {env_id} \| tuned \| 2 of 2 \| 1,200 \| -?[\d.]+ ± [\d.]+ \|", table, re.M), table
        assert (d / f"{env_id}.png").stat().st_size > 10_000
        for seed in (0, 1):
            t = d / env_id / f"seed{seed}"
            actor = ckpt_io.load(t / "actor.pt", "actor")
            assert actor["step"] == 1200 and actor["config"]["seed"] == seed
            assert list(t.glob("events.out.tfevents.*"))  # tensorboard --logdir <sweep-dir> finds every trial
            evals = [r for r in rows(t / "metrics.csv") if r[1] == "eval/return"]
            assert [int(r[0]) for r in evals] == [400, 800, 1200]
    assert not list((d / "tune").rglob("events.out.tfevents.*"))  # ... once: Tune writes no copy of its own
    # The summary's final column is the mean of each seed's last evaluation.
    finals = [[float(r[2]) for r in rows(d / "Pendulum-v1" / f"seed{s}" / "metrics.csv")
               if r[1] == "eval/return"][-1] for s in (0, 1)]
    assert f"| {np.mean(finals):.1f} ± {np.std(finals):.1f} |" in table
    # The same output on demand, and main.py can show any trial's actor.
    assert sweep.main(["--summary", str(d)]) == 0
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), "--env", "Pendulum-v1", "--models-dir", str(d),
                        "--run", "seed1", "--no-render", "--episodes", "1"], capture_output=True, text=True)
    assert r.returncode == 0 and "seed1/actor.pt" in r.stdout, r.stderr
    # A driver killed before Tune recorded the trials as finished: the resume leaves their files untouched.
    files = {p: p.stat().st_mtime_ns for p in d.glob("*/seed*/*")}
    shutil.rmtree(d / "tune")
    assert sweep.main(["--resume", str(d)]) == 0
    assert {p: p.stat().st_mtime_ns for p in d.glob("*/seed*/*")} == files
    # An attempt killed after its first evaluation but before its first checkpoint left a best_actor.pt and
    # its logs: the retry starts that trial over (logs too) instead of refusing its folder.
    t = d / "InvertedPendulum-v5" / "seed0"
    for name in ("checkpoint.pt", "actor.pt"):
        (t / name).unlink()
    shutil.rmtree(d / "tune")
    assert sweep.main(["--resume", str(d)]) == 0
    assert ckpt_io.load(t / "actor.pt", "actor")["step"] == 1200
    assert [int(r[0]) for r in rows(t / "metrics.csv") if r[1] == "eval/return"] == [400, 800, 1200]


def last_result(trial_path):
    lines = (trial_path / "result.json").read_text().splitlines() if (trial_path / "result.json").exists() else []
    return json.loads(lines[-1]) if lines else None


def test_killed_trial_is_retried_from_its_checkpoint_and_ends_bit_identical(tmp_path):
    d = tmp_path / "killed"
    killed = {}

    def kill_after_first_checkpoint():
        trial = d / "tune" / "Pendulum-v1_seed3"
        deadline = time.time() + 240
        while time.time() < deadline:
            result = last_result(trial) if trial.exists() else None
            if result and list(trial.glob("checkpoint_*")) and 800 <= result["step"] < 2000:
                killed["step"], killed["pid"] = result["step"], result["pid"]
                os.kill(result["pid"], signal.SIGKILL)  # the trial's worker process, nothing else
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_after_first_checkpoint)
    killer.start()
    assert sweep.main(["--envs", "Pendulum-v1", "--seeds", "3", "--sweep-dir", str(d), "--total-steps", "3000",
                       "--max-failures", "2", *TINY_FLAGS]) == 0
    killer.join()
    assert killed, "the trial finished before it could be killed"
    t = d / "Pendulum-v1" / "seed3"
    # Retried from the checkpoint, not from scratch: the CSV continues without repeats or gaps.
    steps = [int(r[0]) for r in rows(t / "metrics.csv") if r[1] == "eval/return"]
    assert steps == [400, 800, 1200, 1600, 2000, 2400, 2800]
    assert last_result(d / "tune" / "Pendulum-v1_seed3")["pid"] != killed["pid"]

    cfg = make_config({**TINY, "seed": 3, "total_steps": 3000, "models_dir": str(tmp_path / "ref"),
                       "runs_dir": str(tmp_path / "ref")})
    reference = ckpt_io.load(train.train(cfg, quiet=True)["checkpoint"], "checkpoint")
    result = ckpt_io.load(t / "checkpoint.pt", "checkpoint")
    assert result["step"] == reference["step"] == 3000
    for net in ("actor", "critic", "actor_target", "critic_target"):
        for k, v in reference["agent"][net].items():
            assert torch.equal(result["agent"][net][k], v), (net, k)


def test_killed_driver_resumes_without_rerunning_finished_trials(tmp_path, local_ray):
    d = tmp_path / "driver"
    cmd = [sys.executable, str(ROOT / "sweep.py"), "--address", local_ray]
    # Two CPUs per trial on a 2-CPU Ray: the trials run one after the other.
    log = tmp_path / "driver.err"  # a file: a pipe nobody reads would fill and stall the driver
    with log.open("w") as err:
        driver = subprocess.Popen([*cmd, "--envs", "Pendulum-v1", "--seeds", "0", "1", "--sweep-dir", str(d),
                                   "--cpus-per-trial", "2", "--total-steps", "1600", *TINY_FLAGS],
                                  stdout=subprocess.DEVNULL, stderr=err)
    first, second = d / "Pendulum-v1" / "seed0", d / "tune" / "Pendulum-v1_seed1"
    deadline = time.time() + 600  # generous: CI may run beside a sweep; the loop ends as soon as it can
    ready = False
    while not ready and time.time() < deadline and driver.poll() is None:
        done = (first / "actor.pt").exists() and ckpt_io.load(first / "actor.pt", "actor")["step"] == 1600
        ready = done and second.exists() and bool(list(second.glob("checkpoint_*")))
        time.sleep(0.05)
    driver.kill()
    driver.wait()
    assert ready, (f"seed 1 reached no checkpoint after seed 0 finished (driver exit {driver.returncode}): "
                   f"{log.read_text()[-2000:]}")
    finished = {p.name: p.stat().st_mtime_ns for p in first.iterdir()}
    assert ckpt_io.load(d / "Pendulum-v1" / "seed1" / "checkpoint.pt", "checkpoint")["step"] < 1600

    r = subprocess.run([*cmd, "--resume", str(d)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert {p.name: p.stat().st_mtime_ns for p in first.iterdir()} == finished  # seed 0 was not rerun
    resumed = d / "Pendulum-v1" / "seed1"
    assert ckpt_io.load(resumed / "actor.pt", "actor")["step"] == 1600
    keys = [(r[0], r[1]) for r in rows(resumed / "metrics.csv")]
    assert len(keys) == len(set(keys))  # no step logged twice across the restart
    assert "| Pendulum-v1 | tuned | 2 of 2 | 1,600 |" in (d / "summary.md").read_text()


@pytest.mark.parametrize("argv, needle", [
    (["--envs", "NoSuchEnv-v0", "--seeds", "0"], "NoSuchEnv-v0"),
    (["--envs", "Pendulum-v1", "--seeds", "0", "1", "0"], "--seeds repeats 0"),
    (["--envs", "Pendulum-v1", "--seeds", "0", "--address", "127.0.0.1:9"], "--address 127.0.0.1:9"),
    (["--envs", "Pendulum-v1", "--seeds", "0", "--address", "127.0.0.1:99999"], "a port from 1 to 65535"),
    (["--envs", "Pendulum-v1", "--seeds", "0", "--cpus-per-trial", "64"], "--cpus-per-trial 64"),
    (["--envs", "Pendulum-v1", "--seeds", "0", "--cpus-per-trial", "0"], "--cpus-per-trial must be >= 1, got 0"),
    (["--envs", "Pendulum-v1", "--seeds", "0", "--max-failures", "-1"], "--max-failures must be >= 0, got -1"),
    (["--envs", "Pendulum-v1", "--seeds", "0", "-1"], "--seeds must be >= 0, got [0, -1]"),
    (["--envs", "Pendulum-v1", "--seeds", "0", "--gpus-per-trial", "0.25"], "--gpus-per-trial 0.25 is more than the "
                                                                           "cluster's 0 GPUs"),
    (["--envs", "Pendulum-v1", "--seeds", "0", "--tau", "2"], "--tau"),
    # blank values (an unset $VAR) are refused, not read as the flag's absence
    (["--envs", "Pendulum-v1", "--seeds", "0", "--name", ""], "--name must name a sweep, got ''"),
    (["--envs", "Pendulum-v1", "--seeds", "0", "--address", " "], "--address must name a Ray cluster, got ' '"),
    (["--summary", ""], "--summary must name a sweep folder, got ''"),
    (["--resume", "", "--envs", "Pendulum-v1", "--seeds", "0"], "--resume must name a sweep folder, got ''"),
])
def test_bad_input_is_one_line_and_starts_nothing(tmp_path, capsys, argv, needle):
    d = tmp_path / "bad"
    assert sweep.main([*argv, "--sweep-dir", str(d)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0], err
    assert not d.exists()


def test_bf16_on_a_cpu_that_would_emulate_it_is_refused_before_ray_starts(tmp_path, capsys, monkeypatch):
    from ddpg import runtime

    monkeypatch.setattr(sweep, "connect", lambda *a: pytest.fail("Ray started for a sweep that cannot run"))
    monkeypatch.setattr(runtime, "native_bf16", lambda: False)
    d = tmp_path / "bf16"
    argv = ["--envs", "Pendulum-v1", "--seeds", "0", "--matmul-precision", "bf16", "--sweep-dir", str(d)]
    assert sweep.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --matmul-precision bf16: "), err
    assert not d.exists()
    # a bf16 sweep started on a machine with bf16, resumed on one without
    monkeypatch.setattr(runtime, "native_bf16", lambda: True)
    spec = sweep.new_spec(sweep.build_parser().parse_args(argv))
    monkeypatch.setattr(runtime, "native_bf16", lambda: False)
    d.mkdir()
    (d / sweep.SPEC_FILE).write_text(json.dumps(spec))
    assert sweep.main(["--resume", str(d)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --matmul-precision bf16: "), err
    assert [p.name for p in d.iterdir()] == [sweep.SPEC_FILE]


def test_an_unwritable_sweep_dir_is_one_line_before_ray_starts(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sweep, "connect", lambda *a: pytest.fail("Ray started for a sweep it cannot write"))
    (tmp_path / "a_file").write_text("x")
    for d in ("/proc/ddpg-sweep", str(tmp_path / "a_file" / "s")):
        assert sweep.main(["--envs", "Pendulum-v1", "--seeds", "0", "--sweep-dir", d]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: --sweep-dir: cannot write to"), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_a_trial_folder_with_an_actor_but_no_checkpoint_is_refused_not_wiped(tmp_path, monkeypatch):
    from ray import tune

    monkeypatch.setattr(tune, "get_checkpoint", lambda: None)  # Tune's own record lost too
    spec = {"name": "s", "sweep_dir": str(tmp_path), "envs": ["Pendulum-v1"], "seeds": [0], "flags": {},
            "cpus_per_trial": 1, "gpus_per_trial": 0, "max_failures": 3}
    t = sweep.trial_dir(tmp_path, "Pendulum-v1", 0)
    t.mkdir(parents=True)
    for name in ("actor.pt", "best_actor.pt", "metrics.csv"):
        (t / name).write_text(name)
    with pytest.raises(DDPGError, match="actor.pt but no checkpoint.pt"):
        sweep.run_trial({"env": "Pendulum-v1", "seed": 0}, spec)
    assert {p.name: p.read_text() for p in t.iterdir()} == {n: n for n in ("actor.pt", "best_actor.pt", "metrics.csv")}


def test_trials_stopped_by_ctrl_c_are_counted_unfinished(tmp_path):
    # Ray's Result has no config until its trial reports; a Ctrl-C before a trial's turn must count it,
    # not end in a TypeError (as it once did, with 10 trials queued).
    from types import SimpleNamespace as R
    spec = {"name": "s", "sweep_dir": str(tmp_path), "envs": ["Pendulum-v1"], "seeds": [0], "flags": {},
            "cpus_per_trial": 1, "gpus_per_trial": 0, "max_failures": 3}
    budget = make_config({"env": "Pendulum-v1"}).total_steps
    at = lambda step: R(error=None, metrics={"step": step}, config={"env": "Pendulum-v1", "seed": 0})  # noqa: E731
    assert sweep.unfinished_trials([at(budget), at(budget - 1000), R(error=None, metrics=None, config=None),
                                    R(error=RuntimeError("x"), metrics=None, config=None)], spec) == 2
    assert sweep.unfinished_trials([at(budget)], spec) == 0


def test_resume_or_summary_of_a_folder_without_a_sweep(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("x")
    for mode in ("--resume", "--summary"):
        assert sweep.main([mode, str(tmp_path)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "holds no sweep" in err[0], err
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
    assert sweep.main(["--resume", str(tmp_path), "--total-steps", "5"]) == 2  # a sweep's flags are fixed
    assert "drop --total-steps" in capsys.readouterr().err


def test_a_second_sweep_into_the_same_folder_is_refused(tmp_path, capsys):
    d = tmp_path / "s"
    d.mkdir()
    (d / sweep.SPEC_FILE).write_text(json.dumps({"name": "x"}))
    assert sweep.main(["--envs", "Pendulum-v1", "--seeds", "0", "--sweep-dir", str(d)]) == 2
    assert "--resume" in capsys.readouterr().err
    assert json.loads((d / sweep.SPEC_FILE).read_text()) == {"name": "x"}


def fake_trial(folder, last_logged, evals):
    """A trial folder as train.py leaves it: metrics.csv with a steps/s row every 1000 steps up to
    `last_logged`, plus one at `last_logged` itself when that is the run's last step (train.py logs it)."""
    folder.mkdir(parents=True)
    sps_steps = sorted({*range(1000, last_logged + 1, 1000), last_logged})
    lines = ["step,tag,value"] + [f"{s},charts/sps,100" for s in sps_steps]
    lines += [f"{s},eval/return,{v}" for s, v in evals]
    (folder / "metrics.csv").write_text("\n".join(lines) + "\n")


def test_an_env_with_no_trial_started_reads_not_started(tmp_path):
    d = tmp_path / "fake"
    d.mkdir()
    spec = {"name": "fake", "sweep_dir": str(d), "envs": ["Pendulum-v1", "MountainCarContinuous-v0"], "seeds": [0],
            "flags": {}, "cpus_per_trial": 1, "gpus_per_trial": 0, "max_failures": 3}
    (d / sweep.SPEC_FILE).write_text(json.dumps(spec))
    fake_trial(d / "Pendulum-v1" / "seed0", 100_000, [(100_000, -150.0)])
    table = sweep.summarize(d)
    assert "| MountainCarContinuous-v0 | tuned | 0 of 1 | not started | – | – |" in table, table
    assert "| Pendulum-v1 | tuned | 1 of 1 | 100,000 | -150.0 (1 seed) |" in table, table


def test_summary_uses_each_envs_own_budget_and_the_last_logged_step(tmp_path, capsys):
    d = tmp_path / "fake"
    d.mkdir()
    spec = {"name": "fake", "sweep_dir": str(d), "envs": ["Pendulum-v1", "InvertedPendulum-v5"], "seeds": [0, 1],
            "flags": {}, "cpus_per_trial": 1, "gpus_per_trial": 0, "max_failures": 3}
    (d / sweep.SPEC_FILE).write_text(json.dumps(spec))
    # Pendulum's budget is 100k (env_settings.toml); seed 1 stopped short, last logged at 99,000. No driver
    # holds the folder, so its unfinished trials are (stopped), not (running).
    fake_trial(d / "Pendulum-v1" / "seed0", 100_000, [(50_000, -300.0), (100_000, -150.0)])
    fake_trial(d / "Pendulum-v1" / "seed1", 99_000, [(50_000, -200.0), (90_000, -250.0)])
    # InvertedPendulum's budget is 1M: at 100k none of its seeds is finished.
    fake_trial(d / "InvertedPendulum-v5" / "seed0", 100_000, [(100_000, 1000.0)])
    table = sweep.summarize(d)
    assert "| Pendulum-v1 | tuned | 1 of 2 | 99,000–100,000 of 100,000 | -150.0 (1 seed) | -150.0 (seed 0, 100,000) |" \
        in table, table
    assert "| Pendulum-v1 | 1 | 99,000 (stopped) | -250.0 | -200.0 (50,000) |" in table
    assert "| InvertedPendulum-v5 | tuned | 0 of 2 | 100,000 of 1,000,000 | 1000.0 (1 seed, stopped) |" in table
    assert "| InvertedPendulum-v5 | 0 | 100,000 (stopped) |" in table
    assert "| InvertedPendulum-v5 | 1 | not started |" in table
    # A trial that has started but not yet evaluated says so, rather than nan.
    fake_trial(d / "InvertedPendulum-v5" / "seed1", 6_000, [])
    assert "| InvertedPendulum-v5 | 1 | 6,000 (stopped) | – (no evaluation yet) | – | 0.02 h | 100 |" \
        in sweep.summarize(d)
    shutil.rmtree(d / "InvertedPendulum-v5" / "seed1")
    table = sweep.summarize(d)
    assert "| Pendulum-v1 | 0 | 100,000 | -150.0 | -150.0 (100,000) | 0.28 h | 100 |" in table

    # The exported copy (what results/ keeps) gives the same table without the sweep folder.
    out = tmp_path / "results" / "fake"
    assert sweep.main(["--summary", str(d), "--export", str(out)]) == 0
    shutil.rmtree(d)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["sweep.json", "summary.md", "Pendulum-v1.png", "InvertedPendulum-v5.png", "Pendulum-v1_seed0.csv",
         "Pendulum-v1_seed1.csv", "InvertedPendulum-v5_seed0.csv"])
    assert sweep.summarize(out) == table
    # A copy is not a sweep to go on with, and another sweep's export does not land on top of it.
    assert sweep.main(["--resume", str(out)]) == 2
    assert "exported copy" in capsys.readouterr().err
    other = tmp_path / "other"
    other.mkdir()
    (other / sweep.SPEC_FILE).write_text(json.dumps({**spec, "name": "other", "sweep_dir": str(other)}))
    files = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sweep.main(["--summary", str(other), "--export", str(out)]) == 2
    assert "holds sweep 'fake'" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == files
    assert sorted(p.name for p in other.iterdir()) == [sweep.SPEC_FILE]  # refused before the summary was written
    # Nor does an export land on a live sweep, even one with the same name and grid.
    live = tmp_path / "live"
    live.mkdir()
    (live / sweep.SPEC_FILE).write_text(json.dumps({**spec, "sweep_dir": str(live)}))
    assert sweep.main(["--summary", str(out), "--export", str(live)]) == 2
    assert "holds a sweep, not an exported copy" in capsys.readouterr().err
    assert sorted(p.name for p in live.iterdir()) == [sweep.SPEC_FILE] and "exported_from" not in \
        (live / sweep.SPEC_FILE).read_text()
    # Nor on a folder of other files, such as results/curves: their names may match the export's.
    curves = tmp_path / "curves"
    curves.mkdir()
    (curves / "Pendulum-v1.png").write_bytes(b"another table's curve")
    assert sweep.main(["--summary", str(out), "--export", str(curves)]) == 2
    assert "holds other files; export to a new or empty folder" in capsys.readouterr().err
    assert [(p.name, p.read_bytes()) for p in curves.iterdir()] == [("Pendulum-v1.png", b"another table's curve")]


def test_the_newest_of_the_registered_and_the_trials_own_checkpoint_wins(tmp_path):
    paths = []
    for name, step in (("tune", 400), ("own", 800)):
        state = dict.fromkeys(ckpt_io.REQUIRED_KEYS["checkpoint"], 0)
        (tmp_path / name).mkdir()
        torch.save({**state, "kind": "checkpoint", "format_version": 1, "config": make_config({}).to_dict(),
                    "step": step}, tmp_path / name / "c.pt")
        paths.append(tmp_path / name / "c.pt")
    assert sweep.newest_checkpoint(*paths) == paths[1]
    assert sweep.newest_checkpoint(paths[0], tmp_path / "missing.pt") == paths[0]
    assert sweep.newest_checkpoint(tmp_path / "missing.pt") is None


@contextlib.contextmanager
def held_by_another_process(folder):
    """`folder` held as a running sweep.py holds it, by another process, until the block ends."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from ddpg import checkpoint\n"
         "with checkpoint.held(Path(sys.argv[1]), 'running'):\n    print('held', flush=True); time.sleep(300)",
         str(folder)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.kill()
        holder.wait()


def test_summary_says_running_only_while_a_driver_holds_the_sweep(tmp_path):
    d = tmp_path / "live"
    d.mkdir()
    spec = {"name": "live", "sweep_dir": str(d), "envs": ["Pendulum-v1"], "seeds": [0],
            "flags": {}, "cpus_per_trial": 1, "gpus_per_trial": 0, "max_failures": 3}
    (d / sweep.SPEC_FILE).write_text(json.dumps(spec))
    fake_trial(d / "Pendulum-v1" / "seed0", 40_000, [(40_000, -400.0)])
    row = "| Pendulum-v1 | 0 | 40,000 ({}) | -400.0 |"
    assert row.format("stopped") in sweep.summarize(d)
    with held_by_another_process(d):
        table = sweep.summarize(d)
        assert row.format("running") in table and "(stopped) |" not in table, table
        assert row.format("stopped") in sweep.summarize(d, running=False)  # the driver's own, once fit() returns
    assert row.format("stopped") in sweep.summarize(d)  # the kernel dropped the dead holder's lock


def test_a_sweep_being_run_is_refused_to_a_second_driver(tmp_path, capsys, monkeypatch):
    # Two drivers on one sweep would run each trial twice into the same folders: the second is refused
    # before Ray starts, and the first driver's folder is left as it was.
    monkeypatch.setattr(sweep, "connect", lambda *a: pytest.fail("Ray started for a sweep already running"))
    d = tmp_path / "s"
    spec = sweep.new_spec(sweep.build_parser().parse_args(["--envs", "Pendulum-v1", "--seeds", "0",
                                                           "--sweep-dir", str(d)]))
    d.mkdir()
    (d / sweep.SPEC_FILE).write_text(json.dumps(spec))
    with held_by_another_process(d):
        assert sweep.main(["--resume", str(d)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"error: {d} is in use: another process is running it now; wait for that one to end, "
                       f"or stop it"], err
    assert [p.name for p in d.iterdir()] == [sweep.SPEC_FILE]


def test_weights_only_is_recorded_fixed_on_resume_and_said_in_the_summary(tmp_path, capsys):
    d = tmp_path / "ship"
    args = sweep.build_parser().parse_args(["--envs", "Pendulum-v1", "--seeds", "0", "--weights-only",
                                            "--sweep-dir", str(d)])
    spec = sweep.new_spec(args)
    assert spec["weights_only"] is True and "weights_only" not in spec["flags"]  # not a train.py flag
    plain = sweep.new_spec(sweep.build_parser().parse_args(["--envs", "Pendulum-v1", "--seeds", "0",
                                                            "--sweep-dir", str(tmp_path / "plain")]))
    assert "weights_only" not in plain  # a results sweep's sweep.json is as before the flag
    d.mkdir()
    (d / sweep.SPEC_FILE).write_text(json.dumps(spec))
    fake_trial(d / "Pendulum-v1" / "seed0", 100_000, [(100_000, -150.0)])
    assert "only for their weights (--weights-only): not results" in sweep.summarize(d)
    # the sweep's purpose is fixed when it starts, like its grid
    assert sweep.main(["--resume", str(d), "--weights-only"]) == 2
    assert "drop --weights-only" in capsys.readouterr().err
    # a hand-edited value is refused in one line, not read as true
    (d / sweep.SPEC_FILE).write_text(json.dumps({**spec, "weights_only": "no"}))
    assert sweep.main(["--summary", str(d)]) == 2
    assert "its weights_only is not true or false" in capsys.readouterr().err
