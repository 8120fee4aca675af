import os
import sys
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering in tests and CI
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # train.py, main.py and plot.py are scripts at the repo root

import torch  # noqa: E402

torch.set_num_threads(1)  # the test networks are tiny: one thread is faster and leaves a core free
