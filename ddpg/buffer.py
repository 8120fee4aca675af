"""Replay buffer: one preallocated tensor on the training device, written in place as a ring."""
from __future__ import annotations

import hashlib
import os
from typing import Any, NamedTuple

import numpy as np
import torch

from ddpg.errors import DDPGError, first_line


STAGING_ROWS = 64  # CUDA only: pinned host rows that transitions pass through on their way to the GPU


class Batch(NamedTuple):
    obs: torch.Tensor         # (B, obs_dim)
    action: torch.Tensor      # (B, action_dim), in env units
    reward: torch.Tensor      # (B,)
    next_obs: torch.Tensor    # (B, obs_dim)
    terminated: torch.Tensor  # (B,) 1.0 where s' is a real terminal; 0.0 on time-limit cuts


class ReplayBuffer:
    """Transitions (s, a, r, s', terminated) as rows of one float32 tensor.

    Packing each transition into one row means adding it is one copy (one host-to-device copy on
    CUDA) and sampling is one gather. Indices are drawn on the device from the buffer's own
    generator, so sampling never syncs with the host and is reproducible from its state (see
    `load_state_dict` for a state saved on another device type).
    """

    @staticmethod
    def _allocate(capacity: int, width: int, device: torch.device) -> torch.Tensor:
        """The storage, or a one-line error where it can never fit: more than the machine's RAM, whose
        zero-filling would get the process killed. (Memory that other processes hold is not counted.)"""
        gb = capacity * width * 4 / 1e9
        ram = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else None
        fail = f"--buffer-size {capacity}: the replay buffer would take {gb:.1f} GB"
        if device.type == "cpu" and ram and capacity * width * 4 > ram:
            raise DDPGError(f"{fail}, more than this machine's {ram / 1e9:.1f} GB of memory")
        try:
            return torch.zeros(capacity, width, dtype=torch.float32, device=device)
        except RuntimeError as e:  # torch.OutOfMemoryError on CUDA is one
            raise DDPGError(f"{fail}, which could not be allocated ({first_line(e)[:120]})") from None

    def __init__(self, capacity: int, obs_dim: int, action_dim: int, device: torch.device,
                 seed: int = 0) -> None:
        self.capacity = capacity
        self.device = torch.device(device)
        o, a = obs_dim, action_dim
        # Column layout of a row: [obs | action | reward | next_obs | terminated]
        self.cols = {"obs": slice(0, o), "action": slice(o, o + a), "reward": slice(o + a, o + a + 1),
                     "next_obs": slice(o + a + 1, 2 * o + a + 1), "terminated": slice(2 * o + a + 1, 2 * o + a + 2)}
        self.width = 2 * o + a + 2
        self.storage = self._allocate(capacity, self.width, self.device)
        self.pos = 0   # next row to write
        self.size = 0  # rows filled
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)
        # CPU: write straight through a numpy view of the storage. CUDA: fill a pinned staging row and
        # copy it without blocking; a ring of rows lets the copies trail the host by many steps.
        self._staging = None
        if self.device.type == "cpu":
            self._host = self.storage.numpy()
        else:
            self._staging = torch.zeros(STAGING_ROWS, self.width, dtype=torch.float32).pin_memory()
            self._copied = [torch.cuda.Event() for _ in range(STAGING_ROWS)]
            self._host = self._staging.numpy()

    def add(self, obs: np.ndarray, action: np.ndarray, reward: float, next_obs: np.ndarray,
            terminated: bool) -> None:
        if self._staging is None:
            row = self._host[self.pos]
        else:
            slot = self.pos % STAGING_ROWS
            self._copied[slot].synchronize()  # this row's previous copy (STAGING_ROWS steps ago) is done
            row = self._host[slot]
        c = self.cols
        row[c["obs"]] = obs
        row[c["action"]] = action
        row[c["reward"]] = reward
        row[c["next_obs"]] = next_obs
        row[c["terminated"]] = float(terminated)
        if self._staging is not None:
            self.storage[self.pos].copy_(self._staging[slot], non_blocking=True)
            self._copied[slot].record()
        self.pos = (self.pos + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int) -> Batch:
        """A uniform minibatch, drawn with replacement; indices are drawn on the buffer's device."""
        return self.batch_at(self.sample_indices(batch_size))

    def sample_indices(self, batch_size: int, out: torch.Tensor | None = None) -> torch.Tensor:
        return torch.randint(0, self.size, (batch_size,), device=self.device, generator=self.generator, out=out)

    def batch_at(self, idx: torch.Tensor, rows: torch.Tensor | None = None) -> Batch:
        """The transitions at `idx`. Given `rows`, a (B, width) tensor, they are gathered into it and
        returned as views of it; otherwise as new contiguous tensors."""
        c = self.cols
        if rows is not None:
            torch.index_select(self.storage, 0, idx, out=rows)
            return Batch(rows[:, c["obs"]], rows[:, c["action"]], rows[:, c["reward"]].squeeze(-1),
                         rows[:, c["next_obs"]], rows[:, c["terminated"]].squeeze(-1))
        rows = self.storage[idx]
        # Contiguous copies of the column blocks: the matmuls downstream run faster on them.
        return Batch(*(rows[:, c[k]].contiguous() for k in ("obs", "action")),
                     rows[:, c["reward"]].squeeze(-1).contiguous(), rows[:, c["next_obs"]].contiguous(),
                     rows[:, c["terminated"]].squeeze(-1).contiguous())

    def state_dict(self) -> dict[str, Any]:
        """The filled rows, compacted losslessly, on the CPU, plus the ring position and sampling RNG.

        A transition's next observation is almost always the next row's observation, so it is
        stored only where the bits differ (episode ends, the newest row); `terminated` is stored
        as bool. For HalfCheetah this is 25 floats and a byte per transition instead of 42 floats.
        """
        c, n = self.cols, self.size
        rows = self.storage[:n].cpu()
        next_obs = rows[:, c["next_obs"]]
        following = torch.roll(rows[:, c["obs"]], -1, dims=0)
        differs = (next_obs.view(torch.int32) != following.view(torch.int32)).any(dim=1)
        return {"obs_action_reward": rows[:, : c["reward"].stop].clone(), "next_obs_differs": differs,
                "next_obs": next_obs[differs].clone(), "terminated": rows[:, c["terminated"].start] != 0,
                "pos": self.pos, "size": n, "capacity": self.capacity, "width": self.width,
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["capacity"] != self.capacity or state["width"] != self.width:
            raise ValueError(f"buffer shape mismatch: saved {state['capacity']} x {state['width']}, "
                             f"expected {self.capacity} x {self.width}")
        c, n = self.cols, int(state["size"])
        rows = torch.empty(n, self.width, dtype=torch.float32)
        front = state["obs_action_reward"]
        rows[:, : c["reward"].stop] = front
        next_obs = torch.roll(front[:, c["obs"]], -1, dims=0)
        next_obs[state["next_obs_differs"]] = state["next_obs"]
        rows[:, c["next_obs"]] = next_obs
        rows[:, c["terminated"].start] = state["terminated"].float()
        self.storage[:n].copy_(rows)
        self.pos, self.size = int(state["pos"]), n
        self._restore_generator(state["generator"])

    def _restore_generator(self, saved: torch.Tensor) -> None:
        """Continue the saved sampling stream, or, for a state from another device type, start a new one.

        A CPU generator's state (Mersenne Twister, 5056 bytes) and a CUDA one's (Philox seed and
        offset, 16 bytes) cannot be loaded into each other, and no mapping between the two streams
        exists. A resume on another device type cannot repeat the original run anyway (its float
        results differ), so the new stream is seeded from a hash of the saved state: resuming the
        same checkpoint twice samples the same, and each checkpoint of a run gets its own stream.
        """
        if saved.numel() == self.generator.get_state().numel():  # same kind of generator
            self.generator.set_state(saved)
            return
        digest = hashlib.blake2b(saved.numpy().tobytes(), digest_size=8).digest()
        self.generator.manual_seed(int.from_bytes(digest, "little"))
