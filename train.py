"""Train DDPG (Lillicrap et al. 2015) on a Gymnasium env with continuous actions.

    python train.py                                  # HalfCheetah-v5, tuned preset, 1.5M steps
    python train.py --env Pendulum-v1 --total-steps 20000 --preset paper
    python train.py --resume                         # continue the newest run in models/<env>/
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

import ddpg  # noqa: F401  (registers Rocket-v0)
from ddpg import checkpoint as ckpt_io
from ddpg.agent import DDPGAgent
from ddpg.buffer import ReplayBuffer
from ddpg.config import (RESUMABLE_OVERRIDES, Config, build_parser, check_places, config_from_dict, explicit_args,
                         make_config)
from ddpg.errors import DDPGError, first_line
from ddpg.evaluate import run_episodes
from ddpg.gym_utils import make_env
from ddpg.logger import Logger, log_files, new_run_id, timestamp
from ddpg.noise import make_noise
from ddpg.runtime import check_matmul_precision, flush_denormals, keep_freed_memory
from ddpg.update_paths import check_cudagraphs, make_update

EVAL_SEED_OFFSET = 10_000  # evaluation episodes use seeds the training resets never draw from the same stream


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DDPGError("--device cuda was asked for but no CUDA device is available; use --device cpu or auto")
    return torch.device(name)


def checked_device(cfg: Config) -> torch.device:
    """The run's device, once this machine is known to run cfg on it (before any folder is made)."""
    device = resolve_device(cfg.device)
    check_matmul_precision(cfg.matmul_precision, device)
    if cfg.cudagraphs:
        check_cudagraphs(device)
    return device


def resolve_config(explicit: dict[str, Any]) -> tuple[Config, dict[str, Any] | None, Path | None]:
    """The run's Config, and the checkpoint to resume from if --resume was given."""
    if not explicit.get("resume"):
        return make_config(explicit), None, None
    check_places(explicit)  # make_config checks a fresh run's
    defaults = Config()
    if explicit["resume"] == "latest":
        env_id = explicit.get("env", defaults.env)
        models_dir = explicit.get("models_dir", defaults.models_dir)
        if explicit.get("run_name"):
            path = ckpt_io.run_dir(models_dir, env_id, explicit["run_name"]) / ckpt_io.CHECKPOINT_FILE
        else:
            path = ckpt_io.latest_run_file(models_dir, env_id, ckpt_io.CHECKPOINT_FILE) or \
                ckpt_io.env_dir(models_dir, env_id) / "<run-name>" / ckpt_io.CHECKPOINT_FILE
        if not path.is_file():
            raise DDPGError(f"--resume: no checkpoint at {path}; start a run without --resume first")
    else:
        path = Path(explicit["resume"])
    state = ckpt_io.load(path, "checkpoint")
    saved = config_from_dict(state["config"])
    if "env" in explicit:
        ckpt_io.check_env(state, explicit["env"], path)
    for key, value in explicit.items():
        if key not in RESUMABLE_OVERRIDES and value != getattr(saved, key):
            raise DDPGError(f"--{key.replace('_', '-')} {value} differs from the checkpoint's "
                            f"{getattr(saved, key)} ({path}); drop the flag to resume that run")
    cfg = dataclasses.replace(saved, **{k: v for k, v in explicit.items() if k in RESUMABLE_OVERRIDES})
    cfg.validate()
    return cfg, state, path


def replay_episode(env: Any, seed: int, actions: np.ndarray, expected_obs: np.ndarray) -> np.ndarray:
    """Bring a fresh env to where a checkpoint left it mid-episode: reset with that episode's seed and
    take its actions again. Gymnasium envs are deterministic given both; the check catches one that is not."""
    obs, _ = env.reset(seed=seed)
    for action in actions:
        obs, *_ = env.step(action)
    if not np.array_equal(obs, expected_obs):
        raise DDPGError("this env did not reproduce the checkpoint's unfinished episode from its seed and actions; "
                        "it cannot be resumed mid-episode")
    return obs


