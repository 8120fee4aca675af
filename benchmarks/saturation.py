"""How saturated an actor's tanh output is on the states its own policy visits.

    python benchmarks/saturation.py --env HumanoidStandup-v5 --weights models/HumanoidStandup-v5/actor.pt

Runs the deterministic actor for --steps env steps (resetting when an episode ends) and prints,
per action dimension, the smallest |pre-tanh| value seen and the largest tanh derivative
1 - tanh², the factor every actor gradient passes through. Computed in float32, as training does,
it is exactly 0.0 once |pre-tanh| > about 9: on every dimension, ∇_θ μ is then zero and the actor
can no longer learn, whatever the critic says.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import numpy as np  # noqa: E402
import torch  # noqa: E402

import ddpg.envs  # noqa: E402,F401  (registers Rocket-v0)
from ddpg.checkpoint import load_actor  # noqa: E402
from ddpg.errors import ArgumentParser, DDPGError, require_at_least, require_named  # noqa: E402
from ddpg.gym_utils import make_env  # noqa: E402


def saturation(actor: torch.nn.Module, states: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Per action dimension over `states`: (min |pre-tanh|, max 1 - tanh²)."""
    with torch.no_grad():
        x = actor.pre_tanh(actor.normalize(torch.as_tensor(states, dtype=torch.float32)))
    return x.abs().min(0).values, (1 - torch.tanh(x) ** 2).max(0).values


def main() -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True, help="Gymnasium env id the actor was trained on")
    parser.add_argument("--weights", required=True, help="an actor.pt written by train.py or sweep.py")
    parser.add_argument("--steps", type=int, default=1000, help="env steps to visit [default: 1000]")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first reset [default: 0]")
    args = parser.parse_args()
    try:
        require_at_least("--steps", args.steps, 1)
        require_at_least("--seed", args.seed, 0)
        require_named("--weights", args.weights, "an actor file")
        env = make_env(args.env)
        actor = load_actor(Path(args.weights), args.env, env.observation_space, env.action_space)
    except DDPGError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    states, episodes, done = [], 0, True
    for _ in range(args.steps):
        if done:  # episode k starts from seed + k
            obs, _ = env.reset(seed=args.seed + episodes)
            episodes += 1
        states.append(obs)
        obs, _, terminated, truncated, _ = env.step(actor.act(obs))
        done = terminated or truncated
    env.close()

    states = np.asarray(states)
    min_abs, max_grad = saturation(actor, states)
    print(f"{args.env}  {args.weights}  {args.steps} steps, {episodes} episode(s) from seed {args.seed}")
    print("action dim   min |pre-tanh|   max 1-tanh²")
    for d, (m, g) in enumerate(zip(min_abs.tolist(), max_grad.tolist())):
        print(f"{d:>10}   {m:>14.2f}   {g:>11.3g}")
    print(f"saturated (max 1-tanh² < 1e-6) on {int((max_grad < 1e-6).sum())} of {len(max_grad)} dimensions")
    obs_abs = np.abs(states).max(0)  # unnormalised inputs this large drive the layers to saturation
    print(f"observations: largest |entry| {obs_abs.max():.1f} (index {int(obs_abs.argmax())}); "
          f"{int((obs_abs > 100).sum())} of {len(obs_abs)} entries exceed 100 in size")
    return 0


if __name__ == "__main__":
    sys.exit(main())
