"""Size and time of a full training checkpoint with a full 1M-transition HalfCheetah buffer.

    python benchmarks/checkpoint_cost.py
    python benchmarks/checkpoint_cost.py --transitions 100000

Builds the agent and buffer train.py would build for HalfCheetah-v5 (17-d observations, 6-d
actions, default preset), fills the buffer, then times the atomic save (write, fsync, rename)
and the load of the checkpoint, in a scratch directory.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ddpg import checkpoint as ckpt_io  # noqa: E402
from ddpg.agent import DDPGAgent  # noqa: E402
from ddpg.buffer import ReplayBuffer  # noqa: E402
from ddpg.config import Config  # noqa: E402
from ddpg.errors import (ArgumentParser, DDPGError, DefaultsHelpFormatter, require_at_least,  # noqa: E402
                         require_named)
from ddpg.noise import make_noise  # noqa: E402


def main() -> int:
    p = ArgumentParser(description=__doc__.splitlines()[0],
                       formatter_class=DefaultsHelpFormatter)
    p.add_argument("--transitions", type=int, default=1_000_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--dir", default=None,
                   help="write in a scratch folder made here, removed after (default: the system's temporary folder)")
    args = p.parse_args()
    try:
        require_at_least("--transitions", args.transitions, 1)
        require_at_least("--repeats", args.repeats, 1)
        require_named("--dir", args.dir)
        if args.dir is not None:
            ckpt_io.ensure_writable_dirs({"--dir": Path(args.dir)})
        measure(args.transitions, args.repeats, args.dir)
    except DDPGError as e:  # also a buffer too large to allocate
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def measure(transitions: int, repeats: int, where: str | None) -> None:
    """Time the save and the load of a full checkpoint whose buffer holds `transitions` rows, `repeats` times."""
    cfg = Config()
    obs_dim, act_dim = 17, 6
    low, high = -np.ones(act_dim), np.ones(act_dim)
    agent = DDPGAgent(obs_dim, low, high, cfg)
    header = ckpt_io.run_header(cfg, obs_dim, low, high)
    noise = make_noise(cfg.noise, act_dim, np.random.default_rng(0), cfg.noise_sigma, cfg.ou_theta, cfg.ou_dt)
    buf = ReplayBuffer(transitions, obs_dim, act_dim, "cpu")
    # Realistic contents: episodes of 1000 steps whose next observation is the following row's observation.
    rng = np.random.default_rng(0)
    obs = rng.standard_normal((transitions + 1, obs_dim)).astype(np.float32)
    c = buf.cols
    rows = buf.storage.numpy()
    rows[:, c["obs"]] = obs[:-1]
    rows[:, c["next_obs"]] = obs[1:]
    rows[:, c["action"]] = rng.uniform(-1, 1, (transitions, act_dim))
    rows[:, c["reward"]] = rng.standard_normal((transitions, 1))
    ends = np.arange(999, transitions, 1000)
    rows[ends, c["next_obs"]] = rng.standard_normal((len(ends), obs_dim))  # the final obs of each episode
    buf.pos, buf.size = 0, transitions

    saves, loads = [], []
    with tempfile.TemporaryDirectory(dir=where) as d:  # a fresh folder: no file of the user's is overwritten
        out = Path(d) / ckpt_io.CHECKPOINT_FILE
        for _ in range(repeats):
            t = time.perf_counter()
            # what train.py's save() writes
            state = ckpt_io.checkpoint_state(
                header, run_id=None, step=transitions, episode=transitions // 1000, unfinished_episode=None,
                best_eval_return=0.0, last_eval_return=0.0, best_actor=ckpt_io.actor_state(header, 0, agent.actor, 0.0),
                agent=agent, buffer=buf, noise=noise, rng=rng)
            ckpt_io.atomic_save(state, out)
            saves.append(time.perf_counter() - t)
            t = time.perf_counter()
            loaded = ckpt_io.load(out, "checkpoint")
            restored = ReplayBuffer(transitions, obs_dim, act_dim, "cpu")
            restored.load_state_dict(loaded["buffer"])
            loads.append(time.perf_counter() - t)
        size = out.stat().st_size
    assert torch.equal(restored.storage, buf.storage), "restored buffer differs"
    raw = transitions * buf.width * 4
    print(f"{transitions:,} transitions: checkpoint {size / 1e6:.1f} MB on disk "
          f"(buffer as stored in memory: {raw / 1e6:.1f} MB); save (incl. fsync) {min(saves):.2f} s, "
          f"load {min(loads):.2f} s, best of {repeats}; restored buffer is bit-identical")


if __name__ == "__main__":
    sys.exit(main())
