"""The results tables on hand-made sweep folders: sweep.py --summary and benchmarks/results_table.py."""
import json
import subprocess
import sys

import imageio.v2 as imageio
import pytest

import plot
import sweep
from conftest import ROOT
from test_cli import assert_clean_error, snapshot
from ddpg import config
from ddpg.config import make_config

sys.path.insert(0, str(ROOT / "benchmarks"))
import results_table  # noqa: E402

IP = "InvertedPendulum-v5"


def fake_sweep(path, envs, seeds, total_steps, finals, running=None, flags=None, configs=None, weights_only=False):
    """A sweep folder as sweep.py leaves it: sweep.json and one metrics.csv per trial (finals[seed]),
    and optionally one trial (seed, last eval) that stopped halfway. `configs`: the settings it recorded
    per env (without, it is a sweep.json from before sweeps recorded them)."""
    path.mkdir()
    spec = {"name": path.name, "sweep_dir": str(path), "envs": envs, "seeds": seeds,
            "flags": {"total_steps": total_steps, **(flags or {})}, "cpus_per_trial": 1, "gpus_per_trial": 0.0,
            "max_failures": 3, **({"weights_only": True} if weights_only else {})}
    (path / "sweep.json").write_text(json.dumps({**spec, **({"configs": configs} if configs else {})}))
    for env_id in envs:
        for seed, final in finals.items():
            t = path / env_id / f"seed{seed}"
            t.mkdir(parents=True)
            half = total_steps // 2
            t.joinpath("metrics.csv").write_text(
                "step,tag,value\n"
                f"{half},charts/sps,100\n{half},eval/return,{final - 50}\n"
                f"{total_steps},charts/sps,100\n{total_steps},eval/return,{final}\n")
        if running:
            t = path / env_id / f"seed{running[0]}"
            t.mkdir(parents=True)
            t.joinpath("metrics.csv").write_text(f"step,tag,value\n1000,charts/sps,100\n1000,eval/return,{running[1]}\n")


def table(*sweeps):
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "results_table.py"), *map(str, sweeps)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    first = r.stdout.split(results_table.SAME_METRIC_HEAD)[0]  # the table of rows by env
    return {line.split(" | ")[0].lstrip("| "): line for line in first.splitlines()}


def test_full_budget_rows_are_judged_and_short_runs_are_not(tmp_path):
    full = tmp_path / "full"
    # seed 2 not started; flags that leave the maths alone (an explicit default among them) keep it a row
    fake_sweep(full, ["Pendulum-v1"], [0, 1, 2], 100_000, {0: -150.0, 1: -170.0},
               flags={"eval_episodes": 10, "matmul_precision": "fp32"})
    # a smoke sweep with more steps in all, but short of the budget: the full-budget sweep wins
    smoke = tmp_path / "smoke"
    fake_sweep(smoke, ["Pendulum-v1"], [0, 1, 2, 3, 4], 50_000, {k: -300.0 for k in range(5)})
    short = tmp_path / "short"
    fake_sweep(short, ["InvertedPendulum-v5"], [0, 1], 50_000, {0: 1000.0, 1: 1000.0})
    # A longer sweep that changes the maths is an experiment, not the env's row.
    bf16 = tmp_path / "bf16"
    fake_sweep(bf16, ["Pendulum-v1"], [0, 1, 2], 200_000, {0: -140.0, 1: -140.0, 2: -140.0},
               flags={"matmul_precision": "bf16"})
    # Hopper's published best is 2,197: one finished seed above it is not yet a verdict for two.
    hopper = tmp_path / "hopper"
    fake_sweep(hopper, ["Hopper-v5"], [0, 1], 1_000_000, {0: 3000.0}, running=(1, 500.0))
    # No Walker2d seed has finished: its row says so, whether or not a sweep still runs it.
    walker = tmp_path / "walker"
    fake_sweep(walker, ["Walker2d-v5"], [0], 1_000_000, {}, running=(0, 300.0))
    rows = table(smoke, full, short, bf16, hopper, walker)
    assert "| 1,000 (1,000,000) | 0 of 1 | not finished | 300.0 |" in rows["Walker2d-v5"], rows["Walker2d-v5"]
    assert rows["Hopper-v5"].endswith("| 1 of 2 | 3000.0 (1 seed) | 3000.0 | 2197.0 (Tianshou DDPG, v3, best point of the mean "
                                      "curve within 1M steps (10 seeds)); 2020.46 (TD3 paper Table 1 (DDPG with Lillicrap et al.'s settings), "
                                      "v1, best point); 1860.02 (TD3 paper Table 1 (tuned DDPG), v1, best point); 1576.78 (CleanRL "
                                      "ddpg_continuous_action.py, v4, during training at 1M steps) | – (1 of 2 seeds "
                                      "done) | hopper |"), rows["Hopper-v5"]
    # Pendulum's budget is 100k (ddpg/env_settings.toml): 2 of the 3 seeds are done, mean ± std of their finals.
    assert "| 100,000 (100,000) | 2 of 3 | -160.0 ± 10.0 | -150.0 |" in rows["Pendulum-v1"]
    assert rows["Pendulum-v1"].endswith("| full |")  # not pooled with the 50k sweep's seeds
    # InvertedPendulum's budget is 1M: a 50k sweep is shown with its figures but not judged against 1000.
    line = rows["InvertedPendulum-v5"]
    assert "| 50,000 (1,000,000) | 2 of 2 | 1000.0 ± 0.0 |" in line
    assert line.endswith("| – (a 50,000-step run, short of the budget) | short |") and "| yes |" not in line
    assert "| not run yet |" in rows["Ant-v5"]


