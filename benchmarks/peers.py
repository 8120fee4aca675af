"""Learn-phase speed of train.py's loop against Stable-Baselines3's DDPG with the same settings, on the CPU.

    pip install stable-baselines3                         # this benchmark's own dependency, not the project's
    python benchmarks/peers.py                            # 4 pairs at 1 and at 2 threads
    python benchmarks/peers.py --pairs 8 --threads 2 --json results/peers.json
    python benchmarks/peers.py --matmul-precision bf16    # the project side with bf16 products

Both sides run HalfCheetah-v5 with actor and critic 256-256 ReLU, batch 256, one gradient update
per env step, a 1M-row replay buffer that is full from the start, Adam lr 3e-4 for both nets,
γ 0.99, τ 0.005 and Ornstein-Uhlenbeck noise (σ 0.1 of half the action range, θ 0.15, dt 1),
on the CPU with torch limited to the given number of threads. Each measurement is a fresh
process: `--learning-starts` random-action steps, `--warmup` learn-phase steps, then `--steps`
timed learn-phase steps (an env step and an update each). The project's side is
benchmarks/throughput.py's `one_path` (train.py's own loop and its default CPU update, the
hand-written backward; steps/s from the loop's SPS log over the timed window). SB3's side is
`stable_baselines3.DDPG.learn`, timed by a callback over the same window.

Runs are interleaved in pairs, and the order within a pair alternates (project then SB3, then
SB3 then project, ...) so that drift in the machine's speed hits both sides alike. It prints
each pair's steps/s, then per thread count the median steps/s of each side and the median
ratio (project ÷ SB3) with its min and max over the pairs.
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from throughput import MATMUL_PRECISIONS, check_json_out, cpu_model, one_path, report_failed, write_json  # noqa: E402

from ddpg.errors import ArgumentParser, DDPGError, DefaultsHelpFormatter  # noqa: E402

ENV = "HalfCheetah-v5"
BUFFER = 1_000_000
LABELS = {"project": "project", "sb3": "SB3"}
# The shared settings. The project's side takes them from its default preset; main() checks they agree.
SETTINGS: dict[str, Any] = dict(hidden_sizes=(256, 256), batch_size=256, buffer_size=BUFFER, actor_lr=3e-4,
                                critic_lr=3e-4, gamma=0.99, tau=0.005, noise="ou", noise_sigma=0.1, ou_theta=0.15,
                                ou_dt=1.0, critic_action_layer=0, critic_weight_decay=0.0)


def check_project_settings() -> None:
    """Refuse to compare if train.py's defaults for ENV have drifted from SETTINGS."""
    sys.path.insert(0, str(HERE.parent))
    from ddpg.config import make_config

    cfg = make_config(dict(env=ENV))
    wrong = {k: (getattr(cfg, k), v) for k, v in SETTINGS.items() if getattr(cfg, k) != v}
    if wrong:
        raise SystemExit(f"peers.py: train.py's defaults for {ENV} differ from SB3's side here "
                         f"(project, SB3): {wrong}; update SETTINGS")