class StopRequest:
    """First Ctrl-C: finish the episode, save, exit. Second Ctrl-C: stop now (the last checkpoint stays)."""

    def __init__(self) -> None:
        self.requested = False
        self._installed = False
        self._previous = signal.getsignal(signal.SIGINT)

    def __enter__(self) -> StopRequest:
        # Only the main thread may set handlers; elsewhere (a Ray Tune trial) the host handles signals.
        self._installed = threading.current_thread() is threading.main_thread()
        if self._installed:
            signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nCtrl-C: finishing this episode to save an exact checkpoint (Ctrl-C again to quit now)",
              file=sys.stderr, flush=True)


def check_folders_free(out_dir: Path, run_dir: Path) -> None:
    """A run that starts in new folders (fresh, or resumed into a run folder of its own) overwrites nothing."""
    held = [f for f in ckpt_io.RUN_FILES if (out_dir / f).exists()]
    if held:
        how = (f"continue it with --resume {out_dir / ckpt_io.CHECKPOINT_FILE} or "
               if ckpt_io.CHECKPOINT_FILE in held else "")
        raise DDPGError(f"{out_dir} already holds a run ({', '.join(held)}); {how}choose another --run-name")
    logs = log_files(run_dir)
    if logs:
        raise DDPGError(f"{run_dir} already holds a run's logs ({', '.join(f.name for f in logs[:2])}"
                        f"{', ...' if len(logs) > 2 else ''}); choose another --run-name, or delete that folder")


def train(cfg: Config, resume_state: dict[str, Any] | None = None, quiet: bool = False, out_dir: Path | None = None,
          on_eval: Callable[[int, float], None] | None = None,
          on_save: Callable[[int, Path], None] | None = None, new_run: bool = False,
          resume_path: Path | None = None) -> dict[str, Any]:
    """Run DDPG until `cfg.total_steps`. Returns a summary: final step, last eval return, file paths.

    Weights go to `out_dir` (default <models-dir>/<env>/<run-name>/). A fresh run, or a resumed one with
    `new_run` (a branch into folders of its own), must find its weight and log folders free.
    `on_eval(step, return)` runs after each evaluation and `on_save(step, checkpoint_path)` after each
    checkpoint (sweep.py reports both to Tune). `resume_path`, the checkpoint's file, only names it in the
    resume message.
    """
    device = checked_device(cfg)
    keep_freed_memory()
    flush_denormals()
    in_place = resume_state is not None and not new_run
    # One id per run: its checkpoints carry it, and a log folder it resumes into must hold the same
    # (checkpoints from before ids have none, and are not checked).
    run_id = resume_state.get("run_id") if in_place else new_run_id()
    # Folders this run creates are removed again if it fails before writing into them.
    with ckpt_io.removed_if_failed(ckpt_io.env_dir(cfg.models_dir, cfg.env)) as made:
        if cfg.run_name is None:
            base = f"{cfg.preset}-seed{cfg.seed}-{timestamp()}"
            cfg = dataclasses.replace(cfg, run_name=ckpt_io.claim_run_name(cfg.models_dir, cfg.runs_dir, cfg.env,
                                                                           base))
            made.append(ckpt_io.run_dir(cfg.models_dir, cfg.env, cfg.run_name))  # claimed: created just now
        out_dir = Path(out_dir) if out_dir is not None else ckpt_io.run_dir(cfg.models_dir, cfg.env, cfg.run_name)
        run_dir = ckpt_io.run_dir(cfg.runs_dir, cfg.env, cfg.run_name)
        made += ckpt_io.missing_folders(out_dir, run_dir)
        ckpt_io.ensure_writable_dirs({"--models-dir": out_dir, "--runs-dir": run_dir})  # now, not at the first save
        with contextlib.ExitStack() as hold:  # one process per run folder: two would overwrite each other
            for folder in dict.fromkeys(Path(os.path.realpath(d)) for d in (out_dir, run_dir)):
                hold.enter_context(ckpt_io.held(folder, "training into"))
            if not in_place:
                check_folders_free(out_dir, run_dir)
            run = Run(cfg, device, out_dir, run_dir, run_id, resume_state, on_eval, on_save)
            try:
                return run.loop(quiet, resume_path)
            finally:
                run.close()


