"""Plot learning curves from run CSVs (runs/<run>/metrics.csv) into a PNG.

    python plot.py runs/HalfCheetah-v5__tuned__*/metrics.csv --out curve.png
    python plot.py a/metrics.csv b/metrics.csv --tag charts/episodic_return --title "3 seeds"

Several CSVs are treated as seeds of one configuration: the plot shows their mean and the
spread (min to max) on a common step grid.
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def read_curve(path: Path, tag: str) -> tuple[np.ndarray, np.ndarray]:
    steps, values = [], []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["tag"] == tag:
                steps.append(int(row["step"]))
                values.append(float(row["value"]))
    return np.asarray(steps), np.asarray(values)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("csvs", nargs="+", type=Path, help="metrics.csv files, one per seed")
    p.add_argument("--tag", default="eval/return", help="which curve to plot")
    p.add_argument("--out", type=Path, default=Path("curve.png"), help="PNG to write")
    p.add_argument("--title", default=None, help="plot title (default: the env of the first run)")
    p.add_argument("--label", default=None, help="legend label")
    args = p.parse_args(argv)

    curves = []
    for path in args.csvs:
        if not path.is_file():
            print(f"error: no CSV at {path}", file=sys.stderr)
            return 2
        steps, values = read_curve(path, args.tag)
        if len(steps) == 0:
            print(f"error: {path} has no rows tagged {args.tag!r}", file=sys.stderr)
            return 2
        curves.append((steps, values))

    # Common grid: up to the shortest run, so every seed contributes at every point.
    end = min(s[-1] for s, _ in curves)
    grid = np.unique(np.concatenate([s[s <= end] for s, _ in curves]))
    ys = np.stack([np.interp(grid, s, v) for s, v in curves])
    fig, ax = plt.subplots(figsize=(7, 4.2))
    label = args.label or f"{len(curves)} run{'s' if len(curves) > 1 else ''}"
    ax.plot(grid, ys.mean(0), label=label)
    if len(curves) > 1:
        ax.fill_between(grid, ys.min(0), ys.max(0), alpha=0.25, label="min–max over runs")
    ax.set_xlabel("environment steps")
    ax.set_ylabel(args.tag)
    ax.set_title(args.title or args.csvs[0].parent.name.split("__")[0])
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}: {len(curves)} run(s), {len(grid)} points, last mean {ys.mean(0)[-1]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
