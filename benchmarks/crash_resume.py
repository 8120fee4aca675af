"""Kill -9 a training run at random moments, resume it each time, and compare with an uninterrupted run.

    python benchmarks/crash_resume.py                      # Pendulum-v1, 20 kills
    python benchmarks/crash_resume.py --kills 5 --total-steps 4000

It prints how many resumes succeeded, how many checkpoints were found corrupt after a kill,
and whether the final weights, optimizers, buffer and RNG states are bit-identical to those of
an uninterrupted run with the same seed. Checkpoints are taken every episode, so many kills
land in the middle of a save.
"""
from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from ddpg import checkpoint as ckpt_io  # noqa: E402
from ddpg.config import build_parser, explicit_args, make_config  # noqa: E402
from ddpg.errors import ArgumentParser, DDPGError, DefaultsHelpFormatter, require_at_least  # noqa: E402
from same_results import first_difference  # noqa: E402
from throughput import check_runnable  # noqa: E402


OWN_FLAGS = ("env", "total_steps", "resume", "models_dir", "runs_dir", "run_name")  # what cmd() sets


def check_inputs(args: argparse.Namespace) -> None:
    """Refuse bad input before the scratch folder is made: a bad train.py flag would fail every run."""
    require_at_least("--kills", args.kills, 1)
    if not 0 <= args.min_delay <= args.max_delay < math.inf:
        raise DDPGError(f"the delays must be finite, with 0 <= --min-delay <= --max-delay; got {args.min_delay} and "
                        f"{args.max_delay}")
    parser = build_parser("train.py")

    def refuse(message: str) -> NoReturn:
        raise DDPGError(f"--train-args {args.train_args!r}: {message}")
    parser.error = refuse  # type: ignore[method-assign]
    given = explicit_args(parser.parse_args(args.train_args.split()))
    clash = [f"--{k.replace('_', '-')}" for k in OWN_FLAGS if k in given]
    if clash:
        raise DDPGError(f"--train-args: crash_resume.py sets {', '.join(clash)} itself (--env and --total-steps "
                        f"are its own flags)")
    check_runnable(make_config({**given, "env": args.env, "total_steps": args.total_steps}))


def main() -> int:
    p = ArgumentParser(description=__doc__.splitlines()[0],
                       formatter_class=DefaultsHelpFormatter)
    p.add_argument("--env", default="Pendulum-v1")
    p.add_argument("--total-steps", type=int, default=40_000)
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--seed", type=int, default=0, help="seed of the kill times (the runs use train.py's --seed 0)")
    p.add_argument("--min-delay", type=float, default=3.0, help="shortest time from (re)start to SIGKILL, seconds")
    p.add_argument("--max-delay", type=float, default=7.0, help="longest time from (re)start to SIGKILL, seconds")
    p.add_argument("--train-args", default="--hidden-sizes 64 64 --learning-starts 1000 --checkpoint-interval 1 "
                                           "--eval-interval 2000 --eval-episodes 2 --log-interval 200",
                   help="extra train.py flags, the same for every run")
    args = p.parse_args()
    try:
        check_inputs(args)
    except DDPGError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="crash_resume_"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # one thread: bit-identical results need the same thread count

    def cmd(name: str, resume: bool) -> list[str]:
        c = [sys.executable, str(ROOT / "train.py"), "--env", args.env, "--total-steps", str(args.total_steps),
             "--models-dir", str(work / name / "models"), "--runs-dir", str(work / name / "runs"),
             "--run-name", "run", *args.train_args.split()]
        return c + (["--resume"] if resume else [])

    ckpt = ckpt_io.run_dir(work / "killed" / "models", args.env, "run") / ckpt_io.CHECKPOINT_FILE
    log = open(work / "killed.log", "w")
    resumes = succeeded = corrupt = 0
    steps_at_kill = []
    started = False
    while resumes < args.kills:
        resume = ckpt.exists()
        if not resume and started:
            print("no checkpoint survived a kill: starting again from scratch")
            shutil.rmtree(work / "killed", ignore_errors=True)  # a fresh run refuses the logs a killed one left
        proc = subprocess.Popen(cmd("killed", resume), env=env, stdout=log, stderr=subprocess.STDOUT)
        started = True
        if resume:
            resumes += 1
        time.sleep(rng.uniform(args.min_delay, args.max_delay))
        if proc.poll() is not None:
            print(f"run finished before kill {resumes}; lower --max-delay or raise --total-steps")
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if ckpt.exists():
            try:
                state = ckpt_io.load(ckpt, "checkpoint")
                steps_at_kill.append(state["step"])
                if resume:
                    succeeded += 1  # it loaded the checkpoint, trained on, and left a loadable one behind
            except DDPGError as e:
                corrupt += 1
                print(f"corrupt checkpoint after kill: {e}")
    final = subprocess.run(cmd("killed", True), env=env, stdout=log, stderr=subprocess.STDOUT)
    reference = subprocess.run(cmd("reference", False), env=env, capture_output=True, text=True)
    if final.returncode != 0 or reference.returncode != 0:
        print(f"a run failed; see {work}/killed.log")
        return 1
    a = ckpt_io.load(ckpt, "checkpoint")
    b = ckpt_io.load(ckpt_io.run_dir(work / "reference" / "models", args.env, "run") / ckpt_io.CHECKPOINT_FILE,
                     "checkpoint")
    keys = ("agent", "buffer", "noise", "rng", "step", "episode")
    difference = next((d for k in keys if (d := first_difference(a[k], b[k], k))), None)
    identical = difference is None
    print(f"checkpoint steps seen after each kill: {steps_at_kill}")
    print(f"resumed: {succeeded}/{resumes} succeeded")
    print(f"corrupt checkpoints: {corrupt}")
    print(f"final step {a['step']} vs {b['step']}; weights, optimizers, buffer, noise and RNG states "
          f"bit-identical to an uninterrupted run: {'yes' if identical else f'NO (first at {difference})'}")
    print(f"logs and models in {work}")
    return 0 if identical and corrupt == 0 and succeeded == resumes == args.kills else 1


if __name__ == "__main__":
    sys.exit(main())