def test_later_sweeps_of_the_same_settings_pool_their_seeds_into_one_row(tmp_path):
    # Seed 0 ran in one sweep, seeds 1 and 2 in a later one with the same settings: one 3-seed row.
    fake_sweep(tmp_path / "s0", ["Hopper-v5"], [0], 1_000_000, {0: 1500.0}, flags={"eval_episodes": 10})
    fake_sweep(tmp_path / "s12", ["Hopper-v5"], [1, 2], 1_000_000, {1: 2500.0}, running=(2, -50.0),
               flags={"eval_episodes": 10})
    # Seeds 1 and 2 again: each seed counts once, from the trial that ran furthest, whatever it scored.
    fake_sweep(tmp_path / "again", ["Hopper-v5"], [1, 2], 1_000_000, {2: 2000.0}, running=(1, 100.0),
               flags={"eval_episodes": 10})
    # Measured another way (5 evaluation episodes): not mixed in.
    fake_sweep(tmp_path / "eval5", ["Hopper-v5"], [3], 1_000_000, {3: 9000.0}, flags={"eval_episodes": 5})
    row = table(*(tmp_path / n for n in ("s0", "s12", "again", "eval5")))["Hopper-v5"]
    # finals 1500, 2500, 2000: mean 2000, population std 408.2; best 2500, not eval5's 9000
    assert row.startswith("| Hopper-v5 | 1,000,000 (1,000,000) | 3 of 3 | 2000.0 ± 408.2 | 2500.0 |"), row
    assert row.endswith("| no | s0, s12, again |"), row  # below Tianshou's 2197 (best point)
    # Until seed 2 ends, the row waits for it rather than judging two seeds.
    row = table(tmp_path / "s0", tmp_path / "s12")["Hopper-v5"]
    assert "| 1,000,000 (1,000,000) | 2 of 3 | 2000.0 ± 500.0 |" in row, row
    assert row.endswith("| – (2 of 3 seeds done) | s0, s12 |"), row


def test_a_seed_run_as_far_twice_counts_once_and_a_rerun_for_weights_is_no_row(tmp_path):
    # The first given wins a tie, whatever the other scored (named to sort the other way round).
    fake_sweep(tmp_path / "z-first", ["Pendulum-v1"], [0], 100_000, {0: -150.0}, flags={"eval_episodes": 10})
    fake_sweep(tmp_path / "a-second", ["Pendulum-v1"], [0], 100_000, {0: -120.0}, flags={"eval_episodes": 10})
    # A seed run again only for its weights is never the row's, even given first.
    weights_only = tmp_path / "0-ship"
    fake_sweep(weights_only, ["Pendulum-v1"], [0], 100_000, {0: -100.0}, flags={"eval_episodes": 10}, weights_only=True)
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "results_table.py"), str(weights_only),
                        str(tmp_path / "z-first"), str(tmp_path / "a-second")], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert "| Pendulum-v1 | 100,000 (100,000) | 1 of 1 | -150.0 (1 seed) | -150.0 |" in r.stdout, r.stdout
    assert (f"Pendulum-v1: seed 0 is in {tmp_path / 'z-first'} and {tmp_path / 'a-second'}; the row uses "
            f"{tmp_path / 'z-first'}, the first given of two that ran as far") in r.stderr, r.stderr
    assert f"Pendulum-v1: skipping {weights_only}: a seed run again for its weights, not a row" in r.stderr
    # Alone, a rerun for weights still makes no row, and the row says why rather than "not run yet".
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "results_table.py"), str(weights_only)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "| Pendulum-v1 | only run again for weights (--weights-only), which makes no row | – |" in r.stdout, r.stdout


