"""Learning-phase steps/s of sweep trials: how to lay trials out on this machine, and Ray's worker niceness.

    python benchmarks/sweep_concurrency.py                      # 1x1, 2x1, 1x2, each at niceness +0 and +15
    python benchmarks/sweep_concurrency.py --layouts 1x2 --niceness 0 15 --rounds 3

A layout TxC is T trials side by side with C CPUs each (C is also each trial's torch thread count).
Each run is a real `sweep.py` of `--env` (HalfCheetah-v5, tuned preset) to `--steps`, in a fresh
local Ray, with RAY_worker_niceness set: how much nicer than raylet and GCS the workers run (Ray's
default, which sweep.py keeps, is +15; +0 runs them at the driver's priority). A trial's steps/s
covers its SPS logs after `--from-step` (the learning phase; evaluations are off). Runs go layout by
layout, each niceness in turn, in reverse order every other round, since this machine's speed
drifts. Nothing else may run meanwhile.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sweep  # noqa: E402
from ddpg.config import make_config  # noqa: E402
from ddpg.errors import ArgumentParser, DDPGError, require_at_least  # noqa: E402
from plot import timed_steps  # noqa: E402
from throughput import check_runnable, cpu_model  # noqa: E402


def one_run(layout: str, niceness: int, args: argparse.Namespace, root: Path) -> list[float]:
    trials, cpus = map(int, layout.split("x"))
    d = root / f"{layout}-nice{niceness}-{len(list(root.iterdir()))}"
    cmd = [sys.executable, str(ROOT / "sweep.py"), "--envs", args.env, "--seeds", *map(str, range(trials)),
           "--cpus-per-trial", str(cpus), "--cpus", str(trials * cpus), "--total-steps", str(args.steps),
           "--eval-interval", str(10 * args.steps), "--checkpoint-interval", str(10 * args.steps),
           "--sweep-dir", str(d)]
    r = subprocess.run(cmd, env={**os.environ, "RAY_worker_niceness": str(niceness)}, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"sweep_concurrency.py: {' '.join(cmd)} failed:\n{r.stderr[-2000:]}")
    rates = []
    for k in range(trials):
        steps, seconds = timed_steps(sweep.trial_csv(d, args.env, k), args.from_step)
        rates.append(steps / seconds)
    return rates


def main() -> int:
    p = ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--layouts", nargs="+", default=["1x1", "2x1", "1x2"], help="TxC: T trials of C CPUs")
    p.add_argument("--niceness", nargs="+", type=int, default=[0, 15], help="RAY_worker_niceness values")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--env", default="HalfCheetah-v5")
    p.add_argument("--steps", type=int, default=17_000, help="steps per trial (HalfCheetah: 10,000 of them random)")
    p.add_argument("--from-step", type=int, default=12_000, help="measure from here (after learning starts)")
    args = p.parse_args()
    for layout in args.layouts:
        if len(layout.split("x")) != 2 or not all(x.isdigit() and int(x) > 0 for x in layout.split("x")):
            print(f"error: --layouts takes TxC with positive integers, e.g. 2x1; got {layout!r}", file=sys.stderr)
            return 2
    try:
        require_at_least("--rounds", args.rounds, 1)
        cfg = make_config({"env": args.env})
        check_runnable(cfg)  # else each sweep would fail on its own
    except DDPGError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not cfg.learning_starts <= args.from_step < args.steps or args.from_step % cfg.log_interval:
        print(f"error: --from-step must be a multiple of {cfg.log_interval} (the log interval), at least "
              f"{cfg.learning_starts} (the random warm-up) and below --steps", file=sys.stderr)
        return 2
    import torch

    print(f"{cpu_model()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"{args.env}, tuned preset, steps/s over steps {args.from_step:,}-{args.steps:,}")
    results: dict[tuple[str, int], list[list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            order = [(layout, nice) for layout in args.layouts for nice in args.niceness]
            for layout, nice in order if r % 2 == 0 else order[::-1]:
                sps = one_run(layout, nice, args, Path(tmp))
                results.setdefault((layout, nice), []).append(sps)
                print(f"round {r + 1}: {layout} at niceness +{nice}: "
                      f"{' + '.join(f'{s:.1f}' for s in sps)} = {sum(sps):.1f} steps/s", flush=True)
    print("\n| layout | worker niceness | total steps/s, median (range) | per trial, median |\n|---|---|---|---|")
    for (layout, nice), runs in sorted(results.items(), key=lambda kv: (args.layouts.index(kv[0][0]), kv[0][1])):
        totals = [sum(s) for s in runs]
        print(f"| {layout} | +{nice} | {statistics.median(totals):.1f} ({min(totals):.1f}–{max(totals):.1f}) | "
              f"{statistics.median(x for s in runs for x in s):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
