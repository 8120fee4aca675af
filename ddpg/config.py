"""One dataclass holds every hyperparameter; presets and the command line are generated from it."""
from __future__ import annotations

import argparse
import dataclasses
import math
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ddpg.errors import ArgumentParser, DDPGError, require_named


# What each Config field is to a run. Which fields a resume may change, an env's entry may set, a sweep
# sets per trial, or a comparable result may differ in, all follow from it (`fields_with`).
ROLES = {
    "identity": "which run: the env, the preset, the seed",
    "maths": "the algorithm's settings: networks, optimisation, exploration",
    "budget": "how long it trains",
    "bookkeeping": "how often it evaluates, logs and checkpoints",
    "place": "where its files go, and what it resumes",
    "speed": "how the same maths is computed: device and update path",
    "precision": "the dtype of the update's products: the same maths, rounded differently",
}


def _f(default: Any, help: str, role: str, **kw: Any) -> Any:
    assert role in ROLES, role
    return field(default=default, metadata={"help": help, "role": role, **kw})


# What each preset changes from Config's defaults, which are the tuned preset.
PRESETS: dict[str, dict[str, Any]] = {
    "tuned": {},
    # Lillicrap et al. 2015, §7 "Experiment details" (low-dimensional case).
    "paper": dict(hidden_sizes=(400, 300), critic_action_layer=1, paper_init=True, actor_lr=1e-4,
                  critic_lr=1e-3, critic_weight_decay=1e-2, gamma=0.99, tau=0.001, batch_size=64,
                  buffer_size=1_000_000, learning_starts=0, noise="ou", noise_sigma=0.2, ou_theta=0.15,
                  ou_dt=1.0),
    # A 100k-step budget: more learning per env step. Chosen on HalfCheetah-v5, tuning seed 100
    # (results/tuning/); other envs are untried at it.
    "100k": dict(total_steps=100_000, updates_per_step=2, actor_lr=1e-3, critic_lr=1e-3),
}


MATMUL_PRECISIONS = ("fp32", "bf16")  # --matmul-precision: the dtype the update's products take their inputs in


