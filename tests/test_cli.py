"""Bad input: one line on stderr naming the problem, a non-zero exit, no traceback, no file touched."""
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest
import torch

from conftest import ROOT, tiny_flags
from ddpg import checkpoint as ckpt_io
from ddpg.errors import DDPGError

TINY = tiny_flags()


def run(script, *args, cwd):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    for display in ("DISPLAY", "WAYLAND_DISPLAY"):  # children always run headless
        env.pop(display, None)
    return subprocess.run([sys.executable, str(ROOT / script), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def snapshot(d: Path):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.rglob("*")) if p.is_file()}


def only_run(d: Path, env_id: str) -> Path:
    """The one run folder under d/models/<env>/ (its name has the start time in it)."""
    (found,) = (d / "models" / env_id).glob("*/checkpoint.pt")
    return found.parent


def train_tiny(tmp_path_factory, env_id: str, steps: int) -> Path:
    """A tiny train.py run in a scratch directory: models/<env>/<run>/{actor,checkpoint}.pt and runs/."""
    d = tmp_path_factory.mktemp(env_id)
    r = run("train.py", "--env", env_id, "--total-steps", str(steps), *TINY, cwd=d)
    assert r.returncode == 0, r.stderr
    return d


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_tiny(tmp_path_factory, "Pendulum-v1", 400)