def test_summary_averages_finished_seeds_only(tmp_path):
    d = tmp_path / "partly"
    fake_sweep(d, ["Pendulum-v1"], [0, 1, 2], 100_000, {0: -150.0, 1: -170.0}, running=(2, -1200.0))
    table = sweep.summarize(d)
    # seed 2's early -1200 is shown on its own row, but not mixed into the final mean.
    assert "| Pendulum-v1 | tuned | 2 of 3 | 1,000–100,000 of 100,000 | -160.0 ± 10.0 | -150.0 (seed 0, 100,000) |" \
        in table, table
    assert "| Pendulum-v1 | 2 | 1,000 (stopped) | -1200.0 |" in table
    # With no trial finished, the latest evaluations stand in, marked as such.
    d2 = tmp_path / "early"
    fake_sweep(d2, ["Pendulum-v1"], [0], 100_000, {}, running=(0, -1200.0))
    assert "| Pendulum-v1 | tuned | 0 of 1 | 1,000 of 100,000 | -1200.0 (1 seed, stopped) |" in sweep.summarize(d2)


SPEC = ('{"name": "x", "envs": ["Pendulum-v1"], "seeds": [0], "flags": {}, "cpus_per_trial": 1, '
        '"gpus_per_trial": 0, "max_failures": 3')


@pytest.mark.parametrize("text", ["{not json", "{}", '{"name": "x", "envs": ["Pendulum-v1"]}',
                                  SPEC + ', "configs": []}', SPEC + ', "configs": {"Pendulum-v1": 3}}',
                                  SPEC + ', "configs": {"Pendulum-v1": {"actor_lr": "fast"}}}',
                                  SPEC + ', "configs": {"Pendulum-v1": {"no_such_field": 1}}}',
                                  SPEC.replace('"seeds": [0]', '"seeds": []') + "}",
                                  SPEC.replace('"seeds": [0]', '"seeds": "0"') + "}",
                                  SPEC.replace('"envs": ["Pendulum-v1"]', '"envs": "Pendulum-v1"') + "}",
                                  SPEC.replace('"flags": {}', '"flags": "oops"') + "}",
                                  SPEC.replace('"flags": {}', '"flags": {"gamma": "abc"}') + "}",
                                  SPEC.replace('"cpus_per_trial": 1', '"cpus_per_trial": 0') + "}"])
