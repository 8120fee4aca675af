import os
import sys
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering in tests and CI
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # train.py, main.py and plot.py are scripts at the repo root

import torch  # noqa: E402

torch.set_num_threads(1)  # the test networks are tiny: one thread is faster and leaves a core free

# The tiny training run: Config fields for the in-process tests, `tiny_flags()` for the command-line ones.
TINY = dict(env="Pendulum-v1", hidden_sizes=(32, 32), batch_size=32, learning_starts=200, buffer_size=5000,
            total_steps=1200, eval_interval=400, eval_episodes=1, log_interval=100, checkpoint_interval=300)


def tiny_flags():
    """TINY as train.py flags (hidden_sizes=(32, 32) -> --hidden-sizes 32 32), less the env and step count each test sets."""
    flags = []
    for name, value in TINY.items():
        if name not in ("env", "total_steps"):
            flags += [f"--{name.replace('_', '-')}", *map(str, value if isinstance(value, tuple) else [value])]
    return flags
