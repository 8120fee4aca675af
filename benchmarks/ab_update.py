"""The hand-written update against ddpg/manual_update.py at another git revision: timed in alternation, and checked for the same bits.

    python benchmarks/ab_update.py --rev HEAD~1 --precision bf16 --threads 1

Only ddpg/manual_update.py comes from REV (`git show`); the rest of the package is the working
tree's. Each version's `ManualUpdate` gets its own copy of the same HalfCheetah-sized agent and
buffer (update_breakdown.py's `one_update`: 256-256 nets, batch 256), with subnormals flushed
and glibc keeping freed memory, as train.py runs. After an untimed block each, blocks of updates
alternate, the order within a round alternating too, so that drift in the machine's speed hits
both alike. Prints each round's µs per update, the median of REV's time ÷ the working tree's
(above 1: the working tree is faster) with its range, and whether all four networks are
bit-identical after both ran the same updates.
"""
from __future__ import annotations

import importlib.util
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from update_breakdown import one_update, per_call_us  # noqa: E402

from ddpg.config import MATMUL_PRECISIONS  # noqa: E402
from ddpg.errors import ArgumentParser, DDPGError, first_line  # noqa: E402
from ddpg.runtime import check_matmul_precision, flush_denormals, keep_freed_memory  # noqa: E402

NETS = ("actor", "critic", "actor_target", "critic_target")


def module_at(rev: str, folder: Path) -> tuple[ModuleType, str]:
    """ddpg/manual_update.py at `rev`, imported under another name, and the revision's short hash."""
    def git(*args: str) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(["git", *args], cwd=HERE.parent, capture_output=True, text=True)
        except OSError as e:
            raise DDPGError(f"--rev {rev}: could not run git ({first_line(e)})") from None

    short = git("rev-parse", "--short", f"{rev}^{{commit}}")
    source = git("show", f"{rev}:ddpg/manual_update.py")
    if short.returncode != 0 or source.returncode != 0:
        raise DDPGError(f"--rev {rev}: git has no ddpg/manual_update.py at that revision")
    path = folder / "manual_update_at_rev.py"
    path.write_text(source.stdout)
    spec = importlib.util.spec_from_file_location("manual_update_at_rev", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # an old module may import what the package no longer has
        raise DDPGError(f"--rev {rev}: its manual_update.py does not load beside this package "
                        f"({type(e).__name__}: {first_line(e)})") from None
    return module, short.stdout.strip()


def main() -> int:
    p = ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rev", required=True, help="the git revision to compare with (a commit, tag or HEAD~n)")
    p.add_argument("--precision", default="fp32", choices=MATMUL_PRECISIONS)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--per-round", type=int, default=150, help="updates per block")
    args = p.parse_args()
    if args.threads < 1 or args.rounds < 1 or args.per_round < 1:
        p.error("--threads, --rounds and --per-round must be at least 1")
    torch.set_num_threads(args.threads)
    keep_freed_memory()
    flush_denormals()  # as train.py does, before any parallel op
    try:
        check_matmul_precision(args.precision, torch.device("cpu"))
        with tempfile.TemporaryDirectory() as tmp:
            old, short = module_at(args.rev, Path(tmp))
            new_update, new_agent = one_update(256, 256, "manual", args.precision)
            twin, old_agent = one_update(256, 256, "manual", args.precision)  # the same agent and buffer, again
            try:
                old_update = old.ManualUpdate(old_agent, twin.buffer, 256)
                hidden = old_update.actor.inputs[1].dtype
            except Exception as e:
                raise DDPGError(f"--rev {args.rev}: its ManualUpdate does not fit this package "
                                f"({type(e).__name__}: {first_line(e)})") from None
            if hidden != new_update.actor.inputs[1].dtype:  # a revision from before --matmul-precision
                raise DDPGError(f"--rev {args.rev}: its update runs the hidden layers in {hidden}, not "
                                f"--precision {args.precision}")
    except DDPGError as e:
        p.error(str(e))
    per_call_us(old_update, args.per_round)  # warm-up: Adam's first step, caches
    per_call_us(new_update, args.per_round)
    ratios = []
    for r in range(args.rounds):
        first, second = (old_update, new_update) if r % 2 == 0 else (new_update, old_update)
        times = {first: per_call_us(first, args.per_round), second: per_call_us(second, args.per_round)}
        ratios.append(times[old_update] / times[new_update])
        print(f"round {r + 1}: {short} {times[old_update]:.0f} us, working tree {times[new_update]:.0f} us")
    same = all(torch.equal(a, b) for net in NETS
               for a, b in zip(getattr(old_agent, net).parameters(), getattr(new_agent, net).parameters()))
    n = (args.rounds + 1) * args.per_round
    print(f"{args.precision}, {args.threads} thread(s): {short}'s time / the working tree's, median "
          f"{statistics.median(ratios):.3f} (range {min(ratios):.3f}-{max(ratios):.3f}, {args.rounds} rounds of "
          f"{args.per_round} updates); after {n} updates each, all four networks bit-identical: {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