def test_a_damaged_sweep_json_is_one_line_and_exit_2(tmp_path, text, capsys):
    d = tmp_path / "damaged"
    d.mkdir()
    (d / "sweep.json").write_text(text)
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "results_table.py"), str(d)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "is not a sweep description" in r.stderr, r.stderr
    assert sweep.main(["--summary", str(d)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a sweep description" in err, err


def test_a_sweep_keeps_the_settings_it_started_with(tmp_path, monkeypatch):
    # sweep.json records each env's settings at the start; an edit to env_settings.toml after that
    # changes none of the sweep's trials, and the sweep is no longer the env's row.
    args = sweep.build_parser().parse_args(["--envs", IP, "--seeds", "0", "1", "--sweep-dir", str(tmp_path / "s")])
    spec = sweep.new_spec(args)
    started = make_config({"env": IP})
    real = config.env_settings
    monkeypatch.setattr(config, "env_settings",
                        lambda preset, env_id, *a: {**real(preset, env_id, *a), "actor_lr": 5e-3, "gamma": 0.9})
    assert (make_config({"env": IP}).actor_lr, make_config({"env": IP}).gamma) == (5e-3, 0.9)  # new runs see it
    trial = make_config(sweep.trial_flags(spec, IP, 1))
    assert (trial.actor_lr, trial.gamma, trial.seed) == (started.actor_lr, started.gamma, 1)
    assert sweep.recorded_config(trial) == sweep.recorded_config(started)
    legacy = {k: v for k, v in spec.items() if k != "configs"}  # a sweep.json from before the record
    assert make_config(sweep.trial_flags(legacy, IP, 1)).actor_lr == 5e-3
    monkeypatch.undo()

    # A sweep that ran an earlier entry (here: another actor lr) is skipped with a note, not shown as the row.
    earlier = {IP: {**spec["configs"][IP], "actor_lr": started.actor_lr / 2}}
    fake_sweep(tmp_path / "earlier", [IP], [0], 1_000_000, {0: 1000.0}, configs=earlier)
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "results_table.py"), str(tmp_path / "earlier")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert f"| {IP} | not run with its current settings (1 sweep with other settings skipped) |" in r.stdout
    assert "--actor-lr differs from the env's defaults now" in r.stderr, r.stderr
    fake_sweep(tmp_path / "same", [IP], [0], 1_000_000, {0: 1000.0}, configs=spec["configs"])
    assert table(tmp_path / "same")[IP].startswith(f"| {IP} | 1,000,000 (1,000,000) | 1 of 1 | 1000.0 (1 seed) |")


def test_a_field_added_since_a_sweep_started_is_its_default_there_not_the_entry_now(tmp_path):
    # HumanoidStandup's entry sets --obs-norm and --reward-scale, which sweeps recorded before the
    # two existed lack: those sweeps ran without them, so they are not the env's row now.
    hs = "HumanoidStandup-v5"
    now = make_config({"env": hs})
    assert (now.obs_norm, now.reward_scale) == (True, 0.01)
    before = {k: v for k, v in sweep.recorded_config(now).items() if k not in ("obs_norm", "reward_scale")}
    spec = {"sweep_dir": str(tmp_path), "flags": {}, "gpus_per_trial": 0.0, "configs": {hs: before}}
    trial = make_config(sweep.trial_flags(spec, hs, 0))
    assert (trial.obs_norm, trial.reward_scale, trial.total_steps) == (False, 1.0, 1_000_000)
    fake_sweep(tmp_path / "old", [hs], [0], 1_000_000, {0: 85000.0}, configs={hs: before})
    fake_sweep(tmp_path / "new", [hs], [0], 1_000_000, {0: 120000.0}, configs={hs: sweep.recorded_config(now)})
    assert table(tmp_path / "old", tmp_path / "new")[hs].startswith(
        f"| {hs} | 1,000,000 (1,000,000) | 1 of 1 | 120000.0 (1 seed) |")


def test_a_budget_longer_than_the_published_runs_is_also_judged_at_1m(tmp_path):
    hc = tmp_path / "hc"
    fake_sweep(hc, ["HalfCheetah-v5"], [0, 1], 1_500_000, {0: 12000.0, 1: 12100.0})
    for seed, at_1m in ((0, 11400.0), (1, 11500.0)):  # an evaluation at 1M, between the two fake_sweep wrote
        csv_path = hc / "HalfCheetah-v5" / f"seed{seed}" / "metrics.csv"
        lines = csv_path.read_text().splitlines()
        csv_path.write_text("\n".join([*lines[:3], f"1000000,eval/return,{at_1m}", *lines[3:]]) + "\n")
    row = table(hc)["HalfCheetah-v5"]  # against Tianshou's 11718.7, a best point within 1M steps
    assert row.endswith("| yes at 1,500,000; at 1,000,000 (the published budget) 11450.0: no | hc |"), row
    sparse = tmp_path / "sparse"  # evaluated at 750k and 1.5M only
    fake_sweep(sparse, ["HalfCheetah-v5"], [0, 1], 1_500_000, {0: 12000.0, 1: 12100.0})
    row = table(sparse)["HalfCheetah-v5"]
    assert row.endswith("| yes at 1,500,000; not judged at 1,000,000 (the published budget): 2 seed(s) have no "
                        "evaluation there | sparse |"), row


def test_each_published_figure_is_beside_ours_measured_its_way(tmp_path):
    published = tmp_path / "published.csv"  # figures of our own, so that the test does not hang on the real ones
    published.write_text("env,return,std,source,env_version,metric,kind\n"
                         "HalfCheetah-v5,11267,,A,v3,best point,best point\n"  # 0.3 above ours: within its rounding
                         "HalfCheetah-v5,11300,,B,v3,best point,best point\n"
                         "HalfCheetah-v5,800,,C,v4,during training,during training\n"
                         "Ant-v5,990,,A,v3,best point,best point\n")
    hc = tmp_path / "hc"  # a 1.5M budget, so 1.5M is past the published 1M
    fake_sweep(hc, ["HalfCheetah-v5"], [0, 1, 2], 1_500_000, {0: 0.0, 1: 0.0, 2: 0.0})  # its CSVs are rewritten
    evals = {0: [(500_000, 9000.0), (1_000_000, 11000.0), (1_500_000, 20000.0)],
             1: [(500_000, 14000.0), (1_000_000, 11000.0), (1_500_000, 20000.0)],
             2: [(500_000, 8000.0), (750_000, 30000.0), (1_000_000, 11800.0), (1_500_000, 20000.0)]}
    for seed, points in evals.items():
        rows = [f"{step},eval/return,{v}" for step, v in points]
        # 12 training episodes to 1M, the last 10 scoring 300..1200 (+ 100 * seed: 850 over seeds); one after 1M
        rows += [f"{80_000 * k},charts/episodic_return,{100.0 * k + 100 * seed}" for k in range(1, 13)]
        rows += ["1200000,charts/episodic_return,99999", "1500000,charts/sps,100"]
        csv_path = hc / "HalfCheetah-v5" / f"seed{seed}" / "metrics.csv"
        csv_path.write_text("step,tag,value\n" + "\n".join(rows) + "\n")

    def second_table():
        r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "results_table.py"), str(hc),
                            "--published", str(published)], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return r.stdout.split(results_table.SAME_METRIC_HEAD)[1].splitlines()

    # the mean curve at the steps every seed evaluated (750k is seed 2's alone): 10333.3 at 500k, 11266.7 at 1M;
    # its best point is 11266.7, not a seed's best (30000) nor a point past 1M (20000)
    assert second_table() == [
        "| HalfCheetah-v5 | B, v3 | best point | 11300 | 11266.7 (best point of the mean curve of 3 seeds, at "
        "1,000,000) | no |",
        "| HalfCheetah-v5 | A, v3 | best point | 11267 | 11266.7 (best point of the mean curve of 3 seeds, at "
        "1,000,000) | level (within its rounding) |",
        "| HalfCheetah-v5 | C, v4 | during training | 800 | 850.0 (last 10 training episodes to 1,000,000, 3 seeds) "
        "| yes |",
        "| Ant-v5 | A, v3 | best point | 990 | not run yet | – |"]
    # Judged as the row is: with a seed unfinished, the figures are shown and wait for it.
    (hc / "HalfCheetah-v5" / "seed2" / "metrics.csv").write_text("step,tag,value\n1000,charts/sps,100\n"
                                                                  "1000,eval/return,5\n")
    assert second_table()[0] == ("| HalfCheetah-v5 | B, v3 | best point | 11300 | 11500.0 (best point of the mean "
                                 "curve of 2 seeds, at 500,000) | – (2 of 3 seeds done) |")


