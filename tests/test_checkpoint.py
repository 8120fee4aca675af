"""Crash safety of checkpoint writes: kill -9 mid-save, a full disk."""
import errno
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import ROOT
from ddpg import checkpoint as ckpt_io
from ddpg.config import Config
from ddpg.errors import DDPGError


def good(path, value):
    """A loadable checkpoint file: the keys a checkpoint needs (values beside the point here) and a marker x."""
    ckpt_io.atomic_save({**dict.fromkeys(ckpt_io.REQUIRED_KEYS["checkpoint"], 0), "kind": "checkpoint",
                         "format_version": ckpt_io.FORMAT_VERSION, "config": Config().to_dict(),
                         "x": torch.tensor(value)}, path)


def test_kill_9_mid_save_leaves_the_previous_checkpoint_loadable(tmp_path):
    path = tmp_path / "checkpoint.pt"
    good(path, 1.0)
    writer = (f"import sys, torch; sys.path.insert(0, {str(ROOT)!r}); from ddpg import checkpoint as c; "
              f"c.atomic_save({{'kind': 'checkpoint', 'format_version': 1, 'x': torch.ones(400_000_000 // 4)}}, "
              f"c.Path({str(path)!r}))")
    proc = subprocess.Popen([sys.executable, "-c", writer])
    tmp = tmp_path / "checkpoint.pt.tmp"
    deadline = time.time() + 60
    while not (tmp.exists() and tmp.stat().st_size > 1_000_000) and time.time() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "the writer finished before it could be killed mid-save"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert tmp.exists()  # it really died mid-write
    assert ckpt_io.load(path, "checkpoint")["x"].item() == 1.0
    good(path, 2.0)  # the next save replaces the stale temporary file
    assert ckpt_io.load(path, "checkpoint")["x"].item() == 2.0 and not tmp.exists()


def test_full_disk_keeps_previous_checkpoint_and_names_the_path(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    good(path, 1.0)
    before = path.read_bytes()

    def full_disk(obj, f):
        f.write(b"partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(ckpt_io.torch, "save", full_disk)
    with pytest.raises(DDPGError, match=rf"could not write {path}: No space left on device"):
        good(path, 2.0)
    monkeypatch.undo()
    assert path.read_bytes() == before and not (tmp_path / "checkpoint.pt.tmp").exists()


def test_unwritable_directory_names_the_path(tmp_path):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("a file where the models directory should be")
    with pytest.raises(DDPGError, match="could not write .*not_a_dir/Pendulum-v1/checkpoint.pt"):
        good(blocker / "Pendulum-v1" / "checkpoint.pt", 1.0)


def test_text_files_are_written_the_same_durable_way(tmp_path, monkeypatch):
    # Tables, results JSON and the trimmed metrics.csv go through the checkpoints' own replace: fsync of the
    # file and of its folder, and on a failure the old file with no temporary beside it.
    path = tmp_path / "metrics.csv"
    ckpt_io.atomic_write_text(path, "step,tag,value\r\n0,run/id,7\r\n")
    assert path.read_bytes() == b"step,tag,value\r\n0,run/id,7\r\n"  # line ends kept as given
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(ckpt_io.os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    ckpt_io.atomic_write_text(path, "step,tag,value\n")
    assert len(synced) == 2 and path.read_text() == "step,tag,value\n"

    def full_disk(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(ckpt_io.os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left"):
        ckpt_io.atomic_write_text(path, "a new table")
    assert path.read_text() == "step,tag,value\n" and not (tmp_path / "metrics.csv.tmp").exists()
