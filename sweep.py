"""Train DDPG on every (env, seed) of a grid as Ray Tune trials: on this machine, or on a Ray cluster.

    python sweep.py --envs HalfCheetah-v5 Hopper-v5 --seeds 0 1 2 --total-steps 1000000
    python sweep.py --resume sweeps/<name>       # go on after Ctrl-C, a kill or a reboot
    python sweep.py --summary sweeps/<name>      # markdown table + one curve PNG per env
    python sweep.py --summary sweeps/<name> --export results/<name>   # the same, copied where git keeps it

Every train.py flag applies to all trials. Each trial runs train.py's `train` and keeps its
weights, checkpoint, TensorBoard events and metrics.csv in <sweep-dir>/<env>/seed<k>/.
Ray Tune's own state (trial status, registered checkpoints) is in <sweep-dir>/tune/.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

import train
from ddpg import checkpoint as ckpt_io
from ddpg.config import (Config, add_config_flags, config_from_dict, env_settings_note, explicit_args, fields_with,
                         field_faults, make_config)
from ddpg.errors import ArgumentParser, DDPGError, first_line, require_at_least, require_named
from ddpg.gym_utils import make_env
from ddpg.logger import CSV_FILE, log_files, timestamp
from ddpg.runtime import check_matmul_precision

ROOT = Path(__file__).resolve().parent
SPEC_FILE = "sweep.json"    # what was asked for; --resume reads it back
WEIGHTS_ONLY_NOTE = "A run of seeds again only for their weights (--weights-only): not results. "
SUMMARY_FILE = "summary.md"
TUNE_DIR = "tune"           # Ray Tune's experiment folder inside the sweep folder
PER_TRIAL = ("env", "seed", *fields_with("place"))  # set by the sweep, not by flags
# Left out of the record in sweep.json: the per-trial fields, and the device, which each machine picks
# (a 0-GPU trial's "cpu" default must still apply; see trial_flags).
NOT_RECORDED = (*PER_TRIAL, "device")
# Not shipped to cluster nodes with the code: outputs, weights history, the environment.
UPLOAD_EXCLUDES = [".git", ".venv", "runs", "sweeps", "videos", "media", "results", "models/*/*/"]


def trial_name(env_id: str, seed: int) -> str:
    """A trial's name in Tune, and (as <env>/seed<k>) its folder in the sweep."""
    return f"{env_id}_seed{seed}"


def trial_dir(sweep_dir: Path, env_id: str, seed: int) -> Path:
    return ckpt_io.run_dir(sweep_dir, env_id, f"seed{seed}")


def recorded_config(cfg: Config) -> dict[str, Any]:
    """What sweep.json records (under "configs") of an env's trials when the sweep starts."""
    return {k: v for k, v in cfg.to_dict().items() if k not in NOT_RECORDED}


def trial_flags(spec: dict[str, Any], env_id: str, seed: int) -> dict[str, Any]:
    """The explicit train.py flags of one trial: the env's settings as recorded when the sweep started (so
    an edit to env_settings.toml later changes no trial of it), the sweep's flags, and where it keeps its
    files. A sweep.json from before the record existed has only its flags, on top of the file as it is now."""
    raw = spec.get("configs", {}).get(env_id)
    # A Config field added since the sweep started is missing from its record: the sweep ran that field's
    # default (what the code did before the field existed), whatever the env's entry sets for it now.
    recorded = recorded_config(config_from_dict(raw)) if raw else {}
    flags = {k: tuple(v) if isinstance(v, list) else v
             for k, v in {**recorded, **spec["flags"]}.items()}  # JSON has no tuples
    if spec["gpus_per_trial"] == 0:
        flags.setdefault("device", "cpu")  # Ray hides no GPU from a 0-GPU trial; it must not take one uncounted
    out = trial_dir(Path(spec["sweep_dir"]), env_id, seed)
    return {**flags, "env": env_id, "seed": seed, "models_dir": spec["sweep_dir"], "runs_dir": spec["sweep_dir"],
            "run_name": out.name}