def assert_clean_error(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert "Traceback" not in r.stderr, r.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.mark.parametrize("args, needles", [
    (["--env", "NoSuchEnv-v0"], ["NoSuchEnv-v0"]),
    (["--env", "CartPole-v1"], ["CartPole-v1", "Discrete", "continuous"]),
    (["--total-steps", "0"], ["--total-steps", "positive"]),
    (["--total-steps", "-5"], ["--total-steps"]),
    (["--batch-size", "0"], ["--batch-size"]),
    (["--tau", "1.5"], ["--tau", "[0, 1]"]),
    (["--gamma", "-0.1"], ["--gamma", "[0, 1]"]),
    (["--gamma", "nan"], ["--gamma"]),
    (["--reward-scale", "0"], ["--reward-scale", "positive"]),
    (["--cudagraphs", "--device", "cpu"], ["--cudagraphs", "CUDA"]),
    (["--seed", "-1"], ["--seed", ">= 0"]),
    (["--seed", str(2**64)], ["--seed must be >= 0 and < 2**32"]),
    (["--ou-theta", "2.5"], ["--ou-theta × --ou-dt must be at most 1", "2.5 × 1.0"]),
    (["--run-name", "a/b"], ["--run-name"]),
    (["--resume="], ["--resume needs a checkpoint path", "got ''"]),  # an unset $VAR: not a fresh run
    (["--models-dir", ""], ["--models-dir must name a folder"]),
    (["--run-name", "x" * 300], ["File name too long"]),  # one line, not a traceback from the file system
])
def test_train_rejects_bad_input(trained, args, needles):
    before = snapshot(trained)
    assert_clean_error(run("train.py", "--env", "Pendulum-v1", *args, cwd=trained), *needles)
    assert snapshot(trained) == before


@pytest.mark.parametrize("script, args, needles", [
    ("train.py", ["--preset", "foo"], ["--preset", "'foo'", "tuned", "train.py --help"]),
    ("train.py", ["--total-steps", "abc"], ["--total-steps", "'abc'"]),
    ("sweep.py", ["--cpus", "x"], ["--cpus", "sweep.py --help"]),
    ("main.py", ["--bogus"], ["--bogus", "main.py --help"]),
    # an unset $VAR: not the default weights, nor a hint with an empty --models-dir
    ("main.py", ["--weights", ""], ["--weights must name an actor.pt file, got ''"]),
    ("main.py", ["--run", ""], ["--run must name a run, got ''"]),
    ("main.py", ["--models-dir", " "], ["--models-dir must name a folder, got ' '"]),
    ("main.py", ["--record", ""], ["--record must name an mp4 file, got ''"]),
    # flags match whole: argparse's prefix matching would take these for --seeds and --total-steps
    ("sweep.py", ["--envs", "Pendulum-v1", "--seeds", "0", "--seed", "3"], ["unrecognized arguments: --seed 3"]),
    ("train.py", ["--env", "Pendulum-v1", "--total", "10"], ["unrecognized arguments: --total 10"]),
    ("plot.py", [], ["csvs"]),
    ("benchmarks/results_table.py", [], ["sweeps"]),
])
def test_a_malformed_command_line_is_one_line_not_the_usage_block(tmp_path, script, args, needles):
    assert_clean_error(run(script, *args, cwd=tmp_path), *needles)
    assert not any(tmp_path.iterdir())


def test_main_without_weights_says_to_train(tmp_path):
    assert_clean_error(run("main.py", "--no-render", cwd=tmp_path), "python train.py", "HalfCheetah-v5")


@pytest.mark.parametrize("env, needles", [
    ("CarRacing-v3", ["CarRacing-v3 has observations", "supported: a flat (1-D) Box"]),
    ("HalfCheetah-v9", ["unknown or unavailable env 'HalfCheetah-v9'"]),
    # registered but needs mujoco-py; Gymnasium's "out of date" warning would print above the error
    ("HalfCheetah-v3", ["env HalfCheetah-v3 cannot start here", "gymnasium-robotics"]),
])
def test_main_without_weights_for_an_env_it_cannot_train_says_why_not_to_train(tmp_path, env, needles):
    r = run("main.py", "--env", env, "--no-render", cwd=tmp_path)
    assert_clean_error(r, *needles)
    assert "python train.py" not in r.stderr and list(tmp_path.iterdir()) == []


def test_gymnasium_warnings_still_show_for_an_env_that_starts_and_only_once():
    # make_env holds them back only until the env has started; train.py makes two envs, the warning shows once
    code = "from ddpg.gym_utils import make_env; make_env('Hopper-v4').close(); make_env('Hopper-v4').close()"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("The environment Hopper-v4 is out of date") == 1, r.stderr


REACHER = ["--env", "Reacher-v5", "--weights", str(ROOT / "models" / "Reacher-v5" / "actor.pt")]


@pytest.mark.parametrize("args, needle", [
    (["--record", "{tmp}/taken.mp4"], "cannot write video {tmp}/taken.mp4: it is a folder"),
    # ffmpeg would fail in lines of its own, and its empty output would replace the video there
    ([*REACHER, "--record", "{tmp}/kept.mp4", "--env-kwargs", "width=0", "height=0"],
     "cannot write video {tmp}/kept.mp4: the env draws empty frames (shape (0, 0, 3))"),
    # the folders made for a video that was not written go too
    ([*REACHER, "--record", "{tmp}/new/dir/x.mp4", "--env-kwargs", "width=0", "height=0"],
     "cannot write video {tmp}/new/dir/x.mp4: the env draws empty frames"),
    # MuJoCo would print an error and exit at the first frame, leaving the .partial.mp4 and MUJOCO_LOG.TXT
    ([*REACHER, "--record", "{tmp}/x.mp4", "--env-kwargs", "camera_id=99"],
     "Reacher-v5 has no camera with camera_id=99; it has only the free camera"),
    ([*REACHER, "--record", "{tmp}/x.mp4", "--env-kwargs", "camera_name=nope"],  # not the free camera instead
     "Reacher-v5 has no camera named 'nope'"),
    (["--record", "/proc/self/out.mp4"], "cannot write video /proc/self/out.mp4"),  # not ffmpeg's lines
    (["--record", "{tmp}/kept.mp4/x.mp4"], "cannot write video {tmp}/kept.mp4/x.mp4"),  # a file where a folder goes
    (["--no-render", "--record", "{tmp}/x.mp4"], "--record and --no-render contradict each other"),
    (["--no-render", "--env-kwargs", "render_mode=human"], "--env-kwargs render_mode: main.py sets it"),
])
def test_main_refuses_a_video_or_render_mode_it_cannot_honour(trained, tmp_path, args, needle):
    (tmp_path / "taken.mp4").mkdir()
    (tmp_path / "kept.mp4").write_text("an earlier video")
    before = snapshot(tmp_path)
    weights = only_run(trained, "Pendulum-v1") / "actor.pt"
    r = run("main.py", "--env", "Pendulum-v1", "--weights", str(weights), "--episodes", "1",
            *[a.format(tmp=tmp_path) for a in args], cwd=tmp_path)
    assert_clean_error(r, needle.format(tmp=tmp_path))
    assert snapshot(tmp_path) == before
    # no .partial.mp4, video, or folder made for one (new/dir)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["kept.mp4", "taken.mp4"]


def test_main_given_a_folder_for_weights_says_so(trained, tmp_path):
    r = run("main.py", "--env", "Pendulum-v1", "--weights", str(trained), "--no-render", cwd=tmp_path)
    assert_clean_error(r, f"{trained} is a folder; give the actor.pt inside it")


def test_main_refuses_weights_from_another_env(trained, tmp_path):
    weights = only_run(trained, "Pendulum-v1") / "actor.pt"
    r = run("main.py", "--env", "MountainCarContinuous-v0", "--weights", str(weights), "--no-render", cwd=tmp_path)
    assert_clean_error(r, "Pendulum-v1", "MountainCarContinuous-v0")


def test_truncated_and_corrupted_files_are_refused(trained, tmp_path):
    models = tmp_path / "models" / "Pendulum-v1"
    models.mkdir(parents=True)
    good_actor = (only_run(trained, "Pendulum-v1") / "actor.pt").read_bytes()
    (models / "actor.pt").write_bytes(good_actor[: len(good_actor) // 2])  # where shipped weights sit
    good_ckpt = (only_run(trained, "Pendulum-v1") / "checkpoint.pt").read_bytes()
    (models / "run").mkdir()
    (models / "run" / "checkpoint.pt").write_bytes(good_ckpt[:1000] + b"\x00" * 5000 + good_ckpt[6000:])
    before = snapshot(tmp_path)
    assert_clean_error(run("main.py", "--env", "Pendulum-v1", "--no-render", cwd=tmp_path), "actor.pt", "corrupted")
    assert_clean_error(run("train.py", "--env", "Pendulum-v1", "--resume", cwd=tmp_path), "checkpoint.pt")
    assert snapshot(tmp_path) == before


def test_a_file_torch_did_not_write_is_named_as_such_and_a_file_of_the_other_kind_too(trained, tmp_path):
    (tmp_path / "notes.pt").write_text("# not weights\n")
    (tmp_path / "empty.pt").write_bytes(b"")
    actor = only_run(trained, "Pendulum-v1") / "actor.pt"
    before = snapshot(tmp_path)
    r = run("main.py", "--env", "Pendulum-v1", "--weights", str(tmp_path / "notes.pt"), "--no-render", cwd=tmp_path)
    assert_clean_error(r, "notes.pt is not a DDPG actor file: torch.save did not write it")
    r = run("main.py", "--env", "Pendulum-v1", "--weights", str(tmp_path / "empty.pt"), "--no-render", cwd=tmp_path)
    assert_clean_error(r, "empty.pt is empty (truncated); delete it or restore a good copy")
    r = run("train.py", "--resume", str(tmp_path / "notes.pt"), cwd=tmp_path)
    assert_clean_error(r, "notes.pt is not a DDPG checkpoint file: torch.save did not write it")
    assert_clean_error(run("train.py", "--resume", str(actor), cwd=tmp_path),
                       "is an actor file, expected a checkpoint file")
    assert snapshot(tmp_path) == before


def test_a_resume_already_at_its_total_steps_says_nothing_is_trained(trained):
    ckpt = only_run(trained, "Pendulum-v1") / "checkpoint.pt"
    before = snapshot(trained / "models")
    r = run("train.py", "--resume", str(ckpt), "--total-steps", "100", cwd=trained)
    assert r.returncode == 0, r.stderr
    assert f"resuming from {ckpt} at step 400: already at --total-steps 100 or past it, so nothing is trained" \
        in r.stderr
    assert snapshot(trained / "models") == before


def test_a_refused_resume_is_one_line_and_says_nothing_of_resuming(trained, tmp_path):
    ckpt = only_run(trained, "Pendulum-v1") / "checkpoint.pt"
    taken = tmp_path / "models" / "Pendulum-v1" / "taken"
    taken.mkdir(parents=True)
    (taken / "actor.pt").write_bytes((ckpt.parent / "actor.pt").read_bytes())
    before = snapshot(tmp_path)
    r = run("train.py", "--resume", str(ckpt), "--run-name", "taken", cwd=tmp_path)  # a branch into a taken name
    assert_clean_error(r, "taken already holds a run (actor.pt)")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("flag", ["--models-dir", "--runs-dir"])
def test_a_resume_into_an_empty_folder_name_is_refused(trained, tmp_path, flag):
    ckpt = only_run(trained, "Pendulum-v1") / "checkpoint.pt"
    before = snapshot(trained)
    r = run("train.py", "--resume", str(ckpt), flag, " ", "--total-steps", "500", cwd=tmp_path)
    assert_clean_error(r, f"{flag} must name a folder, got ' '")
    assert snapshot(trained) == before and not any(tmp_path.iterdir())


def test_torch_files_without_the_expected_keys_are_refused(tmp_path):
    for kind in ("actor", "checkpoint"):
        torch.save({"kind": kind, "format_version": 1, "env_id": "Pendulum-v1"}, tmp_path / f"{kind}.pt")
    before = snapshot(tmp_path)
    r = run("main.py", "--env", "Pendulum-v1", "--weights", str(tmp_path / "actor.pt"), "--no-render", cwd=tmp_path)
    assert_clean_error(r, "actor.pt", "without", "config")
    assert_clean_error(run("train.py", "--resume", str(tmp_path / "checkpoint.pt"), cwd=tmp_path),
                       "checkpoint.pt", "without", "agent")
    assert snapshot(tmp_path) == before
    # Every key there, but a value of the wrong type: a config that is not a table, a network shape that is
    # not widths, weights that are not a table of tensors.
    good = {"env_id": "Pendulum-v1", "obs_dim": 3, "action_low": [-2.0], "action_high": [2.0],
            "config": {"hidden_sizes": [8]}, "actor": {}}
    for kind, bad, needle in (("checkpoint", {"config": 7}, "config is damaged"),
                              ("actor", {"config": {"hidden_sizes": "abc"}}, "config is damaged"),
                              ("actor", {"config": {"seed": -1}}, "config is damaged"),
                              ("actor", {"config": {"hidden_sizes": [8.7]}}, "wrong type for hidden_sizes"),
                              ("actor", {"config": {"run_name": 5}}, "wrong type for run_name"),
                              ("actor", {"obs_dim": 3.0}, "other observation/action spaces"),
                              ("actor", {"actor": 0}, "weights do not fit"),
                              ("actor", {"action_low": "x"}, "action bounds are damaged")):
        torch.save({**dict.fromkeys(ckpt_io.REQUIRED_KEYS[kind], 0), "kind": kind, "format_version": 1,
                    **good, **bad}, tmp_path / f"{kind}.pt")
        before = snapshot(tmp_path)
        if kind == "actor":
            r = run("main.py", "--env", "Pendulum-v1", "--weights", str(tmp_path / "actor.pt"), "--no-render",
                    cwd=tmp_path)
        else:
            r = run("train.py", "--resume", str(tmp_path / "checkpoint.pt"), cwd=tmp_path)
        assert_clean_error(r, f"{kind}.pt", needle)
        assert snapshot(tmp_path) == before


def test_errors_on_halfcheetah_are_one_line_too(tmp_path):
    """MuJoCo's deprecation warning for Gymnasium's half_cheetah.xml must not pad a one-line error."""
    (tmp_path / "a_file").write_text("x")
    r = run("train.py", "--models-dir", str(tmp_path / "a_file"), cwd=tmp_path)
    assert_clean_error(r, "--models-dir")
    assert r.stderr.count("\n") == 1 and "settotalmass" not in r.stderr and not (tmp_path / "MUJOCO_LOG.TXT").exists()


def test_main_refuses_bad_env_arguments_and_seeds(tmp_path):
    weights = ROOT / "models" / "Rocket-v0" / "actor.pt"
    r = run("main.py", "--env", "Rocket-v0", "--weights", str(weights), "--no-render", "--env-kwargs",
            "thrust_noise=abc", cwd=tmp_path)
    assert_clean_error(r, "thrust_noise", "'abc'")
    r = run("main.py", "--env", "Rocket-v0", "--weights", str(weights), "--no-render", "--seed", "-1", cwd=tmp_path)
    assert_clean_error(r, "--seed must be >= 0")
    r = run("main.py", "--env", "Rocket-v0", "--weights", str(weights), "--record", "rocket", cwd=tmp_path)
    assert_clean_error(r, "--record rocket", "ending in .mp4")
    assert list(tmp_path.iterdir()) == []  # no video, partial or folder left


@pytest.mark.parametrize("kwarg, needles", [
    ("frame_skip=0", ["HalfCheetah-v5 failed to start", "ZeroDivisionError"]),  # fails in the constructor
    ("xml_file=/nonexistent.xml", ["HalfCheetah-v5 failed to start", "/nonexistent.xml"]),
    (f"xml_file={ROOT / 'README.md'}", ["HalfCheetah-v5 does not accept", "README.md", "XML parse error 7: Error=XML_ERROR_PARSING_ATTRIBUTE"]),
    ("ctrl_cost_weight='abc'", ["HalfCheetah-v5 failed mid-episode", "ctrl_cost_weight='abc'", "TypeError"]),
])
def test_env_arguments_that_break_the_env_later_are_one_line_too(tmp_path, kwarg, needles):
    weights = ROOT / "models" / "HalfCheetah-v5" / "actor.pt"
    r = run("main.py", "--weights", str(weights), "--no-render", "--episodes", "1", "--env-kwargs", kwarg, cwd=tmp_path)
    assert_clean_error(r, *needles)


def test_checkpoint_with_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"kind": "checkpoint", "format_version": 1, "payload": os.system}, path)
    assert_clean_error(run("train.py", "--resume", str(path), cwd=tmp_path), "pickled", "weights_only")


def test_newer_format_and_other_network_shapes_are_refused(trained, tmp_path):
    ckpt = only_run(trained, "Pendulum-v1") / "checkpoint.pt"
    state = torch.load(ckpt, weights_only=True)
    state["format_version"] = 99
    torch.save(state, tmp_path / "future.pt")
    assert_clean_error(run("train.py", "--resume", str(tmp_path / "future.pt"), cwd=tmp_path), "format version 99")
    before = snapshot(trained)
    assert_clean_error(run("train.py", "--resume", str(ckpt), "--preset", "paper", cwd=tmp_path), "--preset")
    assert_clean_error(run("train.py", "--resume", str(ckpt), "--hidden-sizes", "64", "64", cwd=tmp_path),
                       "--hidden-sizes")
    assert_clean_error(run("train.py", "--resume", str(ckpt), "--env", "HalfCheetah-v5", cwd=tmp_path),
                       "Pendulum-v1", "HalfCheetah-v5")
    assert snapshot(trained) == before


def test_help_lists_every_hyperparameter_with_default():
    r = run("train.py", "--help", cwd=ROOT)
    assert r.returncode == 0
    for flag in ("--env", "--total-steps", "--seed", "--device", "--learning-starts", "--preset", "--batch-size",
                 "--hidden-sizes", "--tau", "--gamma", "--models-dir", "--runs-dir", "--resume", "--actor-lr",
                 "--critic-lr", "--noise-sigma", "--ou-theta", "--ou-dt"):
        assert flag in r.stdout
    assert "[default: 0.005; paper preset: 0.001]" in " ".join(r.stdout.split())
    for script in ("train.py", "sweep.py"):  # both say where the per-env settings live
        r = run(script, "--help", cwd=ROOT)
        assert r.returncode == 0 and "Per-env settings" in r.stdout and "ddpg/env_settings.toml" in r.stdout, r.stdout


def test_ctrl_c_finishes_the_episode_saves_and_exits_cleanly(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), "--env", "Pendulum-v1", "--total-steps",
                             "1000000", *TINY], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    runs = tmp_path / "runs"
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until it is training (its first episode has ended)
        csvs = list(runs.glob("*/*/metrics.csv"))
        if csvs and "episodic_return" in csvs[0].read_text():
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "Ctrl-C: finishing this episode" in err and "Traceback" not in err
    state = torch.load(only_run(tmp_path, "Pendulum-v1") / "checkpoint.pt", weights_only=True)
    assert state["step"] % 200 == 0 and state["step"] > 0  # saved at an episode boundary
    assert f"done: {state['step']} steps" in out