@pytest.mark.parametrize("script", ["benchmarks/results_table.py", "plot.py"])
def test_an_unwritable_out_is_one_line_and_exit_2(tmp_path, script):
    fake_sweep(tmp_path / "s", ["Pendulum-v1"], [0], 100_000, {0: -150.0})
    csv_path = tmp_path / "s" / "Pendulum-v1" / "seed0" / "metrics.csv"
    inputs = [str(tmp_path / "s")] if script.endswith("table.py") else [str(csv_path)]
    out = "/proc/ddpg/out.png" if script == "plot.py" else "/proc/ddpg/out"  # plot.py takes PNG names only
    r = subprocess.run([sys.executable, str(ROOT / script), *inputs, "--out", out],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith(f"error: --out {out}: "), r.stderr
    assert "PNG" not in r.stderr
    assert "Traceback" not in r.stderr


def test_curves_draw_each_rows_pooled_seeds_and_link_them_from_the_table(tmp_path, monkeypatch):
    # Hopper: seed 0 in one sweep, seed 1 (finished) and seed 2 (halfway) in a later one: one curve of 3 seeds.
    fake_sweep(tmp_path / "s0", ["Hopper-v5"], [0], 1_000_000, {0: 1500.0})
    fake_sweep(tmp_path / "s12", ["Hopper-v5"], [1, 2], 1_000_000, {1: 2500.0}, running=(2, -50.0))
    out = tmp_path / "results" / "benchmark.md"
    out.parent.mkdir()
    drawn = []

    def plot_runs(curves, png, title, ylabel, **kw):  # records what is drawn, then draws it
        drawn.append((png.name, [list(v) for _, v in curves], kw["run_labels"], kw["mean_of"]))
        return real(curves, png, title, ylabel, **kw)
    real = plot.plot_runs
    monkeypatch.setattr(plot, "plot_runs", plot_runs)
    monkeypatch.setattr(sys, "argv", ["results_table.py", str(tmp_path / "s0"), str(tmp_path / "s12"),
                                      "--out", str(out), "--curves", str(out.parent / "curves")])
    assert results_table.main() == 0
    # every seed of the row, each whole; the mean over the two finished ones only
    assert drawn == [("Hopper-v5.png", [[1450.0, 1500.0], [2450.0, 2500.0], [-50.0]],
                      ["seed 0", "seed 1", "seed 2 (unfinished)"], [0, 1])]
    lines = out.read_text().split(results_table.SAME_METRIC_HEAD)[0].splitlines()
    assert lines[0].endswith("| sweeps | curve |") and lines[1] == "|---" * 9 + "|"
    rows = {line.split(" | ")[0].lstrip("| "): line for line in lines}
    assert rows["Hopper-v5"].endswith("| s0, s12 | [curve](curves/Hopper-v5.png) |"), rows["Hopper-v5"]
    assert rows["Ant-v5"].endswith("| not run yet | – | – | – | 1005.30 (TD3 paper Table 1 (DDPG with Lillicrap et al.'s "
                                   "settings), v1, best point); 990.4 (Tianshou DDPG, v3, best point of the mean curve "
                                   "within 1M steps (10 seeds)); 888.77 (TD3 paper Table 1 (tuned DDPG), v1, best point) | – "
                                   "| – | – |")
    assert rows["CarRacing-v3"].endswith("| – | – |") and rows["CarRacing-v3"].count(" | ") == 8
    # no PNG for rows without runs
    assert sorted(p.name for p in (out.parent / "curves").iterdir()) == ["Hopper-v5.png"]
    img = imageio.imread(out.parent / "curves" / "Hopper-v5.png")
    assert img.shape[0] > 300 and img.std() > 10


def test_an_unwritable_curves_folder_is_one_line_and_exit_2(tmp_path):
    fake_sweep(tmp_path / "s", ["Pendulum-v1"], [0], 100_000, {0: -150.0})
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "results_table.py"), str(tmp_path / "s"),
                        "--curves", "/proc/ddpg/curves"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--curves /proc/ddpg/curves" in r.stderr.strip().splitlines()[-1], r.stderr
    assert "Traceback" not in r.stderr


