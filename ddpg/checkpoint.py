"""Saving and loading weights and checkpoints: atomic writes, `weights_only` reads, clear refusals."""
from __future__ import annotations

import contextlib
import os
import pickle
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import torch

from ddpg.config import Config, config_from_dict
from ddpg.errors import DDPGError, first_line
from ddpg.networks import Actor

if TYPE_CHECKING:
    from ddpg.agent import DDPGAgent
    from ddpg.buffer import ReplayBuffer
    from ddpg.noise import GaussianNoise, OUNoise

try:
    import fcntl
except ImportError:  # Windows has no flock: there, runs are not held (see `held`)
    fcntl = None

FORMAT_VERSION = 1
ACTOR_FILE = "actor.pt"            # the actor alone, with what main.py needs to rebuild it
BEST_ACTOR_FILE = "best_actor.pt"  # the actor at its best periodic evaluation so far
CHECKPOINT_FILE = "checkpoint.pt"  # everything a resumed run needs
RUN_FILES = (CHECKPOINT_FILE, ACTOR_FILE, BEST_ACTOR_FILE)  # what a run writes; a fresh run overwrites none
# What each kind of file must hold for this code to use it.
REQUIRED_KEYS = {
    "actor": ("env_id", "config", "obs_dim", "action_low", "action_high", "step", "actor"),
    "checkpoint": ("env_id", "config", "obs_dim", "action_low", "action_high", "step", "episode", "agent",
                   "buffer", "noise", "rng", "best_eval_return"),
}


def _count(v: object) -> bool:
    return type(v) is int and v >= 0


def _number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _episode(v: object) -> bool:
    """An unfinished episode as `train.py` saves it: its reset seed, its actions so far, the last obs, the return."""
    return v is None or (isinstance(v, dict) and _count(v.get("seed")) and _number(v.get("return"))
                         and isinstance(v.get("actions"), torch.Tensor) and v["actions"].ndim == 2
                         and isinstance(v.get("obs"), torch.Tensor))


# The scalar fields a resumed run reads, checked where present: a damaged value is refused on loading,
# not thousands of steps later (a best_eval_return of None only fails at the first evaluation).
FIELD_CHECKS = {
    "step": ("a step count", _count),
    "episode": ("an episode count", _count),
    "best_eval_return": ("a number", _number),
    "last_eval_return": ("a number", _number),
    "eval_return": ("a number", _number),
    "run_id": ("a run id", lambda v: v is None or _count(v)),
    "unfinished_episode": ("an unfinished episode (seed, actions, obs, return)", _episode),
}


def env_dir(models_dir: str | Path, env_id: str) -> Path:
    """Where an env's runs live, one folder each. A file directly in it (actor.pt) is the shipped policy:
    train.py saves only into run folders (train.resume_folder keeps old-layout resumes out of it too)."""
    return Path(models_dir) / env_id


def run_dir(models_dir: str | Path, env_id: str, run_name: str) -> Path:
    """One training run's weights and checkpoint: <models-dir>/<env>/<run-name>/."""
    return env_dir(models_dir, env_id) / run_name


def latest_run_file(models_dir: str | Path, env_id: str, filename: str) -> Path | None:
    """The most recently written <models-dir>/<env>/<run>/<filename>, or None when no run has one."""
    found = [p for p in env_dir(models_dir, env_id).glob(f"*/{filename}") if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime_ns, default=None)


def default_actor(models_dir: str | Path, env_id: str) -> Path:
    """What main.py shows: the newest run's actor, else the shipped <models-dir>/<env>/actor.pt."""
    return latest_run_file(models_dir, env_id, ACTOR_FILE) or env_dir(models_dir, env_id) / ACTOR_FILE


def missing_folders(*paths: Path) -> list[Path]:
    """The folders, parents included, that do not exist yet."""
    return list(dict.fromkeys(d for path in paths for d in (*reversed(Path(path).parents), Path(path))
                              if not d.exists()))


@contextlib.contextmanager
def removed_if_failed(*paths: Path) -> Iterator[list[Path]]:
    """Those of `paths` (parents included) that do not exist yet are removed again, where still empty,
    if the block fails; so a refused start leaves no folder behind. Append to the list to add more."""
    made = missing_folders(*paths)
    try:
        yield made
    except BaseException:
        for d in reversed(made):
            try:
                d.rmdir()  # only while empty
            except OSError:
                pass
        raise