def newest_checkpoint(*paths: Path) -> Path | None:
    """Of the checkpoint files that exist, the one furthest into the run (Tune's copy can trail the trial's own)."""
    found = [(ckpt_io.load(p, "checkpoint")["step"], p) for p in paths if p.is_file()]
    return max(found, key=lambda f: f[0])[1] if found else None


def run_trial(params: dict[str, Any], spec: dict[str, Any]) -> None:
    """One Tune trial: train.py's `train`, resumed from the trial's last checkpoint when there is one."""
    from ray import tune

    torch.set_num_threads(spec["cpus_per_trial"])
    env_id, seed = params["env"], params["seed"]
    flags = trial_flags(spec, env_id, seed)
    out = trial_dir(Path(spec["sweep_dir"]), env_id, seed)
    for stale in out.glob(".tune-*"):  # a hand-over to Tune cut short by a kill
        shutil.rmtree(stale, ignore_errors=True)
    registered = tune.get_checkpoint()  # set on a retry after a failure, and in a restored sweep
    with registered.as_directory() if registered else contextlib.nullcontext(None) as d:
        # The trial's own checkpoint can be newer: saved, but the sweep died before Tune recorded it.
        path = newest_checkpoint(*([Path(d) / ckpt_io.CHECKPOINT_FILE] if d else []), out / ckpt_io.CHECKPOINT_FILE)
        if path is not None:
            cfg, state, _ = train.resolve_config({**flags, "resume": str(path)})
        elif (out / ckpt_io.ACTOR_FILE).exists():  # saved after a checkpoint: this trial did checkpoint
            raise DDPGError(f"{out} holds an actor.pt but no checkpoint.pt, so the trial can neither resume nor "
                            f"start over without overwriting it; move that folder away, then resume the sweep")
        else:  # an attempt killed before its first checkpoint may have left a best_actor.pt and logs: start over
            for stale in (out / ckpt_io.BEST_ACTOR_FILE, *log_files(out)):
                stale.unlink(missing_ok=True)
            cfg, state = make_config(flags), None

    last = {"step": state["step"] if state else 0,
            "eval_return": state.get("last_eval_return", math.nan) if state else math.nan}
    if last["step"] >= cfg.total_steps:
        # Finished, but the driver died before Tune recorded it: report, and leave its files untouched.
        tune.report(dict(last))
        return

    def on_eval(step: int, value: float) -> None:
        last.update(step=step, eval_return=value)
        tune.report(dict(last))

    def on_save(step: int, path: Path) -> None:
        last["step"] = step
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=".tune-") as d:
            try:
                os.link(path, Path(d) / path.name)  # no copy here; Tune copies it into its own folder
            except OSError:
                shutil.copy2(path, Path(d) / path.name)
            tune.report(dict(last), checkpoint=tune.Checkpoint.from_directory(d))

    summary = train.train(cfg, state, quiet=True, out_dir=out, on_eval=on_eval, on_save=on_save, resume_path=path)
    tune.report({"step": summary["step"], "eval_return": last["eval_return"]})


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(description=__doc__.splitlines()[0],
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="Trials run as many at a time as --cpus-per-trial and --gpus-per-trial allow. "
                              + env_settings_note())
    g = p.add_argument_group("the grid")
    g.add_argument("--envs", nargs="+", metavar="ENV", help="Gymnasium env ids")
    g.add_argument("--seeds", nargs="+", type=int, metavar="K", help="seeds; each env runs every seed")
    g.add_argument("--name", default=None, help="sweep name [default: the start time, YYYYmmdd-HHMMSS]")
    g.add_argument("--sweep-dir", default=None, help="where everything goes [default: sweeps/<name>]")
    g.add_argument("--weights-only", action="store_true", default=None,
                   help="these seeds run again only for their weights (actor.pt) to ship, never as results: "
                        "sweep.json records it and benchmarks/results_table.py makes no row of it")
    r = p.add_argument_group("resources")
    r.add_argument("--address", default=None,
                   help="join the Ray cluster at HOST:PORT, or 'auto' for the one this machine belongs to "
                        "[default: start Ray on this machine]")
    r.add_argument("--cpus", type=int, default=None,
                   help="CPUs the local Ray may use, to leave some free [default: all of this machine's]")
    r.add_argument("--cpus-per-trial", type=int, default=None,
                   help="CPUs per trial; also its torch thread count [default: 1]")
    r.add_argument("--gpus-per-trial", type=float, default=None,
                   help="GPUs per trial; fractions share a GPU (0.25: four trials per GPU) [default: 0]")
    r.add_argument("--max-failures", type=int, default=None,
                   help="times a failed trial is retried from its last checkpoint [default: 3]")
    m = p.add_argument_group("other modes")
    m.add_argument("--resume", metavar="SWEEP_DIR", default=None,
                   help="go on with an interrupted sweep: finished trials stay, the others continue from "
                        "their checkpoints")
    m.add_argument("--summary", metavar="SWEEP_DIR", default=None,
                   help="print the results table, write it to SWEEP_DIR/summary.md and one curve PNG per env")
    m.add_argument("--export", metavar="DIR", default=None,
                   help="with --summary: also copy sweep.json, the table, the PNGs and each trial's metrics.csv "
                        "(as <env>_seed<k>.csv) to DIR, e.g. to commit them while the sweep runs; --summary and "
                        "benchmarks/results_table.py read DIR as they read the sweep")
    add_config_flags(p.add_argument_group("train.py flags, applied to every trial"), exclude=PER_TRIAL)
    return p