def test_readme_gets_the_same_table_between_its_markers_with_links_from_its_folder(tmp_path):
    fake_sweep(tmp_path / "s", ["Hopper-v5"], [0], 1_000_000, {0: 1500.0})
    out, readme = tmp_path / "results" / "benchmark.md", tmp_path / "README.md"
    start, end = results_table.README_MARKERS
    readme.write_text(f"# intro\n\n{start}\nan old table\n{end}\n\nnotes\n")
    cmd = [sys.executable, str(ROOT / "benchmarks" / "results_table.py"), str(tmp_path / "s"), "--out", str(out),
           "--curves", str(out.parent / "curves"), "--readme", str(readme)]
    for _ in range(2):  # a second run replaces the first run's table, and nothing else
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        head, block, tail = readme.read_text().split("<!-- results_table.py: ")
        assert head == "# intro\n\n" and tail == "end -->\n\nnotes\n"
        table_lines = block.splitlines()[1:]
        published = (ROOT / "results" / "published_ddpg.csv").read_text().count("\n") - 1
        # the table's head and rows; the caption between blank lines; the second table's head and rows
        assert len(table_lines) == 2 + len(results_table.ENVS) + len(results_table.UNSUPPORTED) + 3 + 2 + published
        # the same rows as benchmark.md; only the curve link moves to the README's folder
        assert "\n".join(table_lines) + "\n" == out.read_text().replace("](curves/", "](results/curves/")
        assert "[curve](results/curves/Hopper-v5.png)" in block


@pytest.mark.parametrize("text", ["# no markers\n", "<!-- results_table.py: end -->\n<!-- results_table.py: start -->\n"])
def test_a_readme_without_its_markers_is_one_line_and_exit_2_and_left_as_it_was(tmp_path, text):
    fake_sweep(tmp_path / "s", ["Pendulum-v1"], [0], 100_000, {0: -150.0})
    readme = tmp_path / "README.md"
    readme.write_text(text)
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "results_table.py"), str(tmp_path / "s"),
                        "--readme", str(readme)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and f"--readme {readme}" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and readme.read_text() == text and r.stdout == ""