def _took_lock(fd: int) -> bool:
    """Take the exclusive flock on `fd` if no other open handle has it; say whether it was taken."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


@contextlib.contextmanager
def held(folder: Path, what: str) -> Iterator[None]:
    """Hold `folder` for this process while the block runs; another process that asks for it meanwhile
    gets a one-line error. An flock on the folder itself: it leaves no file, and the kernel drops it when
    the process ends, however it ends, so a crash never leaves a stale lock."""
    if fcntl is None:
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        if not _took_lock(fd):
            raise DDPGError(f"{folder} is in use: another process is {what} it now; "
                            f"wait for that one to end, or stop it")
        yield
    finally:
        os.close(fd)  # releases the lock


def in_use(folder: Path) -> bool:
    """Whether another open handle holds `folder` with `held` now (e.g. a sweep.py driver running it)."""
    if fcntl is None:
        return False
    fd = os.open(folder, os.O_RDONLY)
    try:
        return not _took_lock(fd)
    finally:
        os.close(fd)  # releases the lock if this call took it


def claim_run_name(models_dir: str | Path, runs_dir: str | Path, env_id: str, base: str) -> str:
    """`base`, or `base-2`, `base-3`, ... : the first name whose run folder this call creates (mkdir is
    atomic, so two runs started in the same second get two names) and whose log folder does not exist."""
    for k in range(1, 1000):
        name = base if k == 1 else f"{base}-{k}"
        if run_dir(runs_dir, env_id, name).exists():
            continue
        try:
            run_dir(models_dir, env_id, name).mkdir(parents=True)
            return name
        except FileExistsError:
            continue
        except OSError:
            return name  # unwritable: ensure_writable_dirs names the flag to fix
    raise DDPGError(f"no free run name {base}-<k> in {env_dir(models_dir, env_id)}; give --run-name")


def ensure_writable_dirs(dirs: dict[str, Path]) -> None:
    """Prove a file can be written in each folder ({flag: path}), or say which flag to fix. The folders
    this creates are removed again when one fails, so a refused run leaves nothing behind."""
    with removed_if_failed(*dirs.values()):
        for flag, path in dirs.items():
            path = Path(path)
            try:
                path.mkdir(parents=True, exist_ok=True)
                probe = path / ".write-test.tmp"
                probe.write_bytes(b"")
                probe.unlink()
            except OSError as e:
                raise DDPGError(f"{flag}: cannot write to {path} ({e.strerror or e}); pass a writable directory") \
                    from None


@contextlib.contextmanager
def replacing(path: Path, mode: str, newline: str | None = None) -> Iterator[IO[Any]]:
    """Write `path` through `<path>.tmp`: on leaving, flush and fsync it, rename it over `path` and fsync the
    folder, so a crash at any moment leaves the old file or the new one, never a torn one. An error before
    the rename leaves the old file and no temporary, and raises on."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, mode, newline=newline) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
    # Make the rename itself durable; best effort, as the new file is already in place (and some
    # filesystems refuse fsync on a folder).
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def atomic_write_text(path: Path, text: str) -> None:
    """Write text as a whole new file (tables, logs, results JSON) through `replacing`, its line ends as
    given; a failed write raises its OSError."""
    with replacing(path, "w", newline="") as f:
        f.write(text)


def run_header(cfg: Config, obs_dim: int, low: np.ndarray, high: np.ndarray) -> dict[str, Any]:
    """What every file of a run holds: its env, config and spaces, from which the file alone rebuilds the actor."""
    return {"env_id": cfg.env, "config": cfg.to_dict(), "obs_dim": obs_dim,
            "action_low": np.asarray(low, np.float64).tolist(), "action_high": np.asarray(high, np.float64).tolist(),
            "format_version": FORMAT_VERSION}


def actor_state(header: dict[str, Any], step: int, actor: torch.nn.Module,
                eval_return: float | None = None) -> dict[str, Any]:
    """What actor.pt and best_actor.pt hold. The weights are copied: training goes on while it is kept."""
    extra = {} if eval_return is None else {"eval_return": eval_return}
    return {**header, "kind": "actor", "step": step, **extra,
            "actor": {k: v.detach().clone() for k, v in actor.state_dict().items()}}


def checkpoint_state(header: dict[str, Any], *, run_id: int | None, step: int, episode: int,
                     unfinished_episode: dict[str, Any] | None, best_eval_return: float, last_eval_return: float,
                     best_actor: dict[str, Any] | None, agent: DDPGAgent, buffer: ReplayBuffer,
                     noise: OUNoise | GaussianNoise,
                     rng: np.random.Generator) -> dict[str, Any]:
    """What checkpoint.pt holds: everything train.py restores to go on exactly where the run was, random
    number generators included."""
    return {**header, "kind": "checkpoint", "run_id": run_id, "step": step, "episode": episode,
            "unfinished_episode": unfinished_episode, "best_eval_return": best_eval_return,
            "last_eval_return": last_eval_return, "best_actor": best_actor,
            "agent": agent.state_dict(), "buffer": buffer.state_dict(), "noise": noise.state_dict(),
            "rng": {"numpy": rng.bit_generator.state, "torch": torch.get_rng_state()}}


