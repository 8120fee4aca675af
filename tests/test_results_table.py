"""benchmarks/results_table.py on hand-made sweep folders: seeds counted, short runs not judged."""
import json
import subprocess
import sys

from conftest import ROOT


def fake_sweep(path, envs, seeds, total_steps, finals):
    """A sweep folder as sweep.py leaves it: sweep.json and one metrics.csv per trial (finals[seed])."""
    path.mkdir()
    (path / "sweep.json").write_text(json.dumps({"name": path.name, "sweep_dir": str(path), "envs": envs,
                                                 "seeds": seeds, "flags": {"total_steps": total_steps},
                                                 "cpus_per_trial": 1, "gpus_per_trial": 0.0, "max_failures": 3}))
    for env_id in envs:
        for seed, final in finals.items():
            t = path / env_id / f"seed{seed}"
            t.mkdir(parents=True)
            half = total_steps // 2
            t.joinpath("metrics.csv").write_text(
                "step,tag,value\n"
                f"{half},charts/sps,100\n{half},eval/return,{final - 50}\n"
                f"{total_steps},charts/sps,100\n{total_steps},eval/return,{final}\n")


def table(*sweeps):
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "results_table.py"), *map(str, sweeps)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return {line.split(" | ")[0].lstrip("| "): line for line in r.stdout.splitlines()}


def test_full_budget_rows_are_judged_and_short_runs_are_not(tmp_path):
    full = tmp_path / "full"
    fake_sweep(full, ["Pendulum-v1"], [0, 1, 2], 100_000, {0: -150.0, 1: -170.0})  # seed 2 not started
    short = tmp_path / "short"
    fake_sweep(short, ["InvertedPendulum-v5"], [0, 1], 50_000, {0: 1000.0, 1: 1000.0})
    rows = table(full, short)
    # Pendulum's budget is 100k (ddpg/env_settings.toml): 2 of the 3 seeds are done, mean ± std of their finals.
    assert "| 100,000 (100,000) | 2 of 3 | -160.0 ± 10.0 | -150.0 |" in rows["Pendulum-v1"]
    # InvertedPendulum's budget is 1M: a 50k sweep is shown with its figures but not judged against 1000.
    line = rows["InvertedPendulum-v5"]
    assert "| 50,000 (1,000,000) | 2 of 2 | 1000.0 ± 0.0 |" in line
    assert line.endswith("| – (a 50,000-step run, short of the budget) |") and "| yes |" not in line
    assert "| not run yet |" in rows["Hopper-v5"]