def sb3_run(threads: int, learning_starts: int, warmup: int, steps: int) -> dict[str, Any]:
    """One SB3 measurement; runs in a fresh process (see `sb3_path`)."""
    import resource

    import gymnasium as gym
    import numpy as np
    import torch
    from stable_baselines3 import DDPG
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.noise import OrnsteinUhlenbeckActionNoise

    torch.set_num_threads(threads)

    class Clock(BaseCallback):
        # With train_freq=1 each rollout is one env step, and learn() trains right after it; so a rollout
        # that starts at `start` steps opens a window of whole (env step + update) steps up to training end.
        def __init__(self, start: int) -> None:
            super().__init__()
            self.start, self.t0, self.n0, self.t1, self.n1 = start, 0.0, -1, 0.0, -1

        def _on_rollout_start(self) -> None:
            if self.n0 < 0 and self.num_timesteps >= self.start:
                self.t0, self.n0 = time.perf_counter(), self.num_timesteps

        def _on_step(self) -> bool:
            return True

        def _on_training_end(self) -> None:
            self.t1, self.n1 = time.perf_counter(), self.num_timesteps

    env = gym.make(ENV)
    n_act = env.action_space.shape[0]
    # SB3 adds the noise to actions scaled to [-1, 1], so σ is relative to half the action range, as in train.py.
    noise = OrnsteinUhlenbeckActionNoise(mean=np.zeros(n_act), sigma=SETTINGS["noise_sigma"] * np.ones(n_act),
                                         theta=SETTINGS["ou_theta"], dt=SETTINGS["ou_dt"])
    model = DDPG("MlpPolicy", env, policy_kwargs=dict(net_arch=list(SETTINGS["hidden_sizes"])),
                 batch_size=SETTINGS["batch_size"], buffer_size=BUFFER, learning_starts=learning_starts,
                 train_freq=1, gradient_steps=1, learning_rate=SETTINGS["actor_lr"], tau=SETTINGS["tau"],
                 gamma=SETTINGS["gamma"], action_noise=noise, device="cpu", seed=0, verbose=0)
    # A full buffer, as on the project's side, so each minibatch is gathered from 1M rows. Random values
    # (not zeros): the arrays are preallocated with np.zeros, whose pages are not even mapped until written;
    # filling them costs ~0.3 GB and well under a second, outside the timed window.
    rb = model.replay_buffer
    rng = np.random.default_rng(0)
    for a in (rb.observations, rb.next_observations, rb.actions, rb.rewards):
        rng.standard_normal(out=a, dtype=a.dtype)
    rb.full, rb.pos = True, 0  # the run writes over the synthetic rows from the start, as train.py's does
    clock = Clock(learning_starts + warmup)
    t0 = time.perf_counter()
    model.learn(total_timesteps=learning_starts + warmup + steps, callback=clock)
    return dict(sps=(clock.n1 - clock.n0) / (clock.t1 - clock.t0), timed_steps=clock.n1 - clock.n0,
                peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                wall_s=time.perf_counter() - t0, threads=torch.get_num_threads())