@dataclass
class Config:
    """A training run. Defaults are the tuned preset; `PRESETS` holds what the others change."""

    # What to train
    env: str = _f("HalfCheetah-v5", "Gymnasium env id with a continuous Box action space", role="identity")
    preset: str = _f("tuned", "hyperparameter preset: 'tuned' (default), 'paper' (Lillicrap et al. §7) or "
                              "'100k' (a 100k-step budget, chosen on HalfCheetah-v5)",
                     role="identity", choices=tuple(PRESETS))
    total_steps: int = _f(1_500_000, "environment steps to train for (a resumed run continues up to this)",
                          role="budget")
    seed: int = _f(0, "seed for networks, noise, replay sampling and env resets", role="identity")
    device: str = _f("auto", "auto (CUDA when available), cpu or cuda", role="speed", choices=("auto", "cpu", "cuda"))
    # Networks
    hidden_sizes: tuple[int, ...] = _f((256, 256), "hidden layer widths of actor and critic", role="maths", nargs="+")
    critic_action_layer: int = _f(0, "critic layer the action enters: 0 = with the observation, "
                                     "1 = the 2nd layer (paper)", role="maths")
    paper_init: bool = _f(False, "init final layers U[-3e-3, 3e-3] (paper) instead of PyTorch's default "
                                 "U[±1/sqrt(fan_in)], which the hidden layers have either way", role="maths")
    obs_norm: bool = _f(False, "normalise observations by the running mean and std of those seen in training, "
                               "clipped to ±10; the statistics are saved with the actor", role="maths")
    # Optimisation
    actor_lr: float = _f(3e-4, "Adam learning rate of the actor (paper: 1e-4)", role="maths")
    critic_lr: float = _f(3e-4, "Adam learning rate of the critic (paper: 1e-3)", role="maths")
    critic_weight_decay: float = _f(0.0, "L2 weight decay on the critic (paper: 1e-2)", role="maths")
    gamma: float = _f(0.99, "discount factor γ, in [0, 1]", role="maths")
    reward_scale: float = _f(1.0, "the critic learns the return of rewards multiplied by this (Q is in scaled units); "
                                  "logged and evaluated returns stay in env units", role="maths")
    tau: float = _f(0.005, "soft target mixing rate τ in θ' ← τθ + (1-τ)θ', in [0, 1] (paper: 0.001)",
                    role="maths")
    batch_size: int = _f(256, "minibatch size per update (paper: 64)", role="maths")
    buffer_size: int = _f(1_000_000, "replay buffer capacity in transitions", role="maths")
    updates_per_step: int = _f(1, "gradient updates per environment step once learning starts (paper: 1)",
                               role="maths")
    learning_starts: int = _f(10_000, "steps of uniform-random actions before updates begin (paper: none)",
                              role="maths")
    # Exploration
    noise: str = _f("ou", "exploration noise: 'ou' (Ornstein-Uhlenbeck) or 'gaussian'",
                    role="maths", choices=("ou", "gaussian"))
    noise_sigma: float = _f(0.1, "noise scale σ, relative to half the action range (paper: 0.2)", role="maths")
    ou_theta: float = _f(0.15, "OU mean reversion θ", role="maths")
    ou_dt: float = _f(1.0, "OU time step dt (1.0 is the paper's discrete process)", role="maths")
    # Bookkeeping
    eval_interval: int = _f(10_000, "steps between deterministic evaluations", role="bookkeeping")
    eval_episodes: int = _f(5, "episodes per evaluation", role="bookkeeping")
    log_interval: int = _f(1_000, "steps between loss/Q/SPS logs (the update's losses are read off the device only then)",
                           role="bookkeeping")
    checkpoint_interval: int = _f(50_000, "steps between full checkpoints (taken at the next episode end)",
                                  role="bookkeeping")
    models_dir: str = _f("models", "weights and checkpoints go to <models-dir>/<env>/<run-name>/", role="place")
    runs_dir: str = _f("runs", "TensorBoard and CSV logs go to <runs-dir>/<env>/<run-name>/", role="place")
    run_name: str | None = _f(None, "this run's folder name; a fresh run never reuses one that holds weights "
                                    "or logs (default: <preset>-seed<seed>-<date>-<time>, -2, -3, ... if taken); "
                                    "with --resume PATH, another name makes a new run from that checkpoint",
                              role="place")
    resume: str | None = _f(None, "resume from PATH (saving next to it), or with no PATH from the newest "
                                  "<models-dir>/<env>/<run-name>/checkpoint.pt (--run-name picks one)", role="place",
                            nargs="?", const="latest")
    backward: str = _f("auto", "how the update's gradients are computed: 'manual' (the hand-written backward "
                               "in ddpg/manual_update.py, fastest on the CPU), 'autograd' (DDPGAgent.update), or "
                               "'auto' (manual on the CPU, autograd on CUDA or with --compile/--cudagraphs)",
                       role="speed", choices=("auto", "manual", "autograd"))
    compile: bool = _f(False, "torch.compile the update step", role="speed")
    cudagraphs: bool = _f(False, "capture the update step as one CUDA graph (CUDA only)", role="speed")
    matmul_precision: str = _f("fp32", "the update's matrix products: 'fp32', or 'bf16' (bf16 inputs, fp32 "
                                       "accumulation; weights, Adam, targets and losses stay fp32; refused on a CPU "
                                       "without bf16 arithmetic)", role="precision",
                               choices=MATMUL_PRECISIONS)

    def validate(self) -> None:
        """Refuse nonsense with one line that says what to do."""
        def need(ok: bool, msg: str) -> None:
            if not ok:
                raise DDPGError(msg)

        for name in ("total_steps", "updates_per_step", "batch_size", "buffer_size", "eval_interval",
                     "eval_episodes", "log_interval", "checkpoint_interval"):
            need(getattr(self, name) > 0, f"--{name.replace('_', '-')} must be a positive integer, "
                                          f"got {getattr(self, name)}")
        need(self.learning_starts >= 0, f"--learning-starts must be >= 0, got {self.learning_starts}")
        # gymnasium refuses negative reset seeds, torch.manual_seed overflows at 2**64; 32 bits are plenty
        need(0 <= self.seed < 2**32, f"--seed must be >= 0 and < 2**32, got {self.seed}")
        need(self.run_name is None or (self.run_name.strip() and "/" not in self.run_name
                                       and self.run_name not in (".", "..")),
             f"--run-name must be a plain folder name, got {self.run_name!r}")
        for name in ("gamma", "tau"):
            v = getattr(self, name)
            need(math.isfinite(v) and 0.0 <= v <= 1.0, f"--{name} must be in [0, 1], got {v}")
        for name in ("actor_lr", "critic_lr", "reward_scale"):
            v = getattr(self, name)
            need(math.isfinite(v) and v > 0, f"--{name.replace('_', '-')} must be positive, got {v}")
        for name in ("critic_weight_decay", "noise_sigma", "ou_theta", "ou_dt"):
            v = getattr(self, name)
            need(math.isfinite(v) and v >= 0, f"--{name.replace('_', '-')} must be >= 0, got {v}")
        need(len(self.hidden_sizes) >= 1 and all(h > 0 for h in self.hidden_sizes),
             f"--hidden-sizes must be positive widths, got {list(self.hidden_sizes)}")
        need(0 <= self.critic_action_layer < len(self.hidden_sizes),
             f"--critic-action-layer must be in [0, {len(self.hidden_sizes) - 1}], got {self.critic_action_layer}")
        for f in dataclasses.fields(self):  # the command line checks these too; a file's config may not
            choices = f.metadata.get("choices")
            need(choices is None or getattr(self, f.name) in choices,
                 f"--{f.name.replace('_', '-')} must be one of {', '.join(choices or ())}, got {getattr(self, f.name)!r}")
        # x ← x + θ(μ - x)dt + σ√dt·N: with θ·dt above 1 each step overshoots the mean, and above 2 it diverges
        need(self.noise != "ou" or self.ou_theta * self.ou_dt <= 1.0,
             f"--ou-theta × --ou-dt must be at most 1 (the OU step overshoots its mean past that), "
             f"got {self.ou_theta} × {self.ou_dt}")
        need(self.backward != "manual" or not (self.compile or self.cudagraphs),
             "--compile and --cudagraphs apply to the autograd update; drop --backward manual")
        need(self.batch_size <= self.buffer_size,
             f"--batch-size {self.batch_size} exceeds --buffer-size {self.buffer_size}")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["hidden_sizes"] = list(self.hidden_sizes)
        return d


