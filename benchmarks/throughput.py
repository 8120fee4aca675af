"""Learn-phase throughput of train.py's own loop, and its peak memory.

    python benchmarks/throughput.py                       # HalfCheetah-v5, 256-256, batch 256, full 1M buffer
    python benchmarks/throughput.py --threads 1 --paths manual eager
    python benchmarks/throughput.py --fill 0              # only the rows the run itself writes (~6,000)
    python benchmarks/throughput.py --precisions fp32 bf16 --rounds 3   # --matmul-precision, interleaved
    python benchmarks/throughput.py --threads 1 --parts      # also µs per learning step by part (step_parts.py)

Paths: manual is the hand-written backward (the CPU default), eager is autograd (`--backward
autograd`), compile and cudagraphs are autograd under `--compile` and `--cudagraphs`. Each path
runs train.py's loop (one env step and one update per step, after learning starts) with the
default preset. By default the buffer starts full (`--fill`, synthetic rows), so every
minibatch is gathered from a 1M-row tensor as in a long run, not from the few thousand rows a
short run writes. Steps/s is read from the loop's own SPS log over the measured window, after
a warm-up. Peak RSS is the process's high-water mark, which includes the preallocated buffer.

With several rounds the runs alternate (path × precision, then again), since this machine's speed
drifts within minutes; each line gives the median over rounds and the range, and each precision
after the first gets the median of its per-round ratios to the first.
"""
from __future__ import annotations

import argparse
import json
import statistics
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ddpg import checkpoint as ckpt_io  # noqa: E402
from ddpg import runtime  # noqa: E402
from ddpg.config import MATMUL_PRECISIONS, Config, make_config  # noqa: E402
from ddpg.errors import (ArgumentParser, DDPGError, DefaultsHelpFormatter, require_at_least,  # noqa: E402
                         require_named)
from ddpg.gym_utils import make_env  # noqa: E402
from train import checked_device  # noqa: E402


def run_flags(path: str, precision: str, args: argparse.Namespace) -> dict[str, Any]:
    """train.py's settings for one measured run, less where it writes (main checks them before any run)."""
    total = args.learning_starts + args.warmup + args.steps
    return dict(env=args.env, device=args.device, total_steps=total, learning_starts=args.learning_starts,
                buffer_size=args.buffer_size, log_interval=args.log_interval, eval_interval=total + 1,
                checkpoint_interval=total + 1, backward="manual" if path == "manual" else "autograd",
                compile=path == "compile", cudagraphs=path == "cudagraphs", matmul_precision=precision)


