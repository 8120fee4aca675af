"""Watch a trained DDPG actor: in a window when there is a display, as an mp4 when there is none.

    python main.py                          # HalfCheetah-v5: your newest run, else the shipped weights
    python main.py --env Rocket-v0 --record rocket.mp4
    python main.py --episodes 10 --no-render
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import os
import sys
import warnings
from pathlib import Path

from ddpg.config import Config  # imports gymnasium, not mujoco: MUJOCO_GL can still be set below
from ddpg.errors import ArgumentParser, DDPGError, DefaultsHelpFormatter, first_line, require_at_least, require_named


def has_display() -> bool:
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(description=__doc__.splitlines()[0],
                       formatter_class=DefaultsHelpFormatter)
    p.add_argument("--env", default=Config.env, help="env id the weights were trained on")
    p.add_argument("--models-dir", default=Config.models_dir,
                   help="shows the newest run's <models-dir>/<env>/<run-name>/actor.pt, or, when no run has "
                        "saved one, the shipped <models-dir>/<env>/actor.pt")
    p.add_argument("--run", default=None, metavar="RUN_NAME", help="show <models-dir>/<env>/<RUN_NAME>/actor.pt")
    p.add_argument("--weights", default=None, help="an actor.pt elsewhere (overrides --models-dir and --run)")
    p.add_argument("--episodes", type=int, default=3, help="deterministic episodes to run")
    p.add_argument("--seed", type=int, default=0, help="episode k resets with seed + k")
    p.add_argument("--record", default=None, metavar="PATH",
                   help="write an mp4 to PATH instead of opening a window (default when headless: "
                        "videos/<env>.mp4)")
    p.add_argument("--no-render", action="store_true", help="only evaluate: no window, no video")
    p.add_argument("--env-kwargs", nargs="*", default=[], metavar="KEY=VALUE",
                   help="constructor arguments for the env, e.g. thrust_noise=0.2 for Rocket-v0")
    return p


def parse_kwargs(items: list[str]) -> dict[str, object]:
    """KEY=VALUE strings to a dict; values are Python literals where they parse as one."""
    out: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--env-kwargs expects KEY=VALUE, got {item!r}")
        if key == "render_mode":
            raise ValueError("--env-kwargs render_mode: main.py sets it (a window, a video, or none with --no-render)")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        require_at_least("--episodes", args.episodes, 1)
        require_at_least("--seed", args.seed, 0)
        for flag, what in (("--models-dir", "a folder"), ("--run", "a run"), ("--weights", "an actor.pt file"),
                           ("--record", "an mp4 file")):
            require_named(flag, getattr(args, flag[2:].replace("-", "_")), what)
        env_kwargs = parse_kwargs(args.env_kwargs)
    except (DDPGError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.record is not None and args.no_render:
        print("error: --record and --no-render contradict each other: --no-render draws no frames", file=sys.stderr)
        return 2
    if args.record is not None and Path(args.record).suffix.lower() != ".mp4":
        print(f"error: --record {args.record}: videos are written as mp4; give a path ending in .mp4", file=sys.stderr)
        return 2
    record = args.record
    if not args.no_render and record is None and not has_display():
        record = str(Path("videos") / f"{args.env}.mp4")
    if record is not None:
        os.environ.setdefault("MUJOCO_GL", "egl")  # headless OpenGL; read when mujoco is imported

    # GLFW reports a missing display as warnings before failing; the failure gets its own one-line error.
    warnings.filterwarnings("ignore", module="glfw")
    # Heavy imports after the env var is set.
    import gymnasium as gym
    import numpy as np

    import ddpg  # noqa: F401  (registers Rocket-v0)
    from ddpg import checkpoint as ckpt_io
    from ddpg.evaluate import run_episodes
    from ddpg.gym_utils import make_env
    from ddpg.video import VideoWriter

    try:
        if args.weights:
            path = Path(args.weights)
        elif args.run:
            path = ckpt_io.run_dir(args.models_dir, args.env, args.run) / ckpt_io.ACTOR_FILE
        else:
            path = ckpt_io.default_actor(args.models_dir, args.env)
        if path.is_dir():
            raise DDPGError(f"{path} is a folder; give the actor.pt inside it")
        if not path.is_file():
            make_env(args.env, **env_kwargs).close()  # an unknown or unsupported env says so, not "train it"
            raise DDPGError(f"no trained weights at {path}; train them first with: python train.py --env {args.env}"
                            + (f" --models-dir {args.models_dir}" if args.models_dir != Config.models_dir else ""))
        mode = None if args.no_render else ("rgb_array" if record else "human")
        with contextlib.ExitStack() as stack:
            env = make_env(args.env, render_mode=mode, **env_kwargs)
            stack.callback(env.close)
            actor = ckpt_io.load_actor(path, args.env, env.observation_space, env.action_space)
            print(f"policy: {path}", flush=True)
            fps = env.metadata.get("render_fps", 30)
            # The video is renamed into place only if every episode finished.
            video = stack.enter_context(VideoWriter(Path(record), fps)) if record else None
            try:
                results = run_episodes(
                    env, actor.act, args.episodes, args.seed,
                    on_step=(lambda: video.append(env.render())) if video else None,
                    on_episode=lambda k, ret, n: print(f"episode {k}: return {ret:.1f}, length {n}", flush=True))
            except DDPGError:
                raise
            except Exception as e:
                render_errors = (gym.error.Error, RuntimeError, OSError,
                                 getattr(sys.modules.get("mujoco"), "FatalError", RuntimeError))
                if mode is not None and isinstance(e, render_errors):
                    # No pygame, no usable OpenGL (EGL; GLFW raises mujoco.FatalError), no window: one line.
                    gl = f", MUJOCO_GL={os.environ['MUJOCO_GL']}" if "MUJOCO_GL" in os.environ else ""
                    raise DDPGError(f"rendering {args.env} failed ({type(e).__name__}: {first_line(e)}{gl}); "
                                    f"try MUJOCO_GL=egl, or --no-render to evaluate only") from None
                if env_kwargs:  # e.g. ctrl_cost_weight='abc', which only fails inside step()
                    raise DDPGError(f"{args.env} failed mid-episode with --env-kwargs {' '.join(args.env_kwargs)} "
                                    f"({type(e).__name__}: {first_line(e)})") from None
                raise
        if video:
            print(f"video: {record} ({video.frames} frames at {fps} fps)")
    except DDPGError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"mean return {np.mean([r for r, _ in results]):.1f} over {len(results)} episodes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