def test_out_replaces_only_a_table_it_wrote_and_bad_paths_are_one_line(tmp_path):
    fake_sweep(tmp_path / "s", ["Pendulum-v1"], [0], 100_000, {0: -150.0})
    (tmp_path / "README.md").write_text("# a README, not a table\n")
    (tmp_path / "bin.md").write_bytes(bytes(range(256)))
    (tmp_path / "d").mkdir()
    before = {f: f.read_bytes() for f in tmp_path.rglob("*") if f.is_file()}

    def table_cmd(*args):
        return subprocess.run([sys.executable, str(ROOT / "benchmarks" / "results_table.py"), *map(str, args)],
                              capture_output=True, text=True, timeout=120)

    for args, needle in [
        ((tmp_path / "s", "--out", tmp_path / "README.md"), "holds something other than this script's table"),
        ((tmp_path / "s", "--out", tmp_path / "s" / "sweep.json"), "holds something other than this script's table"),
        ((tmp_path / "s", "--out", tmp_path / "d"), "is a folder"),
        ((tmp_path / "s", tmp_path / "no-such-sweep"), "no-such-sweep: no such file or folder"),
        ((tmp_path / "s", "--readme", tmp_path / "bin.md"), "not a text file"),
    ]:
        r = table_cmd(*args)
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and needle in r.stderr, (args, r.stderr)
        assert "Traceback" not in r.stderr and r.stdout == ""
    assert {f: f.read_bytes() for f in tmp_path.rglob("*") if f.is_file()} == before
    out = tmp_path / "benchmark.md"
    for _ in range(2):  # a table it wrote is replaced; nothing else is left beside it
        r = table_cmd(tmp_path / "s", tmp_path / "README.md", "--out", out)  # a file `dir/*` matched: skipped
        assert r.returncode == 0 and out.read_text().startswith(results_table.TABLE_START), r.stderr
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("sweeps, flags, needle", [
    (["results"], [], "no sweep among results: a sweep folder holds the sweep.json"),  # the folder above the sweeps
    (["results"], ["--curves", "results/new"], "no sweep among results"),  # and no new --curves folder either
    (["results/benchmark.md", "README.md"], [], "no sweep among results/benchmark.md, README.md"),  # files only
    ([""], [], "a sweep argument must name a folder, got ''"),  # an unset $VAR would read as "."
    (["results/s"], ["--out", ""], "--out must name a file, got ''"),
    (["results/s"], ["--curves", ""], "--curves must name a folder, got ''"),
    # a sweep's exported folder, whose own <env>.png the curve would overwrite
    (["results/s"], ["--curves", "results/exported"], "--curves results/exported: holds Pendulum-v1_seed0.csv, "
                                                      "not only this script's <env>.png curves"),
    (["results/s"], ["--curves", "results/benchmark.md"], "--curves results/benchmark.md: not a folder"),
])
def test_no_sweep_or_an_output_it_does_not_own_is_one_line_and_writes_nothing(tmp_path, sweeps, flags, needle):
    results = tmp_path / "results"
    results.mkdir()
    fake_sweep(results / "s", ["Pendulum-v1"], [0], 100_000, {0: -150.0})
    (results / "benchmark.md").write_text(results_table.TABLE_START + " the committed table\n")
    start, end = results_table.README_MARKERS
    (tmp_path / "README.md").write_text(f"{start}\nthe committed table\n{end}\n")
    for folder, names in (("curves", ["Pendulum-v1.png"]), ("exported", ["Pendulum-v1.png", "Pendulum-v1_seed0.csv"])):
        (results / folder).mkdir()
        for name in names:
            (results / folder / name).write_text(f"committed {name}")
    before, paths = snapshot(tmp_path), sorted(tmp_path.rglob("*"))
    # the committed command, with the flag under test last (the last of a flag given twice counts)
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "results_table.py"), *sweeps,
                        "--out", "results/benchmark.md", "--curves", "results/curves", "--readme", "README.md",
                        *flags], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert_clean_error(r, needle)
    assert r.stdout == "" and snapshot(tmp_path) == before and sorted(tmp_path.rglob("*")) == paths