def sb3_path(threads: int, args: argparse.Namespace) -> dict[str, Any]:
    """`sb3_run` in a fresh process, so thread settings and memory are its own."""
    code = (f"import json, sys; sys.path.insert(0, {str(HERE)!r}); import peers; "
            f"print(json.dumps(peers.sb3_run({threads}, {args.learning_starts}, {args.warmup}, {args.steps})))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if r.returncode != 0:
        return {"error": (r.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def project_path(threads: int, args: argparse.Namespace) -> dict[str, Any]:
    """throughput.py's measurement of train.py's loop, with the buffer full (1M synthetic rows)."""
    ns = argparse.Namespace(env=ENV, device="cpu", threads=threads, steps=args.steps, warmup=args.warmup,
                            learning_starts=args.learning_starts, buffer_size=BUFFER, fill=BUFFER,
                            log_interval=log_interval(args), parts=False)
    r = one_path("manual", args.matmul_precision, ns)  # the hand-written backward: train.py's CPU default
    r.pop("path", None)
    return r


def log_interval(args: argparse.Namespace) -> int:
    """The largest SPS log interval, up to train.py's default 1000, whose logs fall exactly on the timed
    window's edges: then the window averaged is exactly the `--steps` timed steps, as on SB3's side."""
    g = math.gcd(args.learning_starts + args.warmup, args.steps)
    return next(d for d in range(min(g, 1000), 0, -1) if g % d == 0)


def main() -> int:
    p = ArgumentParser(description=__doc__.splitlines()[0],
                       formatter_class=DefaultsHelpFormatter)
    p.add_argument("--pairs", type=int, default=4, help="interleaved (project, SB3) pairs per thread count")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch intra-op thread counts")
    p.add_argument("--steps", type=int, default=4000, help="measured learn-phase steps")
    p.add_argument("--warmup", type=int, default=1000, help="learn-phase steps before measuring")
    p.add_argument("--learning-starts", type=int, default=1000, help="random-action steps before updates")
    p.add_argument("--matmul-precision", default="fp32", choices=MATMUL_PRECISIONS,
                   help="the project side's --matmul-precision (SB3 runs fp32)")
    p.add_argument("--json", default=None,
                   help="also write all raw numbers and meta here, if every pair succeeds (a new file, or one "
                        "it wrote)")
    args = p.parse_args()
    if args.pairs < 1 or args.steps < 1 or min(args.threads) < 1:
        p.error("--pairs, --steps and --threads must be positive")
    # train.py starts updating at max(learning_starts, batch size); below that its warm-up would be shorter.
    if args.learning_starts < SETTINGS["batch_size"] or args.warmup < 0:
        p.error(f"--learning-starts must be >= {SETTINGS['batch_size']} (the batch size) and --warmup >= 0")
    import torch

    from ddpg.runtime import check_matmul_precision
    try:  # before any run, or SB3's side would run for nothing
        check_matmul_precision(args.matmul_precision, torch.device("cpu"))
        if args.json is not None:
            check_json_out(args.json, ("meta", "summary", "pairs"))
    except DDPGError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        import stable_baselines3
    except ImportError as e:
        print(f"error: Stable-Baselines3 is missing ({e}); install it with: pip install stable-baselines3",
              file=sys.stderr)
        return 2

    check_project_settings()
    sides = {"project": project_path, "sb3": sb3_path}
    results: list[dict[str, Any]] = []
    summaries: list[dict[str, Any]] = []
    for threads in args.threads:
        print(f"{threads} thread{'s' * (threads != 1)}:")
        done: list[dict[str, Any]] = []
        for i in range(args.pairs):
            order = ["project", "sb3"] if i % 2 == 0 else ["sb3", "project"]
            pair: dict[str, Any] = {"threads": threads, "pair": i, "order": order}
            for side in order:
                pair[side] = sides[side](threads, args)
            results.append(pair)
            errors = [f"{LABELS[x]} failed: {pair[x]['error']}" for x in order if "error" in pair[x]]
            if errors:
                print(f"  pair {i + 1}: " + "; ".join(errors))
                continue
            pair["ratio"] = pair["project"]["sps"] / pair["sb3"]["sps"]
            done.append(pair)
            print(f"  pair {i + 1} ({' then '.join(LABELS[x] for x in order)}): "
                  f"project {pair['project']['sps']:7.1f} steps/s, SB3 {pair['sb3']['sps']:7.1f}, "
                  f"ratio {pair['ratio']:.2f}")
        if not done:
            continue
        ratios = [d["ratio"] for d in done]
        s = dict(threads=threads, pairs=len(done), ratio_median=statistics.median(ratios), ratio_min=min(ratios),
                 ratio_max=max(ratios), project_sps_median=statistics.median(d["project"]["sps"] for d in done),
                 sb3_sps_median=statistics.median(d["sb3"]["sps"] for d in done))
        summaries.append(s)
        print(f"{threads} thread{'s' * (threads != 1)}: project {s['project_sps_median']:.1f} steps/s (median), "
              f"SB3 {s['sb3_sps_median']:.1f}, ratio median {s['ratio_median']:.2f} "
              f"(min {s['ratio_min']:.2f}, max {s['ratio_max']:.2f}) over {len(done)} pair{'s' * (len(done) != 1)}")
    failed = [f"pair {r['pair'] + 1} at {r['threads']} thread(s) ({LABELS[x]})" for r in results for x in r["order"]
              if "error" in r[x]]
    if report_failed(failed, 2 * len(results), args.json):
        return 1
    if args.json:
        meta = {"env": ENV, "settings": {**SETTINGS, "hidden_sizes": list(SETTINGS["hidden_sizes"])},
                "filled_rows": BUFFER, "project_update": f"manual backward, {args.matmul_precision} products",
                "steps": args.steps, "warmup": args.warmup, "learning_starts": args.learning_starts, "pairs": args.pairs,
                "threads": args.threads, "cpu": cpu_model(), "torch": torch.__version__,
                "stable_baselines3": stable_baselines3.__version__, "python": platform.python_version(),
                "date": time.strftime("%Y-%m-%d")}
        try:
            write_json(args.json, {"meta": meta, "summary": summaries, "pairs": results})
        except DDPGError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