def new_spec(args: argparse.Namespace) -> dict[str, Any]:
    """Check a new sweep's arguments completely, before anything is started or written."""
    for name, default in (("cpus_per_trial", 1), ("gpus_per_trial", 0.0), ("max_failures", 3)):
        if getattr(args, name) is None:
            setattr(args, name, default)
    if not args.envs or not args.seeds:
        raise DDPGError("a sweep needs --envs and --seeds (or --resume DIR, or --summary DIR)")
    for what, items in (("env", args.envs), ("seed", args.seeds)):
        repeated = sorted({str(x) for x in items if items.count(x) > 1})
        if repeated:
            raise DDPGError(f"--{what}s repeats {', '.join(repeated)}; give each {what} once")
    if any(s < 0 for s in args.seeds):
        raise DDPGError(f"--seeds must be >= 0, got {args.seeds}")
    require_at_least("--cpus-per-trial", args.cpus_per_trial, 1)
    if not (math.isfinite(args.gpus_per_trial) and args.gpus_per_trial >= 0):
        raise DDPGError(f"--gpus-per-trial must be >= 0, got {args.gpus_per_trial}")
    require_at_least("--max-failures", args.max_failures, 0)
    name = args.name or timestamp()
    sweep_dir = Path(args.sweep_dir or Path("sweeps") / name).resolve()
    if (sweep_dir / SPEC_FILE).exists():
        raise DDPGError(f"{sweep_dir} already holds a sweep; continue it with --resume {sweep_dir} "
                        f"or choose another --sweep-dir")
    flags = explicit_args(args)
    spec = {"name": name, "sweep_dir": str(sweep_dir), "envs": args.envs, "seeds": args.seeds, "flags": flags,
            "cpus_per_trial": args.cpus_per_trial, "gpus_per_trial": args.gpus_per_trial,
            "max_failures": args.max_failures, **({"weights_only": True} if args.weights_only else {})}
    configs = {}
    for env_id in args.envs:
        make_env(env_id).close()  # unknown ids and unsupported spaces fail here, one line each
        for seed in args.seeds:
            cfg = make_config(trial_flags(spec, env_id, seed))  # bad flag values fail here
        configs[env_id] = recorded_config(cfg)  # the same for every seed
    spec["configs"] = configs
    return spec


