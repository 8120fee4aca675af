"""results/benchmark.md: one row per env from finished sweeps, beside published DDPG figures.

    python benchmarks/results_table.py results/*/ --out results/benchmark.md --curves results/curves --readme README.md
    python benchmarks/results_table.py ~/sweeps/* results/*/                  # and sweeps still running

Each argument is a sweep folder or a results folder that `sweep.py --summary DIR --export` wrote
(sweep.json and one CSV per trial); folders without a sweep.json are skipped, but when none of
them holds one nothing is written (a table of "not run yet" rows would replace the committed one).

For each env, the row comes from the sweeps that train it with the env's defaults (a sweep that
changes a hyperparameter, the preset or `--matmul-precision` is an experiment, and so is one that
ran an earlier entry of the env, as its sweep.json records; both are skipped with a note, as is a
sweep started with --weights-only). Sweeps
that also measure it the same way (step count, evaluation interval and episodes) pool their seeds
into one row, so seeds 1 and 2 run in a later sweep join seed 0's; the last column names them.
Of such pools, one that runs the env's full budget is preferred, then the one that has run
furthest. The budget is the env's own (its entry in ddpg/env_settings.toml); a row that ran it for
fewer steps is marked as short, and is not judged. "Final" is the last deterministic evaluation
of each trial that reached the step count (mean ± std over those seeds, or "X (1 seed)"); "best" is the highest
evaluation of any of its trials. Published figures are in results/published_ddpg.csv, each with
its source, env version and metric, since they are not measured the same way. With --curves DIR,
each row also gets DIR/<env>.png, every seed of the row drawn as `sweep.py --summary` draws a
sweep's, and a last column linking to it; DIR must be new, empty, or hold only such <env>.png files,
so a sweep's own folder (which has curves of the same names) is refused. With --readme FILE, the
same table (links relative to FILE) also replaces what lies between FILE's two marker lines, so the
README shows the committed table.

The row's verdict is strict: our final evaluation against the highest published figure, whatever its
metric. A second table puts each published figure beside ours measured its way (its `kind` in
published_ddpg.csv), within the published 1M steps, over the seeds that finished: "best point" is the
highest point of the mean over seeds of the evaluation curve (Tianshou's and the TD3 paper's metric);
"during training" is the mean over seeds of each seed's last TRAINING_EPISODES training episodes, noise on,
that ended by then (our reading of CleanRL's). It is judged when the row is, and a gap smaller than the
published figure's rounding is "level".
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sweep  # noqa: E402
from ddpg import checkpoint as ckpt_io  # noqa: E402
from ddpg.config import Config, fields_with, make_config  # noqa: E402
from ddpg.errors import ArgumentParser, DDPGError, first_line, require_named  # noqa: E402

ENVS = ["HalfCheetah-v5", "Ant-v5", "Hopper-v5", "Walker2d-v5", "Swimmer-v5", "Humanoid-v5", "HumanoidStandup-v5",
        "Reacher-v5", "Pusher-v5", "InvertedPendulum-v5", "InvertedDoublePendulum-v5", "LunarLanderContinuous-v3",
        "BipedalWalker-v3", "BipedalWalkerHardcore-v3", "Pendulum-v1", "MountainCarContinuous-v0", "Rocket-v0"]
UNSUPPORTED = {"CarRacing-v3": "image observations (96×96×3); the MLPs here take flat vectors"}
# Where no DDPG figure is published: what shows the task is learned.
PUBLISHED_STEPS = 1_000_000  # every published figure in published_ddpg.csv is at, or the best within, 1M steps
LEARNED = {"LunarLanderContinuous-v3": 200, "BipedalWalker-v3": 300, "MountainCarContinuous-v0": 90}
KINDS = ("best point", "during training")  # how a published figure was measured: the `kind` column
TRAINING_EPISODES = 10  # a seed's last training episodes that stand for its return "during training"


# What a sweep may change and still be the env's row: how long and how it runs, not the maths
# (--matmul-precision changes the products' rounding, so a bf16 sweep is an experiment).
RUN_ONLY = {"seed", *fields_with("budget", "bookkeeping", "place", "speed")}


# The README's copy of the table sits between these two lines.
README_MARKERS = ("<!-- results_table.py: start -->", "<!-- results_table.py: end -->")


def replace_block(text: str, block: str) -> str:
    """text with the lines between README_MARKERS replaced by block; DDPGError where the markers are not
    there once each, in order."""
    start, end = README_MARKERS
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise DDPGError(f"needs the lines {start!r} and {end!r}, once each and in that order")
    head, rest = text.split(start, 1)
    return head + start + "\n" + block + end + rest.split(end, 1)[1]


TABLE_START = "| env | steps (budget) |"  # how a file this script wrote begins: the only kind --out replaces
SAME_METRIC_HEAD = ("Each published figure beside ours measured the same way, within its 1M steps, over the seeds "
                    "that finished:\n\n"
                    "| env | published DDPG (source, version) | its metric | published | ours, the same way | "
                    "at or above it? |\n|---|---|---|---|---|---|\n")


def render(rows: list[tuple[str, Path | None]], same_way: list[str], curves: bool, link_base: Path) -> str:
    """The table, with each row's curve linked relative to link_base (the folder of the file it goes in), then
    the table of published figures beside ours measured their way."""
    lines = [TABLE_START + " seeds done | final eval (mean ± std) | best eval | published DDPG "
             "(source, version, metric) | at or above it? | sweeps |" + (" curve |" if curves else ""),
             "|---|---|---|---|---|---|---|---|" + ("---|" if curves else "")]
    for text, png in rows:
        curve = (f" [curve]({Path(os.path.relpath(png.resolve(), link_base)).as_posix()}) |" if png
                 else " – |" if curves else "")
        lines.append(text + curve)
    return "\n".join(lines) + "\n\n" + SAME_METRIC_HEAD + "".join(line + "\n" for line in same_way)


# How a row's figures are measured: trials that agree on these (and on the maths) are seeds of one row.
MEASURED_BY = ("total_steps", "eval_interval", "eval_episodes")


def env_results(sweep_dirs: list[Path], env_id: str,
                default: Config) -> tuple[tuple[list[str], dict, int, int, int] | None, int, int]:
    """The row for env_id: (its sweeps' names, {seed: result of each started trial}, the step count, the
    number of seeds fixed in advance, the evaluation episodes), or None; also how many sweeps of env_id were
    skipped because they ran other settings than its defaults (`default`), and how many because they ran
    only for weights.

    Sweeps that train env_id with its defaults and measure it the same way (MEASURED_BY) pool their
    seeds, so seeds run in a later sweep join the row of the earlier ones. Of such pools the row is one
    that runs the env's budget, then the one that has run furthest. A seed in two sweeps of a pool counts
    once: the trial that has run furthest (the first given on a tie), whatever it scored. A sweep started
    with --weights-only ran seeds again only for weights to ship (the first run's went with its machine):
    a rerun on another CPU is another run, and a row must not swap a seed for it, so it is no row."""
    budget = default.total_steps
    pools: dict[tuple, dict] = {}
    skipped = reruns = 0
    for d in sweep_dirs:
        spec = sweep.load_spec(d)
        if env_id not in spec["envs"]:
            continue
        if spec.get("weights_only"):
            print(f"{env_id}: skipping {d}: a seed run again for its weights, not a row", file=sys.stderr)
            reruns += 1
            continue
        ours = make_config(sweep.trial_flags(spec, env_id, spec["seeds"][0]))
        changed = [f.name for f in dataclasses.fields(Config)
                   if f.name not in RUN_ONLY and getattr(ours, f.name) != getattr(default, f.name)]
        if changed:
            print(f"{env_id}: skipping {d}: its {', '.join('--' + f.replace('_', '-') for f in changed)} "
                  f"{'differ' if len(changed) > 1 else 'differs'} from the env's defaults now "
                  f"(an experiment, or an earlier entry)", file=sys.stderr)
            skipped += 1
            continue
        pool = pools.setdefault(tuple(getattr(ours, k) for k in MEASURED_BY),
                                {"seeds": set(), "results": {}, "from": {}})
        pool["seeds"].update(spec["seeds"])
        for s in spec["seeds"]:
            r = sweep.trial_result(d, env_id, s, ours.total_steps)
            if r is None:
                continue
            if s in pool["results"]:
                if r["steps"] <= pool["results"][s]["steps"]:
                    why = "the first given of two that ran as far" if r["steps"] == pool["results"][s]["steps"] \
                        else "which has run furthest"
                    print(f"{env_id}: seed {s} is in {pool['from'][s]} and {d}; the row uses {pool['from'][s]}, "
                          f"{why}", file=sys.stderr)
                    continue
                print(f"{env_id}: seed {s} is in {pool['from'][s]} and {d}; the row uses {d}, which has run "
                      f"furthest", file=sys.stderr)
            pool["results"][s], pool["from"][s] = r, d
    best, best_rank = None, None
    for (total, _, episodes), pool in pools.items():
        rank = (total >= budget, sum(r["steps"] for r in pool["results"].values()))
        if pool["results"] and (best is None or rank > best_rank):
            used = [d.name for d in sweep_dirs if d in pool["from"].values()]
            best, best_rank = (used, pool["results"], total, len(pool["seeds"]), episodes), rank
    return best, skipped, reruns


def not_judged(total: int, budget: int, finals: list[float], n_seeds: int) -> str | None:
    """Why a row is not judged yet ("– (...)"), or None when it is: it ran the env's budget and every seed
    fixed in advance has finished."""
    if total < budget:  # e.g. a smoke sweep: its figures are shown, but judged by nothing
        return f"– (a {total:,}-step run, short of the budget)"
    if not finals:
        return "–"
    if len(finals) < n_seeds:  # judged on all the seeds fixed in advance, not the first to end
        return f"– ({len(finals)} of {n_seeds} seeds done)"
    return None


def same_way(results: dict[int, dict[str, Any]], kind: str, within: int = PUBLISHED_STEPS) -> tuple[float, str] | None:
    """Our figure measured as a published one of `kind` was, within `within` steps, over the finished seeds,
    and how it was read; None where they have nothing to read."""
    done = [r for r in results.values() if r["done"]]
    seeds = f"{len(done)} seed{'s' * (len(done) > 1)}"
    if kind == "best point":  # the mean curve needs every seed's evaluation at each step
        by_step = [{int(s): v for s, v in zip(r["eval_steps"], r["evals"]) if s <= within} for r in done]
        steps = sorted(set.intersection(*(set(d) for d in by_step))) if by_step else []
        if not steps:
            return None
        curve = np.mean([[d[s] for s in steps] for d in by_step], axis=0)
        top = int(np.argmax(curve))
        return float(curve[top]), f"best point of the mean curve of {seeds}, at {steps[top]:,}"
    lasts = [r["train_returns"][r["train_steps"] <= within][-TRAINING_EPISODES:] for r in done]
    if not lasts or any(len(x) == 0 for x in lasts):
        return None
    mean = float(np.mean([x.mean() for x in lasts]))
    return mean, f"last {TRAINING_EPISODES} training episodes to {within:,}, {seeds}"


def published_cells(env_id: str, r: dict[str, str]) -> str:
    """A second-table row's first cells: the env and the published figure, as published_ddpg.csv has it."""
    return f"| {env_id} | {r['source']}, {r['env_version']} | {r['kind']} | {r['return']} |"


def against(ours: float, published: str) -> str:
    """yes or no: ours at or above a published figure; "level" where the gap is under half a unit of the
    published figure's last digit, since it was rounded there and which side it lay on is unknown."""
    digits = len(published.split(".")[1]) if "." in published else 0
    if abs(ours - float(published)) < 0.5 * 10 ** -digits:
        return "level (within its rounding)"
    return "yes" if ours >= float(published) else "no"


def wrote_table(path: Path) -> bool:
    """Whether path holds a table this script wrote (so --out may replace it)."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.readline().startswith(TABLE_START)
    except (OSError, UnicodeDecodeError):
        return False


def foreign_files(folder: Path) -> list[str]:
    """What in folder is not a curve this script draws (<env>.png for a row's env): --curves writes only
    where this is empty, so it never overwrites a sweep's own PNGs or anything else."""
    ours = {f"{env_id}.png" for env_id in ENVS}
    return sorted(p.name for p in folder.iterdir() if p.name not in ours or not p.is_file())


def checked_inputs(args: argparse.Namespace) -> tuple[list[Path], list[dict[str, str]], str | None]:
    """The sweep folders, the published figures and the README's text; args' paths become Paths. DDPGError,
    before anything is written, for a bad input or an output that would lose a file."""
    for d in args.sweeps:
        require_named("a sweep argument", d)
    for flag in ("--out", "--curves", "--readme", "--published"):
        require_named(flag, getattr(args, flag[2:]), "a folder" if flag == "--curves" else "a file")
    args.sweeps = [Path(d) for d in args.sweeps]
    for name in ("out", "curves", "readme", "published"):
        if getattr(args, name) is not None:
            setattr(args, name, Path(getattr(args, name)))
    for d in args.sweeps:  # a typo is an error; a file that `~/sweeps/*` also matches is skipped below
        if not d.exists():
            raise DDPGError(f"{d}: no such file or folder")
    sweep_dirs = [d for d in args.sweeps if (d / sweep.SPEC_FILE).is_file()]
    if not sweep_dirs:  # else every row would say "not run yet", over the committed table
        shown = ", ".join(str(d) for d in args.sweeps[:3]) + (", ..." if len(args.sweeps) > 3 else "")
        raise DDPGError(f"no sweep among {shown}: a sweep folder holds the {sweep.SPEC_FILE} that sweep.py "
                        f"writes (sweeps/<name>/, or results/<name>/ from --export); e.g. results/*/")
    readme_text = None
    if args.readme:
        try:
            readme_text = args.readme.read_text()
            replace_block(readme_text, "")
        except (OSError, DDPGError) as e:
            raise DDPGError(f"--readme {args.readme}: {getattr(e, 'strerror', None) or e}") from None
        except UnicodeDecodeError:
            raise DDPGError(f"--readme {args.readme}: not a text file") from None
    if args.out:
        if args.out.is_dir():
            raise DDPGError(f"--out {args.out}: is a folder")
        if args.out.exists() and not wrote_table(args.out):  # e.g. --out README.md, meant for --readme
            raise DDPGError(f"--out {args.out}: holds something other than this script's table, so it is left as "
                            f"it was (a README's copy of the table goes through --readme)")
    if args.curves and args.curves.exists():
        try:
            if not args.curves.is_dir():
                raise DDPGError(f"--curves {args.curves}: not a folder")
            foreign = foreign_files(args.curves)
        except OSError as e:
            raise DDPGError(f"--curves {args.curves}: {e.strerror or e}") from None
        if foreign:
            raise DDPGError(f"--curves {args.curves}: holds {', '.join(foreign[:3])}{', ...' * (len(foreign) > 3)}, "
                            f"not only this script's <env>.png curves, so nothing is written there; give a new or "
                            f"empty folder, or the one it drew before (results/curves)")
    try:
        with open(args.published, newline="") as f:
            published = list(csv.DictReader(f))
        for line, r in enumerate(published, start=2):  # every row has what the tables print, and a number to judge by
            float(r["return"]), r["env"], r["source"], r["env_version"], r["metric"]
            if r["kind"] not in KINDS:
                raise ValueError(f"line {line}: kind {r['kind']!r} is not one of {', '.join(map(repr, KINDS))}")
    except OSError as e:
        raise DDPGError(f"--published {args.published}: {e.strerror or e}") from None
    except (csv.Error, KeyError, TypeError, ValueError) as e:
        raise DDPGError(f"--published {args.published}: not a table of env, source, env_version, metric, kind and "
                        f"return ({type(e).__name__}: {first_line(e)})") from None
    if args.curves:  # last: a refused run leaves no new folder
        try:
            args.curves.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise DDPGError(f"--curves {args.curves}: {e.strerror or e}") from None
    return sweep_dirs, published, readme_text


def main() -> int:
    p = ArgumentParser(description=__doc__.splitlines()[0])
    # paths as typed (not Path), so that a blank one, which Path reads as ".", can be refused
    p.add_argument("sweeps", nargs="+",
                   help="sweep or exported results folders (those without a sweep.json are skipped)")
    p.add_argument("--published", default=str(ROOT / "results" / "published_ddpg.csv"))
    p.add_argument("--out", default=None, help="write the table here too")
    p.add_argument("--curves", default=None,
                   help="also draw each row's seeds into DIR/<env>.png, linked from a last column; DIR must be "
                        "new, empty, or hold only such curves")
    p.add_argument("--readme", default=None,
                   help=f"also put the table between FILE's lines {README_MARKERS[0]} and {README_MARKERS[1]}")
    args = p.parse_args()
    rows: list[tuple[str, Path | None]] = []  # each row without its curve cell, and its PNG if drawn
    same_way_rows: list[str] = []  # the second table's rows, filled beside the first's
    try:
        sweep_dirs, published, readme_text = checked_inputs(args)
        for env_id in ENVS:
            refs = sorted((r for r in published if r["env"] == env_id), key=lambda r: -float(r["return"]))
            ref_text = "; ".join(f"{r['return']} ({r['source']}, {r['env_version']}, {r['metric']})"
                                 for r in refs) or (f"none; learned at ≥ {LEARNED[env_id]}" if env_id in LEARNED
                                                    else "none")
            target = float(refs[0]["return"]) if refs else LEARNED.get(env_id)
            default = make_config({"env": env_id})  # the preset and the env's entry: its budget, its maths
            found, skipped, reruns = env_results(sweep_dirs, env_id, default)
            if found is None:
                what = (f"not run with its current settings ({skipped} sweep{'s' if skipped > 1 else ''} with "
                        f"other settings skipped)" if skipped
                        else "only run again for weights (--weights-only), which makes no row" if reruns
                        else "not run yet")
                rows.append((f"| {env_id} | {what} | – | – | – | {ref_text} | – | – |", None))
                same_way_rows += [f"{published_cells(env_id, r)} {what} | – |" for r in refs]
                continue
            names, results, total, n_seeds, episodes = found
            finals = sweep.finished_finals(results)
            steps = max(r["steps"] for r in results.values())
            best = max((r["best"] for r in results.values() if "best" in r), default=float("nan"))
            final = sweep.mean_std(finals) if finals else "not finished"
            why_not = not_judged(total, default.total_steps, finals, n_seeds)
            for r in refs:
                ours = same_way(results, r["kind"])
                verdict = why_not or ("–" if ours is None else against(ours[0], r["return"]))
                shown = "–" if ours is None else f"{ours[0]:.{1 if abs(ours[0]) >= 10 else 3}f} ({ours[1]})"
                same_way_rows.append(f"{published_cells(env_id, r)} {shown} | {verdict} |")
            verdict = why_not or ("–" if target is None else "yes" if np.mean(finals) >= target else "no")
            if why_not is None and refs and total > PUBLISHED_STEPS:  # a longer budget than the published runs had
                at = [r["evals"][list(r["eval_steps"]).index(PUBLISHED_STEPS)] for r in results.values()
                      if PUBLISHED_STEPS in r["eval_steps"]]
                verdict += (f" at {total:,}; at {PUBLISHED_STEPS:,} (the published budget) {np.mean(at):.1f}: "
                            f"{'yes' if np.mean(at) >= target else 'no'}" if len(at) == len(finals) else
                            f" at {total:,}; not judged at {PUBLISHED_STEPS:,} (the published budget): "
                            f"{len(finals) - len(at)} seed(s) have no evaluation there")
            png = args.curves / f"{env_id}.png" if args.curves else None
            if png and not sweep.plot_seeds(results, png, f"{env_id} ({', '.join(names)})",
                                            f"evaluation return ({episodes} episodes)", "unfinished"):
                png = None
            rows.append((f"| {env_id} | {steps:,} ({default.total_steps:,}) | {len(finals)} of {n_seeds} | {final} | "
                         f"{best:.1f} | {ref_text} | {verdict} | {', '.join(names)} |", png))
    except (DDPGError, ValueError) as e:  # ValueError: a malformed metrics.csv, as in sweep.py --summary
        print(f"error: {e}", file=sys.stderr)
        return 2
    for env_id, why in UNSUPPORTED.items():
        rows.append((f"| {env_id} | unsupported: {why} | – | – | – | – | – | – |", None))
    curves = args.curves is not None
    print(render(rows, same_way_rows, curves, Path.cwd()), end="")
    for flag, path, text in (("--out", args.out, lambda base: render(rows, same_way_rows, curves, base)),
                             ("--readme", args.readme,
                              lambda base: replace_block(readme_text, render(rows, same_way_rows, curves, base)))):
        if path is None:
            continue
        try:  # links are relative to where the table is written
            ckpt_io.atomic_write_text(path, text(path.resolve().parent))
        except OSError as e:
            print(f"error: {flag} {path}: {e.strerror or e}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
