"""mp4 output through imageio-ffmpeg, written to a temporary name and renamed when complete."""
from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

import imageio.v2 as imageio
import numpy as np

from ddpg.errors import DDPGError


class VideoWriter:
    """Streams RGB frames to an H.264 mp4; the file appears at `path` only once it is whole."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path = Path(path)
        self.tmp = self.path.with_name(self.path.stem + ".partial" + self.path.suffix)
        self.frames = 0
        if self.path.is_dir():
            raise DDPGError(f"cannot write video {self.path}: it is a folder")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.tmp.open("wb").close()  # ffmpeg would only fail at the first frame, in many lines of its own
        except OSError as e:
            raise DDPGError(f"cannot write video {self.path}: {e}") from None
        try:
            # macro_block_size=1 keeps odd frame sizes as they are instead of resizing with a warning.
            self._writer = imageio.get_writer(self.tmp, fps=fps, codec="libx264", quality=7,
                                              macro_block_size=1, ffmpeg_log_level="error")
        except BaseException as e:
            self.tmp.unlink(missing_ok=True)
            if isinstance(e, OSError):
                raise DDPGError(f"cannot write video {self.path}: {e}") from None
            raise

    def append(self, frame: np.ndarray) -> None:
        self._writer.append_data(frame)
        self.frames += 1

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._writer.close()
        if exc_type is None:
            try:
                os.replace(self.tmp, self.path)
                return
            except OSError as e:  # e.g. a folder made at that path while the episodes ran
                self.tmp.unlink(missing_ok=True)
                raise DDPGError(f"cannot write video {self.path}: {e.strerror or e}") from None
        self.tmp.unlink(missing_ok=True)
