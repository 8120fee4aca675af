"""The camera follows the agent: in main.py's videos, in a window (under Xvfb), for every locomotion env."""
import os
import select
import shutil
import subprocess
import sys
import time

import imageio.v2 as imageio
import numpy as np
import pytest

from conftest import ROOT
from ddpg.gym_utils import make_env
from ddpg.video import VideoWriter
from test_cli import run

SHIPPED_CHEETAH = ROOT / "models" / "HalfCheetah-v5" / "actor.pt"


def agent_pixels(frame: np.ndarray) -> int:
    """Pixels of the agents' tan/brown body; the checker floor, sky and menu text are grey or green-white."""
    f = np.asarray(frame, dtype=np.int32)
    return int(((f[..., 0] - f[..., 2] > 40) & (f[..., 0] > 80)).sum())


def test_video_keeps_the_running_cheetah_in_frame(tmp_path):
    r = run("main.py", "--weights", str(SHIPPED_CHEETAH), "--episodes", "1", "--record", str(tmp_path / "c.mp4"),
            "--env-kwargs", "width=240", "height=240", cwd=tmp_path)  # a quarter of the pixels: 4x faster
    assert r.returncode == 0, r.stderr
    assert float(r.stdout.split("return ")[1].split(",")[0]) > 5000  # it runs far: ~80 m in an episode
    frames = imageio.mimread(tmp_path / "c.mp4", memtest=False)
    assert len(frames) == 1001
    counts = [agent_pixels(frames[i]) for i in (0, 100, 300, 500, 900, 1000)]
    assert min(counts) > 250, counts


@pytest.mark.parametrize("env_id", ["Ant-v5", "Walker2d-v5", "Swimmer-v5"])
def test_video_follows_other_locomotion_agents_anywhere(tmp_path, env_id):
    """Move the agent's root 0, 25 and 100 m along x and record a frame at each."""
    env = make_env(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    u = env.unwrapped
    path = tmp_path / f"{env_id}.mp4"
    with VideoWriter(path, fps=10) as video:
        for x in (0.0, 25.0, 100.0):
            qpos = u.data.qpos.copy()
            qpos[0] = x
            u.set_state(qpos, np.zeros_like(u.data.qvel))
            video.append(env.render())
    env.close()
    counts = [agent_pixels(f) for f in imageio.mimread(path, memtest=False)]
    assert len(counts) == 3 and min(counts) > 300, counts
    assert max(counts) < 3 * min(counts), counts  # the same view of the agent wherever it is


def test_fixed_base_envs_keep_their_own_view():
    env = make_env("InvertedPendulum-v5", render_mode="rgb_array")
    assert "type" not in (env.unwrapped.mujoco_renderer.default_cam_config or {})
    env.close()


@pytest.mark.skipif(not (shutil.which("Xvfb") and shutil.which("import")),
                    reason="needs Xvfb and ImageMagick's import (apt-get install xvfb imagemagick)")
def test_window_keeps_the_cheetah_in_view(tmp_path):
    display = f":{90 + os.getpid() % 9}"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "800x600x24"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    env = {k: v for k, v in os.environ.items() if k != "MUJOCO_GL"}  # a window: GLFW, not EGL
    env.update(DISPLAY=display, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    viewer = None
    try:
        time.sleep(2)
        viewer = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "--weights", str(SHIPPED_CHEETAH),
                                   "--episodes", "1"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        # Time from the episode's start, not the process's: start-up is slow on a loaded machine.
        ready, _, _ = select.select([viewer.stdout], [], [], 120)
        assert ready and viewer.stdout.readline().startswith("policy:"), viewer.communicate()[1]
        counts = []
        for wait in (4, 14):  # after ~4 s and ~18 s of real-time play the cheetah has run 30-100 m
            time.sleep(wait)
            assert viewer.poll() is None, viewer.communicate()[1]
            shot = tmp_path / f"shot{len(counts)}.png"
            subprocess.run(["import", "-display", display, "-window", "root", str(shot)], check=True, timeout=30)
            counts.append(agent_pixels(imageio.imread(shot)[..., :3]))
        assert min(counts) > 300, counts
    finally:
        if viewer is not None:
            viewer.kill()
            viewer.wait()
        xvfb.kill()
        xvfb.wait()