def test_the_committed_readme_shows_the_committed_benchmark_table():
    # benchmark.md and the README are written by one command; editing or rebuilding one alone fails here
    block = (ROOT / "README.md").read_text().split(results_table.README_MARKERS[0] + "\n")[1]
    block = block.split(results_table.README_MARKERS[1])[0]
    committed = (ROOT / "results" / "benchmark.md").read_text()
    assert block == committed.replace("](curves/", "](results/curves/")
    first, second = block.split("\n\n" + results_table.SAME_METRIC_HEAD)
    assert first.count("\n| ") == len(results_table.ENVS) + len(results_table.UNSUPPORTED)
    assert second.count("\n") == (ROOT / "results" / "published_ddpg.csv").read_text().count("\n") - 1


@pytest.mark.parametrize("breakage, needle", [
    ("csv", "metrics.csv, line"),                       # a trial's CSV with a value that is not a number
    ("published-missing", "--published"),               # no file of published figures there
    ("published-columns", "not a table of env, source, env_version, metric, kind and return"),
    ("published-kind", "line 2: kind 'final' is not one of 'best point', 'during training'"),
])
def test_damaged_inputs_are_one_line_and_exit_2(tmp_path, breakage, needle):
    fake_sweep(tmp_path / "s", ["Pendulum-v1"], [0], 100_000, {0: -150.0})
    args = [str(tmp_path / "s")]
    if breakage == "csv":
        with open(tmp_path / "s" / "Pendulum-v1" / "seed0" / "metrics.csv", "a") as f:
            f.write("100000,eval/return,abc\n")
    elif breakage == "published-missing":
        args += ["--published", str(tmp_path / "none.csv")]
    else:
        (tmp_path / "pub.csv").write_text("env,figure\nPendulum-v1,-150\n" if breakage == "published-columns" else
                                          "env,return,std,source,env_version,metric,kind\n"
                                          "Pendulum-v1,-150,,a paper,v1,its last point,final\n")
        args += ["--published", str(tmp_path / "pub.csv")]
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "results_table.py"), *args],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and r.stderr.startswith("error: "), r.stderr
    assert needle in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_plot_refuses_an_out_that_is_not_a_png(tmp_path):
    fake_sweep(tmp_path / "s", ["Pendulum-v1"], [0], 100_000, {0: -150.0})
    r = subprocess.run([sys.executable, str(ROOT / "plot.py"), str(tmp_path / "s" / "Pendulum-v1" / "seed0" / "metrics.csv"),
                        "--out", str(tmp_path / "curve.txt")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr == f"error: --out {tmp_path / 'curve.txt'}: curves are written as PNG; " \
                                             f"give a path ending in .png\n", r.stderr
    assert not (tmp_path / "curve.txt").exists()


@pytest.mark.parametrize("case, needle", [
    ("bad-math", "has $...$ that matplotlib cannot read as math text"),
    ("binary-csv", "bin.csv is not a metrics.csv (UnicodeDecodeError"),
])
def test_plot_refuses_unreadable_text_and_binary_csvs_in_one_line(tmp_path, case, needle):
    fake_sweep(tmp_path / "s", ["Pendulum-v1"], [0], 100_000, {0: -150.0})
    csv_path = tmp_path / "s" / "Pendulum-v1" / "seed0" / "metrics.csv"
    args = [str(csv_path), "--title", "return $x^$"]  # an unclosed superscript
    if case == "binary-csv":
        (tmp_path / "bin.csv").write_bytes(bytes(range(128, 256)))
        args = [str(tmp_path / "bin.csv")]
    r = subprocess.run([sys.executable, str(ROOT / "plot.py"), *args, "--out", str(tmp_path / "c.png")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and needle in r.stderr, r.stderr
    assert not (tmp_path / "c.png").exists()
    # a dollar sign written as \$, and math that parses, draw as usual
    r = subprocess.run([sys.executable, str(ROOT / "plot.py"), str(csv_path), "--title", r"\$5 and $x^2$",
                        "--out", str(tmp_path / "c.png")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and (tmp_path / "c.png").stat().st_size > 1000, r.stderr


def test_the_table_has_a_row_for_the_default_env_and_every_env_with_settings():
    # ENVS fixes the rows' order; an env given settings without a row (or a row without settings) fails here
    import tomllib
    entries = tomllib.loads(config.ENV_SETTINGS_FILE.read_text())["tuned"]
    assert sorted(results_table.ENVS) == sorted({config.Config.env, *entries})
    assert len(results_table.ENVS) == len(set(results_table.ENVS))
    assert not set(results_table.UNSUPPORTED) & set(results_table.ENVS)
