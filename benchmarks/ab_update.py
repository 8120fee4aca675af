"""The hand-written update against its own version at a git revision: timed in alternation, and checked for the same bits.

    python benchmarks/ab_update.py --rev HEAD~1 --precision bf16 --threads 1

Loads ddpg/manual_update.py as it was at REV (`git show`) beside the working tree's, and builds
each on its own copy of the same HalfCheetah-sized agent and buffer (update_breakdown.py's
`one_update`: 256-256 nets, batch 256). Then it alternates blocks of updates between the two,
the order within a round alternating too, so that drift in the machine's speed hits both
alike. Prints each round's µs per update, the median of REV's time ÷ the working tree's (above 1:
the working tree is faster) with its range, and whether all four networks are bit-identical
after both ran the same updates. REV's ManualUpdate must take (agent, buffer, batch_size).
"""
from __future__ import annotations

import importlib.util
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from update_breakdown import one_update, per_call_us  # noqa: E402

from ddpg.config import MATMUL_PRECISIONS  # noqa: E402
from ddpg.errors import ArgumentParser, DDPGError  # noqa: E402
from ddpg.runtime import check_matmul_precision  # noqa: E402

NETS = ("actor", "critic", "actor_target", "critic_target")


def module_at(rev: str, folder: Path):
    """ddpg/manual_update.py at `rev`, imported under another name; None if git has no such file there."""
    out = subprocess.run(["git", "show", f"{rev}:ddpg/manual_update.py"], cwd=HERE.parent, capture_output=True,
                         text=True)
    if out.returncode != 0:
        return None
    path = folder / "manual_update_at_rev.py"
    path.write_text(out.stdout)
    spec = importlib.util.spec_from_file_location("manual_update_at_rev", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
    try:
        check_matmul_precision(args.precision, torch.device("cpu"))
    except DDPGError as e:
        p.error(str(e))
    with tempfile.TemporaryDirectory() as tmp:
        old = module_at(args.rev, Path(tmp))
        if old is None:
            p.error(f"--rev {args.rev}: git has no ddpg/manual_update.py at that revision")
        new_update, new_agent = one_update(256, 256, "manual", args.precision)
        twin, old_agent = one_update(256, 256, "manual", args.precision)  # the same agent and buffer, built again
        old_update = old.ManualUpdate(old_agent, twin.buffer, 256)
        ratios = []
        for r in range(args.rounds):
            first, second = (old_update, new_update) if r % 2 == 0 else (new_update, old_update)
            times = {first: per_call_us(first, args.per_round), second: per_call_us(second, args.per_round)}
            ratios.append(times[old_update] / times[new_update])
            print(f"round {r + 1}: {args.rev} {times[old_update]:.0f} us, working tree {times[new_update]:.0f} us")
    same = all(torch.equal(a, b) for net in NETS
               for a, b in zip(getattr(old_agent, net).parameters(), getattr(new_agent, net).parameters()))
    print(f"{args.precision}, {args.threads} thread(s): {args.rev}'s time / the working tree's, median "
          f"{statistics.median(ratios):.3f} (range {min(ratios):.3f}-{max(ratios):.3f}, {args.rounds} rounds of "
          f"{args.per_round} updates); after {args.rounds * args.per_round} updates each, all four networks "
          f"bit-identical: {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