def one_path(path: str, precision: str, args: argparse.Namespace) -> dict:
    """Run in a fresh process so each path's peak RSS is its own."""
    # --parts: step_parts.py times each part of the timed learning steps inside train.py's loop
    parts_code = f"step_parts.clocked(train, {args.warmup}, {args.steps})" if args.parts else "contextlib.nullcontext()"
    code = f"""
import contextlib, json, resource, sys, tempfile, time
sys.path.insert(0, {str(ROOT)!r})
sys.path.insert(0, {str(ROOT / "benchmarks")!r})
import torch
import step_parts
import train
from plot import timed_steps
from ddpg.buffer import ReplayBuffer
from ddpg.config import make_config
from ddpg.logger import CSV_FILE
torch.set_num_threads({args.threads}) if {args.threads} > 0 else None


class FilledBuffer(ReplayBuffer):
    # Starts with `fill` synthetic rows, as a long run's buffer holds; the run writes on after them.

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        fill = min({args.fill}, self.capacity)
        self.storage[:fill].normal_(generator=torch.Generator(device=self.device).manual_seed(0))
        self.size, self.pos = fill, fill % self.capacity


train.ReplayBuffer = FilledBuffer
learn, warm, steps = {args.learning_starts}, {args.warmup}, {args.steps}
t0 = time.perf_counter()
with tempfile.TemporaryDirectory() as d, {parts_code} as parts:  # the run's weights and logs, removed after
    s = train.train(make_config(dict({run_flags(path, precision, args)!r}, models_dir=d + "/m", runs_dir=d + "/r")),
                    quiet=True)
    steps, seconds = timed_steps(s["run_dir"] / CSV_FILE, since=learn + warm)
sps = steps / seconds
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(dict(sps=sps, peak_rss_mb=rss_mb, wall_s=time.perf_counter() - t0, parts_us=parts and parts.per_step(),
                      threads=torch.get_num_threads(), device=str(train.resolve_device({args.device!r})))))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if r.returncode != 0:
        return {"path": path, "precision": precision, "error": (r.stderr.strip().splitlines() or ["failed"])[-1]}
    return {"path": path, "precision": precision, **json.loads(r.stdout.strip().splitlines()[-1])}


def torch_version() -> str:
    r = subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__)"], capture_output=True, text=True)
    return r.stdout.strip()


def cpu_model() -> str:
    """The CPU's name, x86 family and model, and which of the units the products can use it has
    (`runtime.product_units`, what the bf16 refusal reads).

    The name alone does not tell an AMD EPYC with AVX-512 and bf16 (Zen 4) from one without (Zen 3),
    and bf16 ran 20x slower than fp32 on the second.
    """
    info: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())  # the first CPU's lines
    except OSError:
        pass
    name = info.get("model name") or platform.processor() or platform.machine()
    if "cpu family" in info and "model" in info:
        name += f" (family {info['cpu family']}, model {info['model']})"
    units = [runtime.PRODUCT_UNITS[key] for key in runtime.product_units()]
    return name + ", " + (", ".join(units) if units else "no AVX-512")


def check_runnable(cfg: Config) -> None:
    """Refuse, here rather than in each run's child process, a device this machine lacks, emulated bf16,
    --cudagraphs off CUDA, and an env that does not make."""
    checked_device(cfg)
    make_env(cfg.env).close()


def check_inputs(args: argparse.Namespace) -> None:
    """Refuse, before any run, what would make every run fail, and a --json that would lose a file."""
    # --parts opens its window after the first warm-up update
    lowest = {"steps": 1, "warmup": 1 if args.parts else 0, "fill": 0, "threads": 0, "rounds": 1}
    for name, low in lowest.items():
        with_parts = " with --parts" if name == "warmup" and args.parts else ""
        require_at_least(f"--{name}", getattr(args, name), low, with_parts)
    if args.steps < args.log_interval:
        raise DDPGError(f"--steps {args.steps} is below --log-interval {args.log_interval}: no steps/s log would "
                        f"fall in the measured window")
    for path in args.paths:
        for precision in args.precisions:  # --learning-starts, --buffer-size, --log-interval, --device, --env
            check_runnable(make_config(run_flags(path, precision, args)))
    if args.json is not None:
        check_json_out(args.json, ("meta", "results"))


def check_json_out(path: str, keys: tuple[str, ...]) -> None:
    """Refuse a --json that is blank, a folder, in a folder that cannot be written, or a file other than such
    results (a JSON object with these keys): a slip of the path must not overwrite, say, README.md."""
    require_named("--json", path, "a file")
    path = Path(path)
    if path.is_dir():
        raise DDPGError(f"--json {path}: is a folder")
    if path.exists():
        try:
            data = json.loads(path.read_text())
            ours = isinstance(data, dict) and set(keys) <= data.keys()
        except (OSError, UnicodeDecodeError, ValueError):
            ours = False
        if not ours:
            raise DDPGError(f"--json {path}: holds something other than this script's results, so it is left as "
                            f"it was")
    ckpt_io.ensure_writable_dirs({"--json": path.parent})


def write_json(path: str, data: dict[str, Any]) -> None:
    """data to path as a whole new file: a failed write leaves the old one."""
    try:
        ckpt_io.atomic_write_text(Path(path), json.dumps(data, indent=2) + "\n")
    except OSError as e:
        raise DDPGError(f"--json {path}: {e.strerror or e}") from None
    print(f"wrote {path}")


def report_failed(failed: list[str], runs: int, json_path: str | None) -> bool:
    """Say which of `runs` runs failed, if any: then --json is not written, so a failed rerun cannot replace
    a committed file."""
    if failed:
        print(f"error: {len(failed)} of {runs} runs failed ({', '.join(failed)})"
              + (f"; --json {json_path} not written" if json_path else ""), file=sys.stderr)
    return bool(failed)


def main() -> int:
    p = ArgumentParser(description=__doc__.splitlines()[0],
                       formatter_class=DefaultsHelpFormatter)
    p.add_argument("--env", default="HalfCheetah-v5")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--paths", nargs="+", default=["manual"], choices=("manual", "eager", "compile", "cudagraphs"))
    p.add_argument("--steps", type=int, default=4000, help="measured learn-phase steps")
    p.add_argument("--warmup", type=int, default=1000, help="learn-phase steps before measuring")
    p.add_argument("--learning-starts", type=int, default=1000, help="random-action steps that fill the buffer")
    p.add_argument("--buffer-size", type=int, default=1_000_000, help="preallocated replay capacity")
    p.add_argument("--fill", type=int, default=1_000_000, help="synthetic rows the buffer starts with")
    p.add_argument("--log-interval", type=int, default=500)
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    p.add_argument("--precisions", nargs="+", default=["fp32"], choices=MATMUL_PRECISIONS,
                   help="--matmul-precision values to run each path with")
    p.add_argument("--rounds", type=int, default=1, help="times each (path, precision) runs, interleaved")
    p.add_argument("--parts", action="store_true",
                   help="also time each part of a learning step: env step, acting, noise, buffer write, update")
    p.add_argument("--json", default=None,
                   help="also write the results here, if every run succeeds (a new file, or one it wrote)")
    args = p.parse_args()
    try:
        check_inputs(args)
    except DDPGError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    results = []
    for k in range(args.rounds):
        for path in args.paths:
            for precision in args.precisions:
                r = one_path(path, precision, args)
                results.append({"round": k, **r})
                name = f"{path} {precision}"
                if "error" in r:
                    print(f"{name:>14}: failed: {r['error']}")
                else:
                    print(f"{name:>14}: {r['sps']:7.1f} learn-phase steps/s on {r['device']} ({r['threads']} "
                          f"threads), peak RSS {r['peak_rss_mb']:.0f} MB; buffer of {args.buffer_size:,} rows, "
                          f"{min(args.fill, args.buffer_size):,} filled at the start", flush=True)
                    if r.get("parts_us"):
                        print(" " * 16 + "per learning step, us: " + ", ".join(
                            f"{k} {v:.0f}" for k, v in r["parts_us"].items()), flush=True)
    if args.rounds > 1 or len(args.precisions) > 1:
        print(f"over {args.rounds} round(s):")
        for path in args.paths:
            sps = {pr: {r["round"]: r["sps"] for r in results if r["path"] == path and r["precision"] == pr
                        and "sps" in r} for pr in args.precisions}
            for pr, by_round in sps.items():
                if by_round:
                    v = list(by_round.values())
                    print(f"{path + ' ' + pr:>14}: median {statistics.median(v):.1f} steps/s "
                          f"(range {min(v):.1f}-{max(v):.1f})")
            base = args.precisions[0]
            for pr in args.precisions[1:]:  # within a round only: a failed run drops its round
                ratios = [sps[pr][k] / sps[base][k] for k in sps[pr] if k in sps[base]]
                if ratios:
                    print(f"{path + ' ' + pr:>14}: median ratio to {base} {statistics.median(ratios):.2f} "
                          f"(range {min(ratios):.2f}-{max(ratios):.2f}, {len(ratios)} rounds)")
    if report_failed([f"{r['path']} {r['precision']} round {r['round'] + 1}" for r in results if "error" in r],
                     len(results), args.json):
        return 1
    if args.json:
        try:
            gpu = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                                 text=True).stdout.strip()
        except OSError:
            gpu = ""
        meta = {"env": args.env, "batch_size": 256, "hidden_sizes": [256, 256], "steps": args.steps,
                "rounds": args.rounds, "precisions": args.precisions, "torch": torch_version(),
                "warmup": args.warmup, "buffer_size": args.buffer_size, "filled_rows": args.fill,
                "cpu": cpu_model(),
                "cpu_count": os.cpu_count(), "gpu": gpu, "python": platform.python_version(),
                "date": time.strftime("%Y-%m-%d")}
        try:
            write_json(args.json, {"meta": meta, "results": results})
        except DDPGError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