def test_an_env_argument_that_fails_mid_episode_without_rendering_is_one_line(tmp_path, monkeypatch, capsys):
    # --no-render: errors of the kinds a renderer raises are not rendering errors there, but still the
    # user's --env-kwargs at work
    import main
    from ddpg import evaluate

    def run_episodes(*args, **kwargs):
        raise RuntimeError("")  # an empty message, too
    monkeypatch.setattr(evaluate, "run_episodes", run_episodes)
    rc = main.main(["--env", "Rocket-v0", "--weights", str(ROOT / "models" / "Rocket-v0" / "actor.pt"),
                    "--no-render", "--env-kwargs", "thrust_noise=0.2"])
    err = capsys.readouterr().err
    assert rc == 2 and err == ("error: Rocket-v0 failed mid-episode with --env-kwargs thrust_noise=0.2 "
                               "(RuntimeError: RuntimeError)\n"), err


def test_a_video_writer_that_cannot_start_leaves_no_file(tmp_path, monkeypatch):
    from ddpg import video

    def no_ffmpeg(*args, **kwargs):
        raise RuntimeError("no ffmpeg here")

    monkeypatch.setattr(video.imageio, "get_writer", no_ffmpeg)
    with pytest.raises(RuntimeError, match="no ffmpeg here"):
        video.VideoWriter(tmp_path / "new" / "dir" / "v.mp4", 30)
    assert list(tmp_path.iterdir()) == []  # the writability probe's .partial.mp4 is gone, and its folders


