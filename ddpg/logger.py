"""TensorBoard plus a CSV beside it, both resumable from a step without gaps or duplicates."""
from __future__ import annotations

import csv
import io
import secrets
import time
from pathlib import Path
from typing import Any

from torch.utils.tensorboard import SummaryWriter

from ddpg.checkpoint import atomic_write_text
from ddpg.errors import DDPGError, first_line

CSV_FILE = "metrics.csv"
HEADER = ["step", "tag", "value"]  # long format: one scalar per row
CHECKPOINT_TAG = "run/checkpoint"  # a CSV row per checkpoint saved: how far this folder's run has got
RUN_ID_TAG = "run/id"  # the CSV's first row: which run's logs these are (its checkpoints carry the same id)


def timestamp() -> str:
    """The local start time that default run and sweep names carry, sortable as text."""
    return time.strftime("%Y%m%d-%H%M%S")


def new_run_id() -> int:
    """A random id below 2**53, so that a CSV reader's float64 keeps it exact."""
    return secrets.randbelow(2**53)


def log_files(run_dir: Path) -> list[Path]:
    """The files a run's logs are: the CSV and TensorBoard's event files."""
    run_dir = Path(run_dir)
    return [f for f in (run_dir / CSV_FILE, *sorted(run_dir.glob("events.out.tfevents.*"))) if f.is_file()]


class Logger:
    """Scalars to TensorBoard and to `<run_dir>/metrics.csv` (long format: step, tag, value).

    The logs go on from `step`, the checkpoint's: rows after it are dropped from the CSV and
    TensorBoard purges its events after it, so the curves continue as if the run had not stopped.
    Rows after the checkpoint are what a crash leaves; a later checkpoint row means the folder belongs
    to a run that got further (this checkpoint is an older copy), and is refused rather than cut.
    A folder whose run id is not this run's holds another run's logs, and is refused too.
    """

    def __init__(self, run_dir: Path, config: dict[str, Any], step: int, run_id: int | None) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.csv_path = self.run_dir / CSV_FILE
        if self.csv_path.exists() and self.csv_path.stat().st_size == 0:
            self.csv_path.unlink()  # created, then killed before its header was flushed: no log at all
        new = step == 0 or not self.csv_path.exists()
        if not new:
            self._truncate_csv(step, run_id)  # first: it may refuse the folder
        try:  # "x": of two runs started at once into one log folder, the second is refused
            self._file = open(self.csv_path, "x" if new else "a", newline="")
        except FileExistsError:
            raise DDPGError(f"{self.run_dir} already holds a run's logs ({CSV_FILE}); choose another --run-name") \
                from None
        self.writer = SummaryWriter(str(self.run_dir), purge_step=step + 1)
        self._csv = csv.writer(self._file)
        if new:
            self._csv.writerow(HEADER)
            if run_id is not None:
                self._csv.writerow([step, RUN_ID_TAG, run_id])
            self._file.flush()
            rows = "\n".join(f"|{k}|{v}|" for k, v in config.items())
            self.writer.add_text("hyperparameters", f"|param|value|\n|-|-|\n{rows}", 0)

    def _truncate_csv(self, step: int, run_id: int | None) -> None:
        try:
            with open(self.csv_path, newline="") as f:
                rows = list(csv.reader(f))
        except (UnicodeDecodeError, csv.Error) as e:
            raise DDPGError(f"{self.csv_path} is damaged ({first_line(e)[:80]}); restore it, or go on from this "
                            f"checkpoint as a new run with --resume <this checkpoint> --run-name NEW") from None
        if rows[:1] != [HEADER]:  # cutting a file this code did not write would lose its rows
            raise DDPGError(f"{self.csv_path} is not a log this repo wrote (its header is {rows[0] if rows else []}); "
                            f"give --runs-dir the folder that holds this run's logs, or go on from this "
                            f"checkpoint as a new run with --resume <this checkpoint> --run-name NEW")
        theirs = next((r[2] for r in rows[1:] if len(r) == 3 and r[1] == RUN_ID_TAG), None)
        if run_id is not None and theirs is not None and theirs != str(run_id):  # logs from before ids: no check
            raise DDPGError(f"the logs in {self.run_dir} are another run's (run id {theirs}, this checkpoint's is "
                            f"{run_id}): give --runs-dir the folder that holds this run's logs, or go on "
                            f"from this checkpoint as a new run with --resume <this checkpoint> --run-name NEW")
        reached = max((int(r[0]) for r in rows[1:] if len(r) == 3 and r[1] == CHECKPOINT_TAG and r[0].isdigit()),
                      default=0)
        if reached > step:
            raise DDPGError(f"the logs in {self.run_dir} go on to a checkpoint at step {reached}, past this one's "
                            f"{step}: it is an older copy of that run. Resume the newest checkpoint, or go on "
                            f"from this one as a new run with --resume <this checkpoint> --run-name NEW")
        keep = [rows[0]] + [r for r in rows[1:] if len(r) == 3 and r[0].isdigit() and int(r[0]) <= step]
        text = io.StringIO(newline="")
        csv.writer(text).writerows(keep)
        atomic_write_text(self.csv_path, text.getvalue())

    def scalar(self, tag: str, value: float, step: int) -> None:
        self.writer.add_scalar(tag, value, step)
        self._csv.writerow([step, tag, f"{value:.6g}"])

    def checkpoint(self, step: int) -> None:
        """Mark, after a checkpoint is on disk, that this folder's run reached it."""
        self._csv.writerow([step, CHECKPOINT_TAG, step])
        self._file.flush()

    def hparams(self, config: dict[str, Any], metrics: dict[str, float]) -> None:
        """The run's settings and results for TensorBoard's HPARAMS tab (one row per run)."""
        flat = {k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in config.items()}
        self.writer.add_hparams(flat, metrics, run_name=".")

    def flush(self) -> None:
        self.writer.flush()
        self._file.flush()

    def close(self) -> None:
        self.writer.close()
        self._file.close()