def check_precision_here(spec: dict[str, Any]) -> None:
    """Refuse bf16 for trials that would run on this machine's CPU without bf16 arithmetic, before Ray starts."""
    for env_id in spec["envs"]:
        cfg = make_config(trial_flags(spec, env_id, spec["seeds"][0]))
        if cfg.device == "cpu":  # trial_flags makes it so for a 0-GPU trial
            check_matmul_precision(cfg.matmul_precision, torch.device("cpu"))


def load_spec(sweep_dir: Path) -> dict[str, Any]:
    path = Path(sweep_dir) / SPEC_FILE
    if not path.is_file():
        raise DDPGError(f"{sweep_dir} holds no sweep (no {SPEC_FILE}); start one with --envs and --seeds")
    try:
        spec = json.loads(path.read_text())
        spec["sweep_dir"] = str(Path(sweep_dir).resolve())  # the folder may have moved
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError) as e:
        raise DDPGError(f"{path} is not a sweep description ({first_line(e)})") from None
    missing = [k for k in ("name", "envs", "seeds", "flags", "cpus_per_trial", "gpus_per_trial", "max_failures")
               if k not in spec]
    if missing:
        raise DDPGError(f"{path} is not a sweep description (no {', '.join(missing)})")

    def is_int(v: Any, least: int) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= least

    for ok, what in [  # a hand-edited or damaged file: one line, not a crash later on
            (isinstance(spec["name"], str), "its name is not a string"),
            (isinstance(spec["envs"], list) and spec["envs"] and all(isinstance(e, str) for e in spec["envs"]),
             "its envs are not a list of env ids"),
            (isinstance(spec["seeds"], list) and spec["seeds"] and all(is_int(s, 0) for s in spec["seeds"]),
             "its seeds are not a list of integers >= 0"),
            (isinstance(spec["flags"], dict) and field_faults(spec["flags"]) == ([], []),
             "its flags are not a table of Config fields and values of their types"),
            (is_int(spec["cpus_per_trial"], 1), "its cpus_per_trial is not an integer >= 1"),
            (isinstance(spec["gpus_per_trial"], (int, float)) and not isinstance(spec["gpus_per_trial"], bool)
             and spec["gpus_per_trial"] >= 0, "its gpus_per_trial is not a number >= 0"),
            (is_int(spec["max_failures"], 0), "its max_failures is not an integer >= 0"),
            (isinstance(spec.get("weights_only", False), bool), "its weights_only is not true or false")]:
        if not ok:
            raise DDPGError(f"{path} is not a sweep description ({what})")
    configs = spec.get("configs", {})
    if not isinstance(configs, dict):
        raise DDPGError(f"{path} is not a sweep description (its configs are not one table per env)")
    for env_id, recorded in configs.items():
        try:
            config_from_dict(recorded)  # the check a checkpoint's saved config gets
        except DDPGError as e:
            raise DDPGError(f"{path} is not a sweep description (the settings recorded for {env_id}: {e})") from None
    return spec