def fields_with(*roles: str) -> tuple[str, ...]:
    """The names of the Config fields whose role (ROLES) is one of `roles`."""
    assert set(roles) <= set(ROLES), roles
    return tuple(f.name for f in fields(Config) if f.metadata["role"] in roles)


# Fields a resumed run may change; any other explicit flag must agree with the checkpoint.
RESUMABLE_OVERRIDES = fields_with("budget", "bookkeeping", "place", "speed", "precision")


def build_parser(description: str) -> argparse.ArgumentParser:
    """Every Config field becomes `--field-name`. Defaults are None so explicit flags can be told apart."""
    p = ArgumentParser(description=description,  # help strings carry their own defaults
                       epilog=env_settings_note())
    add_config_flags(p)
    return p


def add_config_flags(p: argparse.ArgumentParser | argparse._ArgumentGroup, exclude: tuple[str, ...] = ()) -> None:
    """`--field-name` for every Config field not in `exclude`, with None defaults."""
    for f in fields(Config):
        if f.name in exclude:
            continue
        flag = "--" + f.name.replace("_", "-")
        meta = dict(f.metadata)
        help_text = meta.pop("help")
        meta.pop("role")
        shown = [f"default: {_shown(f.default)}"] + [f"{name} preset: {_shown(values[f.name])}"
                                                   for name, values in PRESETS.items() if f.name in values]
        help_text += f" [{'; '.join(shown)}]"
        if f.type in ("bool", bool):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
            continue
        p.add_argument(flag, type=FIELD_TYPES[f.type][0], default=None, help=help_text, **meta)


def _shown(value: Any) -> str:
    return " ".join(map(str, value)) if isinstance(value, tuple) else str(value)


def explicit_args(args: argparse.Namespace) -> dict[str, Any]:
    """The flags the user actually gave."""
    out = {k: v for k, v in vars(args).items() if v is not None and k in {f.name for f in fields(Config)}}
    if "hidden_sizes" in out:
        out["hidden_sizes"] = tuple(out["hidden_sizes"])
    return out


# Config's field types (as annotated): the command-line parser of one value, and what TOML may give for it.
FIELD_TYPES: dict[str, tuple[Any, tuple[type, ...]]] = {
    "int": (int, (int,)), "float": (float, (int, float)), "str": (str, (str,)), "bool": (None, (bool,)),
    "tuple[int, ...]": (int, (list,)), "str | None": (str, (str,)),
}


def value_fits(annotation: str, value: Any) -> bool:
    """Whether a value from the per-env file or a saved config has the type of a Config field (FIELD_TYPES)."""
    if isinstance(value, bool) and annotation != "bool":  # bool is an int to Python, not to a config
        return False
    if annotation == "tuple[int, ...]":
        return isinstance(value, (list, tuple)) and all(value_fits("int", v) for v in value)
    return (annotation == "str | None" and value is None) or isinstance(value, FIELD_TYPES[annotation][1])


