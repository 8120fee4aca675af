"""Evaluate the Rocket-v0 reference (LQR) controller against random and zero actions, and DDPG.

    python benchmarks/rocket_reference.py --episodes 100 --sigma 0.05 --seed 0
    python benchmarks/rocket_reference.py --sigma 0.2 --weights models/Rocket-v0/actor.pt

Prints one line per policy: mean +- std return and mean episode length
(the horizon is 1000 steps, reward per step is at most 1).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import ddpg.envs  # noqa: E402,F401  (registers Rocket-v0)
from ddpg.checkpoint import load_actor  # noqa: E402
from ddpg.envs.reference import LQRController, RandomPolicy, run_episodes, zero_policy  # noqa: E402
from ddpg.errors import ArgumentParser, DDPGError, require_at_least, require_named  # noqa: E402
from ddpg.gym_utils import make_env  # noqa: E402


def main() -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--sigma", type=float, default=0.05, help="relative thrust noise std")
    parser.add_argument("--seed", type=int, default=0, help="episode i is reset with seed + i")
    parser.add_argument("--weights", default=None, help="also evaluate this DDPG actor.pt (deterministic)")
    args = parser.parse_args()

    try:
        require_at_least("--episodes", args.episodes, 1)
        require_at_least("--seed", args.seed, 0)
        if not (math.isfinite(args.sigma) and args.sigma >= 0):
            raise DDPGError(f"--sigma must be a number >= 0, got {args.sigma}")
        require_named("--weights", args.weights, "an actor file")
        env = make_env("Rocket-v0", thrust_noise=args.sigma)
        try:
            policies = {"lqr": LQRController(env), "random": RandomPolicy(args.seed), "zero": zero_policy}
            if args.weights:
                policies["ddpg"] = load_actor(Path(args.weights), "Rocket-v0", env.observation_space,
                                              env.action_space).act
        finally:
            env.close()
    except DDPGError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    print(f"Rocket-v0  sigma={args.sigma}  episodes={args.episodes}  seed={args.seed}")
    for name, policy in policies.items():
        returns, lengths = run_episodes(policy, args.episodes, args.seed, args.sigma)
        print(
            f"{name:>7}: return {returns.mean():8.2f} ± {returns.std():7.2f}"
            f"  (min {returns.min():7.2f})  length {lengths.mean():7.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