class Run:
    """One training run: its env, agent, buffer and noise, and where it stands.

    `loop` is Algorithm 1: `start_episode` (initialise the noise, receive s₁), `collect` (select aₜ = μ(sₜ) +
    noise, execute it, store the transition), `learn` (sample a minibatch and update: `DDPGAgent.update`).
    `log`, `evaluate`, `end_episode` and `save` are bookkeeping. `step`, `episode`, the evaluations and
    the episode under way are what a checkpoint saves besides the agent, buffer, noise and random number
    generators; a resumed run reads them back first.
    """

    def __init__(self, cfg: Config, device: torch.device, out_dir: Path, run_dir: Path, run_id: int | None,
                 resume_state: dict[str, Any] | None, on_eval: Callable[[int, float], None] | None,
                 on_save: Callable[[int, Path], None] | None) -> None:
        self.cfg, self.device, self.out_dir, self.run_dir = cfg, device, out_dir, run_dir
        self.on_eval, self.on_save, self.run_id = on_eval, on_save, run_id
        self.resumed = resume_state is not None
        with contextlib.ExitStack() as opened:  # closed again if the run cannot start
            self.env = make_env(cfg.env)
            opened.callback(self.env.close)
            self.eval_env = make_env(cfg.env)
            opened.callback(self.eval_env.close)
            self._build(resume_state)
            # It may refuse a resume (logs of another run); nothing is written before it.
            self.logger = Logger(run_dir, cfg.to_dict(), self.step, run_id)
            opened.callback(self.logger.close)
            if self.best_actor is not None:  # only a resume has one yet
                # The logs are cut back to the checkpoint now; a best_actor.pt from evaluations after it goes too.
                ckpt_io.atomic_save(self.best_actor, out_dir / ckpt_io.BEST_ACTOR_FILE)
            self._opened = opened.pop_all()

    def _build(self, resume_state: dict[str, Any] | None) -> None:
        """The agent, buffer, noise and counters, as new or as `resume_state` left them; the update step."""
        cfg = self.cfg
        obs_dim = self.env.observation_space.shape[0]
        self.low = self.env.action_space.low.astype(np.float64)
        self.high = self.env.action_space.high.astype(np.float64)
        self.half_range = (self.high - self.low) / 2  # the noise is relative to it

        # Every random draw comes from these, and all of them are checkpointed.
        self.rng = np.random.default_rng(cfg.seed)  # exploration noise, warm-up actions, env reset seeds
        torch.manual_seed(cfg.seed)                 # network initialisation
        try:
            self.agent = DDPGAgent(obs_dim, self.low, self.high, cfg, self.device)
        except RuntimeError as e:  # torch's allocator refusing networks too large for this machine
            if "alloc" not in str(e).lower() and "out of memory" not in str(e).lower():
                raise
            raise DDPGError(f"networks of --hidden-sizes {' '.join(map(str, cfg.hidden_sizes))} could not be "
                            f"allocated ({first_line(e)[:120]})") from None
        self.buffer = ReplayBuffer(cfg.buffer_size, obs_dim, self.low.size, self.device, seed=cfg.seed)
        self.noise = make_noise(cfg.noise, self.low.size, self.rng, cfg.noise_sigma, cfg.ou_theta, cfg.ou_dt)
        self.header = ckpt_io.run_header(cfg, obs_dim, self.low, self.high)

        self.step, self.episode, self.last_ckpt_step = 0, 0, 0
        self.best_eval, self.last_eval = float("-inf"), float("nan")
        self.best_actor: dict[str, Any] | None = None  # what best_actor.pt holds; each checkpoint keeps a copy
        # The episode under way. It starts at the top of the loop, so a run that ends draws no reset seed
        # it won't use. Its actions are kept (float64, as the env got them) for a checkpoint taken mid-episode.
        self.obs: np.ndarray | None = None
        self.ep_seed, self.ep_actions, self.ep_return, self.ep_len = 0, [], 0.0, 0
        self.last_return = float("nan")
        # Loss sums stay on the device between log intervals, so reading them costs no sync per update.
        self.sums, self.n_updates = torch.zeros(3, device=self.device), 0
        self.t_log, self.step_log = 0.0, 0  # when and at which step the last log was written
        if resume_state is not None:
            self.restore(resume_state)
        # After restore: a CUDA graph captures the state.
        self.update, self.update_path = make_update(self.agent, self.buffer, cfg)

    def restore(self, s: dict[str, Any]) -> None:
        """Where a checkpoint left the run, down to the random number generators and the unfinished episode."""
        try:
            self.agent.load_state_dict(s["agent"])
            self.buffer.load_state_dict(s["buffer"])
            self.noise.load_state_dict(s["noise"])
            self.rng.bit_generator.state = s["rng"]["numpy"]
            torch.set_rng_state(s["rng"]["torch"])
        except (KeyError, RuntimeError, ValueError, TypeError) as e:
            raise DDPGError(f"the checkpoint does not fit this run ({type(e).__name__}: {e}); "
                            f"it is damaged or from another version") from None
        self.step, self.episode, self.last_ckpt_step = s["step"], s["episode"], s["step"]
        self.best_eval, self.last_eval = s["best_eval_return"], s.get("last_eval_return", self.last_eval)
        self.best_actor = s.get("best_actor")  # checkpoints from before it was kept have none
        u = s.get("unfinished_episode")
        if u:
            self.ep_seed, self.ep_actions, self.ep_return = u["seed"], list(u["actions"].numpy()), u["return"]
            self.obs = replay_episode(self.env, self.ep_seed, self.ep_actions, u["obs"].numpy())
            self.ep_len = len(self.ep_actions)

    def loop(self, quiet: bool, resume_path: Path | None = None) -> dict[str, Any]:
        """Algorithm 1 to `cfg.total_steps`, with logs, evaluations and checkpoints on their schedules."""
        cfg = self.cfg
        start_step = self.step
        learn_from = max(cfg.learning_starts, cfg.batch_size)  # first update once the buffer can fill a batch
        if self.resumed:  # said only now, once every check that may refuse the resume has passed
            print(f"resuming from {resume_path or 'a checkpoint'} at step {self.step}" + (
                f": already at --total-steps {cfg.total_steps} or past it, so nothing is trained; a larger "
                f"--total-steps goes on" if self.step >= cfg.total_steps else ""), file=sys.stderr)
        print(f"training {cfg.env} with the {cfg.preset} preset on {self.device}, {self.update_path} update; "
              f"logs in {self.run_dir}", file=sys.stderr)
        self.t_log, self.step_log = time.perf_counter(), self.step
        with tqdm(total=cfg.total_steps, initial=self.step, unit="step", dynamic_ncols=True, disable=quiet,
                  mininterval=1.0) as bar, StopRequest() as stop:
            while self.step < cfg.total_steps:
                if self.obs is None:
                    self.start_episode()
                done = self.collect()
                if self.step >= learn_from:
                    self.learn()
                if self.step % cfg.log_interval == 0 or self.step == cfg.total_steps:  # the CSV reaches the last step
                    sps = self.log()
                    bar.update(self.step - bar.n)  # nan below: no episode or evaluation yet
                    bar.set_postfix(sps=f"{sps:.0f}", ret=f"{self.last_return:.0f}", eval=f"{self.last_eval:.0f}")
                if self.step % cfg.eval_interval == 0:
                    self.evaluate()
                if done:
                    self.end_episode()
                    if stop.requested or self.step - self.last_ckpt_step >= cfg.checkpoint_interval:
                        self.save()
                    if stop.requested:
                        break
            if self.step >= cfg.total_steps and self.last_ckpt_step != self.step:
                self.save()  # a resumed run with a larger --total-steps goes on from here
            if self.step >= cfg.total_steps and self.step > start_step:  # once per run, not per no-op resume
                self.logger.hparams(cfg.to_dict(), {"hparam/final_eval_return": self.last_eval,
                                                    "hparam/best_eval_return": self.best_eval})
        return {"step": self.step, "episode": self.episode, "eval_return": self.last_eval, "run_dir": self.run_dir,
                "checkpoint": self.out_dir / ckpt_io.CHECKPOINT_FILE, "actor": self.out_dir / ckpt_io.ACTOR_FILE}

    def start_episode(self) -> None:
        """Reset the env and the noise process."""
        # Seeded from `rng`, so a run resumed at an episode boundary resets exactly as the original did.
        self.ep_seed = int(self.rng.integers(2**31 - 1))
        self.ep_actions.clear()
        self.obs, _ = self.env.reset(seed=self.ep_seed)
        self.noise.reset()

    def collect(self) -> bool:
        """One env step: a uniform-random action during the warm-up, then μ(s) plus noise (clipped to the
        action bounds); the transition goes into the buffer. True when the episode has ended."""
        self.agent.observe(self.obs)
        if self.step < self.cfg.learning_starts:
            action = self.rng.uniform(self.low, self.high)
        else:
            action = np.clip(self.agent.act(self.obs) + self.half_range * self.noise(), self.low, self.high)
        next_obs, reward, terminated, truncated, _ = self.env.step(action)
        self.ep_actions.append(action)
        if not (np.isfinite(reward) and np.all(np.isfinite(next_obs))):
            what = "reward" if not np.isfinite(reward) else "observation"
            raise self.diverged(f"non-finite {what} from {self.cfg.env} at step {self.step + 1}")
        self.buffer.add(self.obs, action, float(reward), next_obs, terminated)  # a time-limit cut still bootstraps
        self.obs = next_obs
        self.step += 1
        self.ep_return += float(reward)
        self.ep_len += 1
        return terminated or truncated

    def learn(self) -> None:
        """`updates_per_step` updates (ddpg/agent.py), their losses summed on the device for the next log."""
        for _ in range(self.cfg.updates_per_step):
            m = self.update()
            self.sums += torch.stack((m["critic_loss"], m["actor_loss"], m["q"]))
            self.n_updates += 1

    def log(self) -> float:
        """Log steps/s (returned) and the mean losses since the last log: the only place they leave the device."""
        now = time.perf_counter()
        sps = (self.step - self.step_log) / (now - self.t_log)
        self.t_log, self.step_log = now, self.step
        self.logger.scalar("charts/sps", sps, self.step)
        if self.n_updates:
            critic_loss, actor_loss, q = (self.sums / self.n_updates).tolist()
            for name, v in (("critic loss", critic_loss), ("actor loss", actor_loss), ("Q", q)):
                if not np.isfinite(v):
                    raise self.diverged(f"non-finite {name} at step {self.step} (checked every "
                                        f"{self.cfg.log_interval} steps)")
            self.logger.scalar("losses/critic", critic_loss, self.step)
            self.logger.scalar("losses/actor", actor_loss, self.step)
            self.logger.scalar("losses/q_mean", q, self.step)
            self.sums.zero_()
            self.n_updates = 0
        self.logger.flush()
        return sps

    def evaluate(self) -> None:
        """Deterministic episodes on the eval env; the best actor so far is kept beside the latest."""
        results = run_episodes(self.eval_env, self.agent.act, self.cfg.eval_episodes,
                               self.cfg.seed + EVAL_SEED_OFFSET)
        self.last_eval = float(np.mean([r for r, _ in results]))
        self.logger.scalar("eval/return", self.last_eval, self.step)
        self.logger.scalar("eval/length", float(np.mean([n for _, n in results])), self.step)
        if self.last_eval > self.best_eval:
            self.best_eval = self.last_eval
            self.best_actor = ckpt_io.actor_state(self.header, self.step, self.agent.actor,
                                                  eval_return=self.last_eval)
            ckpt_io.atomic_save(self.best_actor, self.out_dir / ckpt_io.BEST_ACTOR_FILE)
        if self.on_eval:
            self.on_eval(self.step, self.last_eval)

    def end_episode(self) -> None:
        """Log the episode's return and length; the next step starts a new one."""
        self.episode += 1
        self.last_return = self.ep_return
        self.logger.scalar("charts/episodic_return", self.ep_return, self.step)
        self.logger.scalar("charts/episodic_length", self.ep_len, self.step)
        self.obs, self.ep_return, self.ep_len = None, 0.0, 0

    def save(self) -> None:
        """The full checkpoint, then the actor alone; at an episode boundary, or at the run's last step."""
        for name, net in (("actor", self.agent.actor), ("critic", self.agent.critic)):
            if not all(torch.isfinite(p).all() for p in net.parameters()):
                raise self.diverged(f"non-finite {name} weights at step {self.step}")
        self.logger.flush()  # the logs on disk reach the checkpoint's step, so a kill -9 after it loses no rows
        # A run that reaches total_steps mid-episode saves that episode's seed and actions, so that
        # extending it replays the episode and goes on exactly as a longer run would have.
        unfinished = {"seed": self.ep_seed, "actions": torch.from_numpy(np.array(self.ep_actions)),
                      "obs": torch.from_numpy(np.asarray(self.obs)), "return": self.ep_return} if self.ep_len else None
        ckpt_io.atomic_save(ckpt_io.checkpoint_state(
            self.header, run_id=self.run_id, step=self.step, episode=self.episode,
            unfinished_episode=unfinished, best_eval_return=self.best_eval, last_eval_return=self.last_eval,
            best_actor=self.best_actor, agent=self.agent, buffer=self.buffer, noise=self.noise, rng=self.rng),
            self.out_dir / ckpt_io.CHECKPOINT_FILE)
        ckpt_io.atomic_save(ckpt_io.actor_state(self.header, self.step, self.agent.actor),
                            self.out_dir / ckpt_io.ACTOR_FILE)
        self.last_ckpt_step = self.step
        self.logger.checkpoint(self.step)
        if self.on_save:
            self.on_save(self.step, self.out_dir / ckpt_io.CHECKPOINT_FILE)

    def diverged(self, what: str) -> DDPGError:
        """The error for a run that diverged: what went wrong, and what it leaves to resume from."""
        kept = (f"last good checkpoint kept in {self.out_dir}"
                if (self.out_dir / ckpt_io.CHECKPOINT_FILE).is_file()
                else f"it had saved no checkpoint yet (its logs are in {self.run_dir})")
        return DDPGError(f"{what}; training stopped, {kept}")

    def close(self) -> None:
        """Close the logger and the envs."""
        self._opened.close()