def connect(address: str | None, cpus: int | None = None) -> None:
    """Start Ray here, or join a cluster; the trials import this repo's code either way."""
    import ray

    if address not in (None, "auto"):
        host, _, port = address.rpartition(":")
        if not (port.isdigit() and 0 < int(port) < 65536):  # Python would wrap 99999 to another port
            raise DDPGError(f"--address {address}: give HOST:PORT with a port from 1 to 65535")
        try:
            socket.create_connection((host, int(port)), timeout=5).close()
        except (OSError, ValueError) as e:
            raise DDPGError(f"--address {address}: no Ray cluster answers there ({e}); "
                            f"start one with `ray start --head` or leave --address out") from None
    if ray.is_initialized():  # e.g. the tests' shared local Ray
        return
    if address is None:  # "local": a Ray of its own, not one RAY_ADDRESS or `ray start` left running
        ray.init(address="local", num_cpus=cpus, include_dashboard=False, logging_level="WARNING",
                 runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
        return
    try:
        ray.init(address=address, logging_level="WARNING",
                 runtime_env={"working_dir": str(ROOT), "excludes": UPLOAD_EXCLUDES})
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise DDPGError(f"--address {address}: could not join a Ray cluster ({first_line(e)})") from None


def check_resources(spec: dict[str, Any]) -> None:
    import ray

    have = ray.cluster_resources()
    for kind, key, flag in (("CPU", "cpus_per_trial", "--cpus-per-trial"), ("GPU", "gpus_per_trial",
                                                                            "--gpus-per-trial")):
        if spec[key] > have.get(kind, 0):
            raise DDPGError(f"{flag} {spec[key]:g} is more than the cluster's {have.get(kind, 0):g} {kind}s; "
                            f"no trial could start")


def no_tune_tensorboard() -> Any:
    """Tune's TensorBoard logger, switched off: train.py writes each trial's events in its own folder, and a
    second copy under tune/ would show every trial twice in `tensorboard --logdir <sweep-dir>`. Tune adds its
    logger unless one is passed."""
    from ray.tune.logger import TBXLoggerCallback

    class TrainWritesTensorBoard(TBXLoggerCallback):
        def log_trial_start(self, trial: Any) -> None:
            pass

        def log_trial_result(self, iteration: int, trial: Any, result: dict) -> None:
            pass

        def log_trial_end(self, trial: Any, failed: bool = False) -> None:
            pass

    return TrainWritesTensorBoard()


def unfinished_trials(results: Any, spec: dict[str, Any]) -> int:
    """How many of Tune's results neither failed nor reached their step count. A trial that has reported
    nothing (not yet started at a Ctrl-C, or resumed but not yet evaluated) has no config in its result."""
    return sum(1 for r in results if r.error is None and (
        r.config is None or (r.metrics or {}).get("step", 0) <
        make_config(trial_flags(spec, r.config["env"], r.config["seed"])).total_steps))


def run(spec: dict[str, Any], resume: bool) -> int:
    from ray import tune

    sweep_dir = Path(spec["sweep_dir"])
    trainable = tune.with_resources(tune.with_parameters(run_trial, spec=spec),
                                    {"cpu": spec["cpus_per_trial"], "gpu": spec["gpus_per_trial"]})
    tune_dir = sweep_dir / TUNE_DIR
    if resume and tune.Tuner.can_restore(str(tune_dir)):
        tuner = tune.Tuner.restore(str(tune_dir), trainable, resume_unfinished=True, resume_errored=True)
    else:  # new, or killed before Tune saved its state: trials still pick up their own checkpoints
        tuner = tune.Tuner(
            trainable,
            param_space={"env": tune.grid_search(spec["envs"]), "seed": tune.grid_search(spec["seeds"])},
            tune_config=tune.TuneConfig(
                trial_name_creator=lambda t: trial_name(t.config["env"], t.config["seed"]),
                trial_dirname_creator=lambda t: trial_name(t.config["env"], t.config["seed"])),
            run_config=tune.RunConfig(
                name=TUNE_DIR, storage_path=str(sweep_dir), verbose=1,
                failure_config=tune.FailureConfig(max_failures=spec["max_failures"]),
                checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
                callbacks=[no_tune_tensorboard()]))
    results = tuner.fit()
    print(summarize(sweep_dir, running=False))  # fit() has returned: nothing of this sweep runs now
    failed = [r for r in results if r.error is not None]
    unfinished = unfinished_trials(results, spec)
    if failed:
        print(f"error: {len(failed)} trial(s) failed after {spec['max_failures']} retries: "
              f"{', '.join(str(r.path) for r in failed)}; fix the cause, then run: python sweep.py --resume "
              f"{sweep_dir}", file=sys.stderr)
        return 1
    if unfinished:  # Ctrl-C: Tune stops the trials and returns normally
        print(f"stopped with {unfinished} trial(s) unfinished; go on with: python sweep.py --resume {sweep_dir}",
              file=sys.stderr)
        return 130
    return 0


def exported_csv(root: Path, env_id: str, seed: int) -> Path:
    """Where an exported results folder keeps a trial's metrics.csv."""
    return Path(root) / f"{trial_name(env_id, seed)}.csv"


def trial_csv(root: Path, env_id: str, seed: int) -> Path:
    """A trial's metrics.csv: in its folder in a sweep, or as <env>_seed<k>.csv in an exported results folder."""
    inside = trial_dir(root, env_id, seed) / CSV_FILE
    return inside if inside.is_file() else exported_csv(root, env_id, seed)


def trial_result(root: Path, env_id: str, seed: int, total_steps: int) -> dict[str, Any] | None:
    """What one trial's metrics.csv says: the last logged step, evaluations, training-episode returns (noise on,
    at the step each episode ended), wall time (train.py logs steps/s at every log interval and at the run's
    last step, so a finished run's last row is its final step)."""
    from plot import read_curve, timed_steps

    csv_path = trial_csv(root, env_id, seed)
    if not csv_path.is_file():
        return None
    eval_steps, evals = read_curve(csv_path, "eval/return")
    train_steps, train_returns = read_curve(csv_path, "charts/episodic_return")
    steps, wall = timed_steps(csv_path)
    out = {"steps": steps, "done": steps >= total_steps, "eval_steps": eval_steps, "evals": evals,
           "train_steps": train_steps, "train_returns": train_returns,
           "wall_s": wall if steps else math.nan, "sps": steps / wall if wall > 0 else math.nan}
    if len(evals):
        best = int(np.argmax(evals))
        out.update(final=float(evals[-1]), best=float(evals[best]), best_step=int(eval_steps[best]))
    return out


def finished_finals(results: dict[int, dict[str, Any] | None]) -> list[float]:
    """The final evaluations of the trials that reached their step count: what a final mean is over."""
    return [r["final"] for r in results.values() if r is not None and r["done"] and "final" in r]


def mean_std(values: list[float], note: str = "") -> str:
    """Mean ± std over seeds (NumPy's std, ddof 0), and a note in brackets; one seed has no spread to show,
    so it says 1 seed instead."""
    if len(values) == 1:
        return f"{values[0]:.1f} (1 seed{', ' + note if note else ''})"
    return f"{np.mean(values):.1f} ± {np.std(values):.1f}" + (f" ({note})" if note else "")


def plot_seeds(started: dict[int, dict[str, Any]], out: Path, title: str, ylabel: str, not_done: str) -> bool:
    """Every seed's evaluation curve, and the mean of the finished ones (of all, while none has finished), as
    the final column does, to a PNG (`trial_result`s by seed). False, and no PNG, if none has evaluated yet."""
    from plot import plot_runs

    plotted = {s: (r["eval_steps"], r["evals"]) for s, r in started.items() if len(r["evals"])}
    if not plotted:
        return False
    done = [k for k, s in enumerate(plotted) if started[s]["done"]]
    plot_runs(list(plotted.values()), out, f"{title}, {len(plotted)} seed{'s' if len(plotted) > 1 else ''}", ylabel,
              label=f"mean of the {len(done)} finished" if done and len(done) < len(plotted) else None,
              run_labels=[f"seed {s}" + ("" if started[s]["done"] else f" ({not_done})") for s in plotted],
              mean_of=done or None)
    return True


def summarize(sweep_dir: Path, running: bool | None = None) -> str:
    """The sweep's results as markdown (also written to summary.md), and one curve PNG per env. An unfinished
    trial is marked (running) while a sweep.py driver holds the folder (or `running` says so), else (stopped)."""
    spec = load_spec(sweep_dir)
    running = ckpt_io.in_use(sweep_dir) if running is None else running
    not_done = "running" if running else "stopped"
    flags = " ".join(f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
                     for k, v in spec["flags"].items())
    lines = [f"# Sweep `{spec['name']}`", "",
             f"Flags: `{flags or '(none)'}`, on top of each env's entry in ddpg/env_settings.toml"
             f"{' as sweep.json records it' if 'configs' in spec else ''}. "
             f"{WEIGHTS_ONLY_NOTE if spec.get('weights_only') else ''}"
             f"Final = the last deterministic evaluation of a finished trial, averaged over the finished "
             f"seeds; while none has finished, the latest evaluations stand in, marked (running), or (stopped) "
             f"when no sweep.py is running this folder. Best = the "
             f"highest evaluation during any run.", "",
             "| env | preset | seeds finished | steps reached | final eval (mean ± std) | best eval (seed, step) |",
             "|---|---|---|---|---|---|"]
    per_trial = ["", "| env | seed | steps | last eval (final once done) | best eval (step) | wall time | steps/s |",
                 "|---|---|---|---|---|---|---|"]
    for env_id in spec["envs"]:
        cfg = make_config(trial_flags(spec, env_id, spec["seeds"][0]))
        total, preset = cfg.total_steps, cfg.preset
        results = {s: trial_result(sweep_dir, env_id, s, total) for s in spec["seeds"]}
        started = {s: r for s, r in results.items() if r is not None}
        finals = finished_finals(started)
        latest = [r["final"] for r in started.values() if "final" in r]
        steps = [r["steps"] for r in started.values()]
        reached = "not started" if not steps else (
            f"{min(steps):,}" if min(steps) == max(steps) else f"{min(steps):,}–{max(steps):,}")
        if steps and (not all(r["done"] for r in started.values()) or len(started) < len(spec["seeds"])):
            reached += f" of {total:,}"
        final = (mean_std(finals) if finals else mean_std(latest, not_done) if latest else "–")
        best = max(((r["best"], s, r["best_step"]) for s, r in started.items() if "best" in r), default=None)
        best_txt = f"{best[0]:.1f} (seed {best[1]}, {best[2]:,})" if best else "–"
        lines.append(f"| {env_id} | {preset} | {len(finals)} of {len(spec['seeds'])} | {reached} | {final} | "
                     f"{best_txt} |")
        for s in spec["seeds"]:
            r = results[s]
            if r is None:
                per_trial.append(f"| {env_id} | {s} | not started | – | – | – | – |")
                continue
            status = "" if r["done"] else f" ({not_done})"
            evals = (f"{r['final']:.1f} | {r['best']:.1f} ({r['best_step']:,})" if "final" in r
                     else "– (no evaluation yet) | –")
            per_trial.append(f"| {env_id} | {s} | {r['steps']:,}{status} | {evals} | "
                             f"{r['wall_s'] / 3600:.2f} h | {r['sps']:.0f} |")
        plot_seeds(started, sweep_dir / f"{env_id}.png", f"{env_id}, {preset} preset",
                   f"evaluation return ({cfg.eval_episodes} episodes)", not_done)
    text = "\n".join(lines + per_trial) + "\n"
    ckpt_io.atomic_write_text(sweep_dir / SUMMARY_FILE, text)
    return text


def check_export(sweep_dir: Path, dest: Path) -> None:
    """Refuse an --export folder that is a sweep, or another sweep's copy, before anything is written."""
    spec = load_spec(sweep_dir)
    if dest.resolve() == Path(sweep_dir).resolve():
        raise DDPGError(f"--export {dest} is the sweep's own folder; give another")
    if dest.is_dir() and not (dest / SPEC_FILE).is_file() and any(dest.iterdir()):
        raise DDPGError(f"--export {dest} holds other files; export to a new or empty folder, so that none is "
                        f"overwritten")
    if (dest / SPEC_FILE).is_file():
        theirs = load_spec(dest)
        if "exported_from" not in theirs:
            raise DDPGError(f"--export {dest} holds a sweep, not an exported copy; export to a folder of its own")
        if (theirs["name"], theirs["envs"], theirs["seeds"]) != (spec["name"], spec["envs"], spec["seeds"]):
            raise DDPGError(f"--export {dest} holds sweep {theirs['name']!r} ({', '.join(theirs['envs'])}; seeds "
                            f"{theirs['seeds']}), not this one; export to a folder of its own")


def export(sweep_dir: Path, dest: Path) -> None:
    """Copy what a results folder keeps of a sweep: sweep.json, summary.md, the curve PNGs and every trial's
    metrics.csv (as <env>_seed<k>.csv). --summary and benchmarks/results_table.py read the copy as they
    read the sweep, so committed results rebuild without it; its sweep.json says it is a copy."""
    check_export(sweep_dir, dest)
    spec = load_spec(sweep_dir)
    held = dest / SPEC_FILE
    try:
        dest.mkdir(parents=True, exist_ok=True)
        # sweep.json first: it claims the folder for this sweep, so an export cut short can be run again.
        copy = {**spec, "exported_from": spec.get("exported_from", spec["sweep_dir"])}
        ckpt_io.atomic_write_text(held, json.dumps(copy, indent=2) + "\n")
        for name in [SUMMARY_FILE, *(f"{e}.png" for e in spec["envs"])]:
            if (sweep_dir / name).is_file():
                shutil.copy2(sweep_dir / name, dest / name)
        for env_id in spec["envs"]:
            for seed in spec["seeds"]:
                csv_path = trial_csv(sweep_dir, env_id, seed)
                if csv_path.is_file():
                    shutil.copy2(csv_path, exported_csv(dest, env_id, seed))
    except OSError as e:
        raise DDPGError(f"--export {dest}: {e.strerror or e}") from None
    print(f"exported to {dest}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        for flag, what in (("summary", "a sweep folder"), ("resume", "a sweep folder"), ("sweep_dir", "a folder"),
                           ("export", "a folder"), ("name", "a sweep"), ("address", "a Ray cluster")):
            require_named(f"--{flag.replace('_', '-')}", getattr(args, flag), what)
        mode = "--summary" if args.summary else "--resume" if args.resume else None
        allowed = {"--summary": {"summary", "export"}, "--resume": {"resume", "address", "cpus"}}.get(mode)
        extra = sorted(k for k, v in vars(args).items() if v is not None and allowed is not None and k not in allowed)
        if extra:
            raise DDPGError(f"{mode} takes the sweep as it was started; drop --{extra[0].replace('_', '-')} "
                            f"(a sweep's grid and flags are fixed in its {SPEC_FILE})")
        if args.summary:
            if args.export:
                check_export(Path(args.summary), Path(args.export))
            print(summarize(Path(args.summary)), end="")
            if args.export:
                export(Path(args.summary), Path(args.export))
            return 0
        if args.export:
            raise DDPGError("--export goes with --summary SWEEP_DIR")
        if args.resume:
            spec = load_spec(Path(args.resume))
            if "exported_from" in spec:
                raise DDPGError(f"{args.resume} is an exported copy of the sweep in {spec['exported_from']}; "
                                f"resume that folder, and export again")
        else:
            spec = new_spec(args)
        if args.address is None:  # the trials run here
            check_precision_here(spec)
        if args.cpus is not None and (args.cpus < 1 or args.address is not None):
            raise DDPGError("--cpus sizes a local Ray: give it a value >= 1, and no --address")
        sweep_dir = Path(spec["sweep_dir"])
        with contextlib.ExitStack() as hold:
            with ckpt_io.removed_if_failed(*([] if args.resume else [sweep_dir])):
                if not args.resume:
                    ckpt_io.ensure_writable_dirs({"--sweep-dir": sweep_dir})  # before Ray starts
                # One driver per sweep: a second would run each trial twice, into the same folders.
                hold.enter_context(ckpt_io.held(sweep_dir, "running"))
                connect(args.address, args.cpus)
                check_resources(spec)
            if not args.resume:
                ckpt_io.atomic_write_text(sweep_dir / SPEC_FILE, json.dumps(spec, indent=2) + "\n")
            print(f"sweep {spec['name']}: {len(spec['envs'])} env(s) x {len(spec['seeds'])} seed(s) in "
                  f"{spec['sweep_dir']}", file=sys.stderr)
            return run(spec, resume=bool(args.resume))
    except DDPGError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except ValueError as e:  # a malformed metrics.csv in --summary
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a path the system refuses (a name over 255 bytes), a full disk, ...
        print(f"error: {first_line(e)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
