"""Whether the working tree trains exactly as a git revision does: the same short runs under both, compared.

    python benchmarks/same_results.py 3e56614      # e.g. the commit before a refactor

Four short runs, one thread each: Pendulum-v1 stopped mid-episode and resumed past it; HalfCheetah-v5;
Pendulum-v1 under the 100k preset with --obs-norm, --reward-scale and Gaussian noise; Hopper-v5 (which
terminates) on the autograd update. Each runs under a `git worktree` checkout of REV, then under the
working tree, into the same scratch path (so the configs in the files match). Every metrics.csv row but
the timings and run id, and every tensor and value in each checkpoint.pt, actor.pt and best_actor.pt,
must be equal. Exit 0 when all are, 1 when not (naming the first difference), 2 on bad input.
"""
from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ddpg.errors import ArgumentParser, DDPGError  # noqa: E402

TINY = ["--hidden-sizes", "32", "32", "--eval-episodes", "2"]
RUNS = [  # (run name, train.py flags); each list is one command, run in order
    ("mid-episode", [["--env", "Pendulum-v1", "--total-steps", "2950", "--learning-starts", "500",
                      "--eval-interval", "1000", "--checkpoint-interval", "1000", "--log-interval", "250",
                      "--seed", "3", *TINY],
                     ["--env", "Pendulum-v1", "--resume", "--total-steps", "4100"]]),
    ("cheetah", [["--env", "HalfCheetah-v5", "--total-steps", "1200", "--learning-starts", "300",
                  "--eval-interval", "500", "--checkpoint-interval", "400", "--log-interval", "100", "--seed", "1",
                  *TINY]]),
    ("preset-100k", [["--env", "Pendulum-v1", "--preset", "100k", "--total-steps", "2500", "--learning-starts", "400",
                      "--eval-interval", "500", "--log-interval", "250", "--obs-norm", "--reward-scale", "0.1",
                      "--noise", "gaussian", "--seed", "5", *TINY]]),
    ("hopper-autograd", [["--env", "Hopper-v5", "--total-steps", "1500", "--learning-starts", "300",
                          "--eval-interval", "500", "--checkpoint-interval", "200", "--log-interval", "100",
                          "--backward", "autograd", "--seed", "2", *TINY]]),
]
SKIPPED_ROWS = ("charts/sps", "run/id")  # timings, and a random id per run
SKIPPED_KEYS = ("run_id",)


def first_difference(a: Any, b: Any, where: str = "") -> str | None:
    """Where two loaded states first differ (tensors bit for bit, NaN equal to NaN), or None."""
    import torch
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        same = (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.dtype == b.dtype
                and a.shape == b.shape and torch.equal(a, b))
        return None if same else where or "the tensors"
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return f"{where} (keys {sorted(map(str, a.keys() ^ b.keys()))})"
        for k in a:
            if k not in SKIPPED_KEYS and (d := first_difference(a[k], b[k], f"{where}.{k}")):
                return d
        return None
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        return next((d for i, (x, y) in enumerate(zip(a, b)) if (d := first_difference(x, y, f"{where}[{i}]"))), None)
    both_nan = isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
    return None if a == b or both_nan else f"{where} ({a!r:.40} vs {b!r:.40})"


def compare(old: Path, new: Path) -> str | None:
    """The first difference between two folders of runs' files, or None; the folders must hold the same files."""
    from ddpg import checkpoint as ckpt_io
    names = sorted(p.relative_to(old) for p in old.rglob("*") if p.suffix in (".csv", ".pt"))
    theirs = sorted(p.relative_to(new) for p in new.rglob("*") if p.suffix in (".csv", ".pt"))
    if names != theirs:
        return f"the runs wrote different files: {sorted(set(map(str, names)) ^ set(map(str, theirs)))}"
    for name in names:
        if name.suffix == ".csv":
            rows = [[r for r in csv.reader((d / name).open()) if r[1:2] and r[1] not in SKIPPED_ROWS]
                    for d in (old, new)]
            if rows[0] != rows[1]:
                row = next((x, y) for x, y in zip(*rows, strict=False) if x != y) if len(rows[0]) == len(rows[1]) \
                    else f"{len(rows[0])} rows vs {len(rows[1])}"
                return f"{name}: {row}"
        else:
            kind = "checkpoint" if name.name == ckpt_io.CHECKPOINT_FILE else "actor"
            if d := first_difference(ckpt_io.load(old / name, kind), ckpt_io.load(new / name, kind), str(name)):
                return d
    return None


def train_all(code: Path, out: Path) -> None:
    """Every run of RUNS with `code`'s train.py, into `out`."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    for name, commands in RUNS:
        for flags in commands:
            r = subprocess.run([sys.executable, str(code / "train.py"), *flags, "--run-name", name,
                                "--models-dir", str(out / "models"), "--runs-dir", str(out / "runs")],
                               cwd=code, env=env, capture_output=True, text=True)
            if r.returncode != 0:
                last = (r.stderr.strip().splitlines() or ["no output"])[-1]
                raise DDPGError(f"train.py {' '.join(flags)} failed under {code}: {last}")


def main() -> int:
    p = ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("rev", help="a git revision of this repo to compare the working tree with")
    args = p.parse_args()
    git = ["git", "-C", str(ROOT)]
    try:
        r = subprocess.run([*git, "rev-parse", "--verify", "--quiet", f"{args.rev}^{{commit}}"],
                           capture_output=True, text=True)
    except OSError as e:
        print(f"error: git is needed to check out {args.rev!r} ({e.strerror or e})", file=sys.stderr)
        return 2
    if r.returncode != 0:
        print(f"error: {args.rev!r} is not a commit of the repo at {ROOT}", file=sys.stderr)
        return 2
    commit = r.stdout.strip()
    with tempfile.TemporaryDirectory(prefix="same_results_") as d:
        work = Path(d)
        checkout, out = work / "checkout", work / "out"
        subprocess.run([*git, "worktree", "add", "--detach", "--quiet", str(checkout), commit], check=True)
        try:
            train_all(checkout, out)
            out.rename(work / "old")
            train_all(ROOT, out)
        except DDPGError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        finally:
            subprocess.run([*git, "worktree", "remove", "--force", str(checkout)], check=False)
        difference = compare(work / "old", out)
        files = sum(1 for p in out.rglob("*") if p.suffix in (".csv", ".pt"))
    runs = ", ".join(name for name, _ in RUNS)
    if difference:
        print(f"DIFFERENT from {commit[:10]}: {difference}")
        return 1
    print(f"same as {commit[:10]}: {files} files of {len(RUNS)} runs ({runs}): every CSV row but "
          f"{' and '.join(SKIPPED_ROWS)}, every value in every checkpoint and actor")
    return 0


if __name__ == "__main__":
    sys.exit(main())
