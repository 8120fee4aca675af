"""Plot learning curves from run CSVs (runs/<env>/<run>/metrics.csv) into a PNG.

    python plot.py runs/HalfCheetah-v5/*/metrics.csv --out curve.png
    python plot.py a/metrics.csv b/metrics.csv --tag charts/episodic_return --title "3 seeds"

Several CSVs are treated as seeds of one configuration: the plot shows their mean and the
spread (min to max) on a common step grid.
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ddpg.errors import ArgumentParser, DefaultsHelpFormatter, first_line  # noqa: E402
from ddpg.logger import CSV_FILE, HEADER  # noqa: E402


def read_curve(path: Path, tag: str) -> tuple[np.ndarray, np.ndarray]:
    """Steps and values of one tag from a metrics.csv; ValueError names the file and what is wrong."""
    steps, values = [], []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if not set(HEADER) <= set(reader.fieldnames or ()):
                raise ValueError(f"{path} is not a metrics.csv: it needs the columns {', '.join(HEADER)}")
            for line, row in enumerate(reader, start=2):
                if row["tag"] == tag:
                    try:
                        steps.append(int(row["step"]))
                        values.append(float(row["value"]))
                    except (TypeError, ValueError):
                        raise ValueError(f"{path}, line {line}: step {row['step']!r} / value {row['value']!r} "
                                         f"is not a number") from None
    except (UnicodeDecodeError, csv.Error) as e:  # binary, or NUL bytes: not a CSV at all
        raise ValueError(f"{path} is not a metrics.csv ({type(e).__name__}: {first_line(e)})") from None
    return np.asarray(steps), np.asarray(values)


def timed_steps(csv_path: Path, since: int = 0) -> tuple[int, float]:
    """(steps, seconds) that a run's steps/s log covers after step `since`. Each charts/sps row is the rate
    over the steps since the row before it, so the time is the sum of those steps over their rates."""
    steps, sps = read_curve(csv_path, "charts/sps")
    keep = steps > since
    covered = np.diff(np.concatenate([[since], steps[keep]]))
    return int(covered.sum()), float(np.sum(covered / sps[keep]))


def env_of(csv_path: Path) -> str:
    """The env a run's CSV belongs to, from where train.py and sweep.py put it.

    runs/<env>/<run-name>/metrics.csv (train.py; a sweep's <env>/seed<k>/metrics.csv too), or a
    sweep's exported copy, <env>_seed<k>.csv (sweep.py's `trial_name`).
    """
    if csv_path.name == CSV_FILE:
        return csv_path.parent.parent.name
    env, sep, seed = csv_path.stem.rpartition("_seed")
    return env if sep and seed.isdigit() else csv_path.stem


def plot_runs(curves: list[tuple[np.ndarray, np.ndarray]], out: Path, title: str, ylabel: str,
              label: str | None = None, run_labels: list[str] | None = None,
              mean_of: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean of several runs' curves (seeds of one configuration) with their min–max band, to a PNG.

    The runs in the mean (`mean_of`, default all) are compared on a common grid up to the shortest
    of them, so each contributes at every point. Given `run_labels`, every run is also drawn
    thinly, whole. Returns the grid and the mean.
    """
    show_runs = run_labels is not None
    averaged = [curves[i] for i in (range(len(curves)) if mean_of is None else mean_of)]
    end = min(s[-1] for s, _ in averaged)
    grid = np.unique(np.concatenate([s[s <= end] for s, _ in averaged]))
    ys = np.stack([np.interp(grid, s, v) for s, v in averaged])
    fig, ax = plt.subplots(figsize=(7, 4.2))
    if show_runs:
        for k, (s, v) in enumerate(curves):
            ax.plot(s, v, lw=0.8, alpha=0.6, label=run_labels[k] if len(curves) <= 5 else None)
    ax.plot(grid, ys.mean(0), color="k" if show_runs else None, lw=1.8,
            label=label or f"mean of {len(averaged)} run{'s' if len(averaged) > 1 else ''}")
    if len(averaged) > 1:
        ax.fill_between(grid, ys.min(0), ys.max(0), alpha=0.2, label="min–max over runs")
    ax.set_xlabel("environment steps")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return grid, ys.mean(0)


def main(argv: list[str] | None = None) -> int:
    p = ArgumentParser(description=__doc__.splitlines()[0],
                       formatter_class=DefaultsHelpFormatter)
    p.add_argument("csvs", nargs="+", type=Path, help="metrics.csv files, one per seed")
    p.add_argument("--tag", default="eval/return", help="which curve to plot")
    p.add_argument("--out", type=Path, default=Path("curve.png"), help="PNG to write")
    p.add_argument("--title", default=None, help="plot title (default: the env of the first run)")
    p.add_argument("--label", default=None, help="legend label")
    p.add_argument("--show-runs", action="store_true", help="also draw each run's own curve")
    args = p.parse_args(argv)
    if args.out.suffix.lower() != ".png":
        print(f"error: --out {args.out}: curves are written as PNG; give a path ending in .png", file=sys.stderr)
        return 2

    curves = []
    for path in args.csvs:
        if not path.is_file():
            print(f"error: no CSV at {path}", file=sys.stderr)
            return 2
        try:
            steps, values = read_curve(path, args.tag)
        except ValueError as e:  # read_curve names the file and what is wrong
            print(f"error: {e}", file=sys.stderr)
            return 2
        if len(steps) == 0:
            print(f"error: {path} has no rows tagged {args.tag!r}", file=sys.stderr)
            return 2
        curves.append((steps, values))
    title = args.title or env_of(args.csvs[0])
    names = [p.stem if p.name != CSV_FILE else p.parent.name for p in args.csvs]
    try:
        grid, mean = plot_runs(curves, args.out, title, args.tag, args.label, names if args.show_runs else None)
    except OSError as e:
        print(f"error: --out {args.out}: {e.strerror or e}", file=sys.stderr)
        return 2
    except ValueError:  # matplotlib reads text between two $ as math, and may fail to
        if not any("$" in t for t in (title, args.tag, args.label or "", *names)):
            raise
        print("error: a --title, --label, --tag or file name has $...$ that matplotlib cannot read as math "
              "text; write \\$ for a dollar sign", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {len(curves)} run(s), {len(grid)} points, last mean {mean[-1]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