def resume_folder(path: Path, state: dict[str, Any], run_name: str | None) -> tuple[Path | None, str | None]:
    """(folder, run name) of a run resumed from `path`, given --run-name or None.

    A run is its folder: it goes on beside its checkpoint, under that folder's name, so its logs are
    <runs-dir>/<env>/<folder name>/. The folder is None (a new run folder, which must be free) when
    --run-name names another run (a branch from this checkpoint), or when the checkpoint sits straight
    in a folder named after its env (the layout before run folders, beside the shipped actor.pt): that
    run keeps the name it was saved with, if any."""
    here = Path(os.path.abspath(path)).parent  # `--resume checkpoint.pt` from inside the folder names it too
    saved = state["config"].get("run_name")  # checkpoints before run folders have none
    if here.name == state["env_id"] and saved != here.name:
        return None, run_name or saved
    if run_name is not None and run_name != here.name:
        return None, run_name
    return here, here.name


def main(argv: list[str] | None = None) -> int:
    args = build_parser(__doc__.splitlines()[0]).parse_args(argv)
    try:
        explicit = explicit_args(args)
        cfg, state, path = resolve_config(explicit)
        out_dir = None
        if state is not None:
            out_dir, name = resume_folder(path, state, explicit.get("run_name"))
            cfg = dataclasses.replace(cfg, run_name=name)
            cfg.validate()
        summary = train(cfg, state, out_dir=out_dir, new_run=state is not None and out_dir is None, resume_path=path)
    except DDPGError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a path the system refuses (a --run-name over 255 bytes), a full disk, ...
        print(f"error: {first_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; the last checkpoint is kept", file=sys.stderr)
        return 130
    print(f"done: {summary['step']} steps; weights in {summary['actor']}, logs in {summary['run_dir']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