def test_a_video_ffmpeg_cannot_encode_is_one_line_and_keeps_the_video_there(tmp_path, capfd):
    from ddpg import video
    (tmp_path / "v.mp4").write_text("an earlier video")
    with pytest.raises(DDPGError, match=r"^cannot write video .*v\.mp4: ffmpeg failed: invalid width x height"):
        with video.VideoWriter(tmp_path / "v.mp4", 30) as v:
            v.append(np.zeros((2, 20000, 3), np.uint8))  # too wide for H.264
    assert capfd.readouterr().err == ""  # not ffmpeg's own dozen lines
    assert [p.name for p in tmp_path.iterdir()] == ["v.mp4"] and (tmp_path / "v.mp4").read_text() == "an earlier video"


def test_a_video_of_odd_size_is_padded_to_even_not_refused(tmp_path):
    from ddpg import video
    with video.VideoWriter(tmp_path / "v.mp4", 30) as v:  # H.264 needs even sizes: ffmpeg would refuse 5x3
        for _ in range(2):
            v.append(np.zeros((3, 5, 3), np.uint8))
    frames = imageio.mimread(tmp_path / "v.mp4")
    assert len(frames) == 2 and frames[0].shape == (4, 6, 3)


def test_help_shows_defaults_but_not_where_there_is_none():
    import main
    text = " ".join(main.build_parser().format_help().split())  # argparse wraps to the terminal's width
    assert "deterministic episodes to run (default: 3)" in text
    assert "(default when headless: videos/<env>.mp4) --no-render" in text  # no "(default: None)" after it
    assert "default: None" not in text and "default: False" not in text and "default: []" not in text
