"""main.py's rollouts and video, plot.py, and a learning regression."""
import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest

import plot
import train
from conftest import ROOT
from ddpg.config import make_config
from test_cli import assert_clean_error, run, train_tiny


@pytest.fixture(scope="module")
def inverted_pendulum(tmp_path_factory):
    return train_tiny(tmp_path_factory, "InvertedPendulum-v5", 300)


def test_main_headless_writes_a_video_with_real_frames(inverted_pendulum):
    r = run("main.py", "--env", "InvertedPendulum-v5", "--episodes", "2", cwd=inverted_pendulum)
    assert r.returncode == 0, r.stderr
    lengths = [int(n) for n in re.findall(r"length (\d+)", r.stdout)]
    assert len(lengths) == 2
    path = inverted_pendulum / "videos" / "InvertedPendulum-v5.mp4"
    frames = imageio.mimread(path, memtest=False)
    assert len(frames) == sum(lengths) + 2  # the reset frame plus one per step, per episode
    f = np.asarray(frames[len(frames) // 2], dtype=np.float32)
    assert f.ndim == 3 and f.shape[2] == 3
    assert f.std() > 10 and len(np.unique(f.reshape(-1, 3), axis=0)) > 50  # a scene, not a blank image
    assert not (inverted_pendulum / "videos" / "InvertedPendulum-v5.partial.mp4").exists()


@pytest.mark.parametrize("gl, needle", [("no-such-backend", "MUJOCO_GL"), ("glfw", "rendering")])
def test_main_reports_unusable_opengl_in_one_line(inverted_pendulum, tmp_path, gl, needle):
    """An invalid MUJOCO_GL fails at `import mujoco`; GLFW without a display fails at the first frame."""
    env = {**os.environ, "MUJOCO_GL": gl, "PYTHONPATH": str(ROOT)}
    env.pop("DISPLAY", None)
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), "--env", "InvertedPendulum-v5", "--episodes", "1",
                        "--record", str(tmp_path / "v.mp4")], cwd=inverted_pendulum, env=env,
                       capture_output=True, text=True, timeout=300)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], r.stderr
    assert not list(tmp_path.iterdir())  # no video, not even a partial one


def test_main_no_render_prints_episodes_and_mean(inverted_pendulum):
    r = run("main.py", "--env", "InvertedPendulum-v5", "--episodes", "3", "--no-render", cwd=inverted_pendulum)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    returns = [float(x) for x in re.findall(r"return (-?[\d.]+), length", r.stdout)]
    assert len(returns) == 3
    assert re.fullmatch(r"mean return -?[\d.]+ over 3 episodes", lines[-1])
    assert float(lines[-1].split()[2]) == pytest.approx(np.mean(returns), abs=0.1)


def write_metrics(path, rows):
    path.parent.mkdir(parents=True)
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([("step", "tag", "value"), *rows])
    return path


def test_plot_draws_mean_of_several_runs(tmp_path):
    # Two seeds evaluated at different steps; b runs longer, and its step-300 point is past a's end.
    a = write_metrics(tmp_path / "runs" / "Pendulum-v1" / "a" / "metrics.csv",
                      [(0, "eval/return", 10), (100, "eval/return", 20), (100, "charts/sps", 999),
                       (200, "eval/return", 30)])
    b = write_metrics(tmp_path / "runs" / "Pendulum-v1" / "b" / "metrics.csv",
                      [(0, "eval/return", 30), (50, "eval/return", 40), (200, "eval/return", 70),
                       (300, "eval/return", 1000)])
    # On the union of their steps up to 200: a = 10, 15, 20, 30 and b = 30, 40, 50, 70 (interpolated)
    grid, mean = plot.plot_runs([plot.read_curve(p, "eval/return") for p in (a, b)], tmp_path / "direct.png",
                                "title", "eval/return")
    assert grid.tolist() == [0, 50, 100, 200] and mean.tolist() == pytest.approx([20, 27.5, 35, 50])
    r = run("plot.py", str(a), str(b), "--out", str(tmp_path / "c.png"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"wrote {tmp_path / 'c.png'}: 2 run(s), 4 points, last mean 50.0"
    img = imageio.imread(tmp_path / "c.png")
    assert img.shape[0] > 300 and img.std() > 10


@pytest.mark.parametrize("path, env", [
    ("runs/HalfCheetah-v5/tuned-seed0-20261125-120000/metrics.csv", "HalfCheetah-v5"),  # train.py's run folder
    ("sweeps/x/Hopper-v5/seed1/metrics.csv", "Hopper-v5"),                               # a trial in a sweep
    ("results/envs-seed0/MountainCarContinuous-v0_seed0.csv", "MountainCarContinuous-v0"),  # sweep.py --export
    ("results/halfcheetah_manual_60k_seed0.csv", "halfcheetah_manual_60k"),
    ("results/rocket_ddpg_seed0_evals.csv", "rocket_ddpg_seed0_evals"),                 # no seed suffix: the stem
])
def test_plot_titles_each_csv_layout_with_its_env(path, env):
    assert plot.env_of(Path(path)) == env


@pytest.mark.parametrize("text, needle", [
    ("step,name,val\n0,eval/return,1\n", "needs the columns step, tag, value"),
    ("step,tag,value\n0,eval/return,1\n100,eval/return,abc\n", "line 3"),
])
def test_plot_refuses_a_malformed_csv(tmp_path, text, needle):
    path = tmp_path / "metrics.csv"
    path.write_text(text)
    r = run("plot.py", str(path), "--out", str(tmp_path / "c.png"), cwd=tmp_path)
    assert_clean_error(r, str(path), needle)
    assert not (tmp_path / "c.png").exists()


def test_pendulum_learns_with_default_preset(tmp_path):
    """Random actions score about -1200 on Pendulum-v1; the tuned preset reaches > -400 in 5k steps."""
    cfg = make_config({"env": "Pendulum-v1", "total_steps": 5000, "learning_starts": 1000, "eval_interval": 5000,
                       "eval_episodes": 5, "models_dir": str(tmp_path / "m"), "runs_dir": str(tmp_path / "r")})
    summary = train.train(cfg, quiet=True)
    with open(summary["run_dir"] / "metrics.csv", newline="") as f:
        random_phase = [float(r["value"]) for r in csv.DictReader(f)
                        if r["tag"] == "charts/episodic_return" and int(r["step"]) <= 1000]
    assert np.mean(random_phase) < -900
    assert summary["eval_return"] > -400