def atomic_save(obj: dict[str, Any], path: Path) -> None:
    """torch.save through `replacing`: a crash at any moment leaves either the old file or the new one."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with replacing(path, "wb") as f:
            torch.save(obj, f)
    except OSError as e:
        raise DDPGError(f"could not write {path}: {e.strerror or e}; the previous file there (if any) is kept")


def load(path: Path, kind: str) -> dict[str, Any]:
    """Load a file written by `atomic_save`, refusing anything that is not a sound file of `kind`."""
    path = Path(path)
    if not path.is_file():
        raise DDPGError(f"no {kind} file at {path}")
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise DDPGError(f"could not read {path}: {e.strerror or e}") from None
    if not magic:
        raise DDPGError(f"{path} is empty (truncated); delete it or restore a good copy")
    if magic != b"PK\x03\x04":  # torch.save writes a zip archive; this is some other kind of file
        raise DDPGError(f"{path} is not a DDPG {kind} file: torch.save did not write it, or its start is damaged")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "weights only" in str(e).lower():
            raise DDPGError(f"refusing {path}: it contains pickled code or objects, and files are loaded "
                            f"with weights_only=True") from None
        raise DDPGError(f"{path} is corrupted ({first_line(e)}); delete it or restore a good copy") from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, KeyError) as e:
        raise DDPGError(f"{path} is truncated or corrupted ({first_line(e)}); delete it or restore a good copy") \
            from None
    if not isinstance(obj, dict) or obj.get("kind") not in ("actor", "checkpoint"):
        raise DDPGError(f"{path} is not a DDPG {kind} file written by this repo")
    if obj["kind"] != kind:
        article = {"actor": "an", "checkpoint": "a"}
        raise DDPGError(f"{path} is {article[obj['kind']]} {obj['kind']} file, expected {article[kind]} {kind} file")
    version = obj.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise DDPGError(f"{path} has format version {version}, newer than this code's {FORMAT_VERSION}; "
                        f"update the repo to load it")
    missing = [k for k in REQUIRED_KEYS[kind] if k not in obj]
    if missing:
        raise DDPGError(f"{path} is a {kind} file without {', '.join(missing)}; it was not written by this repo's "
                        f"train.py, or it is damaged")
    bad = [f"{k} ({obj[k]!r:.40}, not {what})" for k, (what, ok) in FIELD_CHECKS.items() if k in obj and not ok(obj[k])]
    if bad:
        raise DDPGError(f"{path} is a {kind} file with damaged values: {'; '.join(bad)}")
    try:
        config_from_dict(obj["config"])
    except DDPGError as e:
        raise DDPGError(f"{path} is a {kind} file whose config is damaged: {e}") from None
    return obj


def load_actor(path: Path, env_id: str, observation_space: Any, action_space: Any) -> torch.nn.Module:
    """Rebuild the actor from an actor file alone, refusing weights made for another env or spaces."""
    saved = load(path, "actor")
    check_env(saved, env_id, path)
    try:
        low = np.asarray(saved["action_low"], dtype=np.float64)
        high = np.asarray(saved["action_high"], dtype=np.float64)
        fits = (type(saved["obs_dim"]) is int and observation_space.shape[0] == saved["obs_dim"]
                and low.shape == action_space.shape
                and np.allclose(low, action_space.low) and np.allclose(high, action_space.high))
    except (TypeError, ValueError) as e:
        raise DDPGError(f"{path}: its action bounds are damaged ({first_line(e)})") from None
    if not fits:
        raise DDPGError(f"{path} was saved for other observation/action spaces than {env_id} has now")
    cfg = config_from_dict(saved["config"])  # `load` has checked it; files from before --obs-norm lack the key
    actor = Actor(saved["obs_dim"], torch.as_tensor(low), torch.as_tensor(high), cfg.hidden_sizes,
                  obs_norm=cfg.obs_norm)
    try:
        actor.load_state_dict(saved["actor"])
    except (RuntimeError, TypeError, AttributeError) as e:  # wrong shapes, or not a table of tensors at all
        raise DDPGError(f"{path}: weights do not fit the network its config describes ({first_line(e)})") from None
    return actor.eval()


def check_env(obj: dict[str, Any], env_id: str, path: Path) -> None:
    if obj["env_id"] != env_id:
        raise DDPGError(f"{path} was trained on {obj['env_id']}, not {env_id}; "
                        f"pass --env {obj['env_id']} or point at weights for {env_id}")
