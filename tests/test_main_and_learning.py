"""main.py's rollouts and video, plot.py, and a learning regression."""
import csv
import re

import imageio.v2 as imageio
import numpy as np
import pytest

import train
from ddpg.config import make_config
from test_cli import run, train_tiny


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


def test_main_no_render_prints_episodes_and_mean(inverted_pendulum):
    r = run("main.py", "--env", "InvertedPendulum-v5", "--episodes", "3", "--no-render", cwd=inverted_pendulum)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    returns = [float(x) for x in re.findall(r"return (-?[\d.]+), length", r.stdout)]
    assert len(returns) == 3
    assert re.fullmatch(r"mean return -?[\d.]+ over 3 episodes", lines[-1])
    assert float(lines[-1].split()[2]) == pytest.approx(np.mean(returns), abs=0.1)


def test_plot_draws_mean_of_several_runs(inverted_pendulum, tmp_path):
    csvs = sorted(str(p) for p in (inverted_pendulum / "runs").glob("*/*/metrics.csv"))
    r = run("plot.py", *csvs, csvs[0], "--tag", "charts/episodic_return", "--out", str(tmp_path / "c.png"),
            cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "2 run(s)" in r.stdout
    img = imageio.imread(tmp_path / "c.png")
    assert img.shape[0] > 300 and img.std() > 10


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