# Per-env settings, by preset then env id: what train.py and sweep.py use for that env unless a flag says otherwise.
ENV_SETTINGS_FILE = Path(__file__).with_name("env_settings.toml")
# Fields that describe a run rather than an env's hyperparameters: never taken from the per-env file.
NOT_PER_ENV = fields_with("identity", "place", "speed", "precision")


def check_settings_layout(table: dict[str, Any], path: Path) -> None:
    """Every table is [<preset>."<registered env id>"]: a misspelt header would otherwise be skipped in silence."""
    import gymnasium as gym

    for preset, envs in table.items():
        if preset not in PRESETS or not isinstance(envs, dict):
            raise DDPGError(f"{path}: {preset!r} is not a preset table; tables are [<preset>.\"<env id>\"] with "
                            f"preset one of {', '.join(PRESETS)}")
        for env_id, entry in envs.items():
            if not isinstance(entry, dict):
                raise DDPGError(f"{path}: {preset}.{env_id} = {entry!r} is not an env table; "
                                f"write [{preset}.\"<env id>\"] and its settings below it")
            if env_id not in gym.registry:
                raise DDPGError(f"{path}: [{preset}.\"{env_id}\"] names no registered Gymnasium env")


def env_settings_note() -> str:
    """The --help line of train.py and sweep.py that says where the per-env settings live."""
    return (f"Per-env settings (used for that env unless a flag overrides them): "
            f"{ENV_SETTINGS_FILE.relative_to(ENV_SETTINGS_FILE.parents[1])}")


def env_settings(preset: str, env_id: str, path: Path = ENV_SETTINGS_FILE) -> dict[str, Any]:
    """The per-env entry for (preset, env_id), checked against Config: a typo is an error, not a silent default."""
    try:
        with open(path, "rb") as f:
            table = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise DDPGError(f"cannot read the per-env settings {path}: {e}") from None
    check_settings_layout(table, path)
    entry = table.get(preset, {}).get(env_id, {})
    allowed = {f.name: f for f in fields(Config) if f.name not in NOT_PER_ENV}
    for key, value in entry.items():
        where = f"{path}: [{preset}.\"{env_id}\"]"
        if key not in allowed:
            raise DDPGError(f"{where} sets {key!r}, which is not a per-env setting; "
                            f"known: {', '.join(sorted(allowed))}")
        if not value_fits(allowed[key].type, value):
            raise DDPGError(f"{where} sets {key} = {value!r}, which is not of type {allowed[key].type}")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in entry.items()}


def make_config(explicit: dict[str, Any]) -> Config:
    """The preset's values, then the env's entry in env_settings.toml, then explicit flags on top."""
    preset = explicit.get("preset", Config.preset)
    if preset not in PRESETS:
        raise DDPGError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    per_env = env_settings(preset, explicit.get("env", Config.env))
    try:
        cfg = Config(**{**PRESETS[preset], **per_env, **explicit})
    except TypeError as e:
        raise DDPGError(f"bad configuration: {e}") from None
    cfg.validate()
    check_places(explicit)
    return cfg


def check_places(explicit: dict[str, Any]) -> None:
    """Refuse empty folder and checkpoint names. Checked on what is asked for, not in validate:
    a file saved with these must still load."""
    for name in ("models_dir", "runs_dir"):
        require_named(f"--{name.replace('_', '-')}", explicit.get(name))
    resume = explicit.get("resume")
    if resume is not None and not str(resume).strip():  # an unset $VAR must not quietly start a fresh run
        raise DDPGError(f"--resume needs a checkpoint path, or no value for the newest run's checkpoint; "
                        f"got {resume!r}")


def field_faults(d: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The keys of d that are no Config field, and those whose values are not of their field's type."""
    types = {f.name: f.type for f in fields(Config)}
    return sorted(set(d) - set(types)), [k for k, v in d.items() if k in types and not value_fits(types[k], v)]


def config_from_dict(d: dict[str, Any]) -> Config:
    """Rebuild a Config saved with `to_dict` (unknown keys from other versions are an error)."""
    if not isinstance(d, dict):
        raise DDPGError(f"saved config is a {type(d).__name__}, not a table of settings; the file is damaged")
    unknown, wrong = field_faults(d)
    if unknown:
        raise DDPGError(f"saved config has unknown fields {unknown}; it was written by another version")
    d = dict(d)
    if wrong:
        raise DDPGError(f"saved config has values of the wrong type for {', '.join(wrong)}; the file is damaged")
    if "hidden_sizes" in d:
        d["hidden_sizes"] = tuple(d["hidden_sizes"])
    cfg = Config(**d)
    cfg.validate()
    return cfg
