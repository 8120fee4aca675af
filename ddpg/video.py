"""mp4 output through imageio-ffmpeg, written to a temporary name and renamed when complete."""
from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO

import imageio.v2 as imageio
import numpy as np

from ddpg.errors import DDPGError

# H.264 in yuv420p needs even sizes: pad an odd width or height by one pixel.
EVEN_SIZE = ["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"]


@contextlib.contextmanager
def stderr_to(file: IO[bytes]) -> Iterator[None]:
    """Point file descriptor 2 at `file` meanwhile: a process started then keeps it as its stderr."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        os.dup2(file.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class VideoWriter:
    """Streams RGB frames to an H.264 mp4; the file appears at `path` only once it is whole."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path = Path(path)
        self.tmp = self.path.with_name(self.path.stem + ".partial" + self.path.suffix)
        self.frames = 0
        self._log: IO[bytes] | None = None  # ffmpeg's stderr, from the first frame on
        if self.path.is_dir():
            raise DDPGError(f"cannot write video {self.path}: it is a folder")
        # The folders this writer makes, deepest first: a video that is not kept takes them with it.
        self._made = [d for d in [self.path.parent, *self.path.parent.parents] if not d.exists()]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.tmp.open("wb").close()  # ffmpeg would only fail at the first frame, in many lines of its own
        except OSError as e:
            self._clean_up()
            raise DDPGError(f"cannot write video {self.path}: {e}") from None
        try:
            # macro_block_size=1: no resizing (with a warning) to multiples of 16; EVEN_SIZE pads instead.
            self._writer = imageio.get_writer(self.tmp, fps=fps, codec="libx264", quality=7,
                                              macro_block_size=1, ffmpeg_log_level="error",
                                              output_params=list(EVEN_SIZE))
        except BaseException as e:
            self._clean_up()
            if isinstance(e, OSError):
                raise DDPGError(f"cannot write video {self.path}: {e}") from None
            raise

    def append(self, frame: np.ndarray) -> None:
        if self.frames == 0:
            if not np.size(frame):  # e.g. --env-kwargs width=0: ffmpeg would fail in lines of its own
                raise DDPGError(f"cannot write video {self.path}: the env draws empty frames (shape "
                                f"{np.shape(frame)}); give it a width and height of at least 1")
            # ffmpeg starts with the first frame; its error lines go to a log, to end as one line of ours
            # (opened to append: ffmpeg's lines land at its end whatever our reads did to the offset).
            self._log = tempfile.TemporaryFile("a+b")
            with stderr_to(self._log):
                self._write(frame)
        else:
            self._write(frame)
        self.frames += 1

    def _write(self, frame: np.ndarray) -> None:
        try:
            self._writer.append_data(frame)
        except OSError:  # ffmpeg quit, e.g. on a full disk
            raise self._failed() from None

    def _ffmpeg_said(self) -> str:
        """ffmpeg's first error line, less its `[libx264 @ 0x55...]` prefix; empty while it said nothing."""
        if self._log is None:
            return ""
        self._log.seek(0)
        lines = self._log.read().decode(errors="replace").strip().splitlines()
        return re.sub(r"^\[[^]]*\] ", "", lines[0]) if lines else ""

    def _failed(self) -> DDPGError:
        return DDPGError(f"cannot write video {self.path}: ffmpeg failed: "
                         f"{self._ffmpeg_said() or 'it wrote no video'}")

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        kept = False
        try:
            self._writer.close()  # waits for ffmpeg to finish the file
            if exc_type is None:
                self._keep()
                kept = True
        finally:
            if self._log is not None:
                self._log.close()
            if not kept:
                self._clean_up()

    def _clean_up(self) -> None:
        """Remove the partial file and the folders made for it, where nothing else has been put in them."""
        with contextlib.suppress(OSError):  # e.g. a file where its folder should be: the error said so already
            self.tmp.unlink(missing_ok=True)
        for d in self._made:
            try:
                d.rmdir()
            except OSError:  # not empty, or already gone
                break

    def _keep(self) -> None:
        """Rename the video into place, unless ffmpeg failed: then `path` keeps what it held."""
        try:
            if not self.tmp.stat().st_size:  # ffmpeg's log is only for the message: other lines may land there
                raise self._failed()
            os.replace(self.tmp, self.path)
        except OSError as e:  # e.g. a folder made at that path while the episodes ran
            raise DDPGError(f"cannot write video {self.path}: {e.strerror or e}") from None
