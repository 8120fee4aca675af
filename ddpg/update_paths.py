"""How one training update runs: the hand-written backward, or autograd run eagerly, `torch.compile`d,
or replayed as a single CUDA graph.

All four compute the update of `DDPGAgent.update` on a minibatch sampled on the device; they
differ only in how the gradients are found and how the kernels are launched.
"""
from __future__ import annotations

import shutil
from collections.abc import Callable

import torch

from ddpg.agent import DDPGAgent, Metrics
from ddpg.buffer import ReplayBuffer
from ddpg.config import Config
from ddpg.errors import DDPGError
from ddpg.manual_update import ManualUpdate


def check_cudagraphs(device: torch.device) -> None:
    """--cudagraphs captures CUDA work only."""
    if device.type != "cuda" or not torch.cuda.is_available():
        raise DDPGError(f"--cudagraphs needs a CUDA device, but this run is on {device}; drop "
                        f"--cudagraphs, or resume a --cudagraphs run with --no-cudagraphs (--compile works "
                        f"on the CPU)")


class CudaGraphUpdate:
    """The whole update (critic step, actor step, both soft updates) captured once as a CUDA graph.

    Indices are drawn on the GPU into a static tensor outside the graph (the buffer grows, so the
    range changes each step); the gather and everything after it are replayed from the graph.
    Adam must be `capturable` (see `DDPGAgent`). The first `WARMUP` updates run eagerly on a side
    stream, as CUDA graph capture requires.
    """

    WARMUP = 3

    def __init__(self, agent: DDPGAgent, buffer: ReplayBuffer, batch_size: int) -> None:
        check_cudagraphs(agent.device)
        if not agent.actor_opt.param_groups[0].get("capturable"):
            raise DDPGError("--cudagraphs needs capturable Adam: build the agent with cfg.cudagraphs=True")
        self.agent, self.buffer = agent, buffer
        self.idx = torch.zeros(batch_size, dtype=torch.long, device=agent.device)
        self.graph: torch.cuda.CUDAGraph | None = None
        self.out: Metrics = {}
        self.warm = 0

    def __call__(self) -> Metrics:
        self.buffer.sample_indices(self.idx.numel(), out=self.idx)
        if self.graph is None:
            if self.warm < self.WARMUP:
                self.warm += 1
                side = torch.cuda.Stream()
                side.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(side):
                    out = self.agent.update(self.buffer.batch_at(self.idx))
                torch.cuda.current_stream().wait_stream(side)
                return out
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):  # records; does not run
                self.out = self.agent.update(self.buffer.batch_at(self.idx))
        self.graph.replay()
        return self.out  # static tensors, overwritten by the next replay


def make_update(agent: DDPGAgent, buffer: ReplayBuffer, cfg: Config) -> tuple[Callable[[], Metrics], str]:
    """A no-argument function that samples a minibatch and runs one update, and the path's name."""
    update, name = _update_path(agent, buffer, cfg)
    if agent.matmul_dtype == torch.bfloat16:
        name += " (bf16 matrix products)"
    return update, name


def _update_path(agent: DDPGAgent, buffer: ReplayBuffer, cfg: Config) -> tuple[Callable[[], Metrics], str]:
    if cfg.backward == "manual" or (cfg.backward == "auto" and agent.device.type == "cpu"
                                    and not (cfg.compile or cfg.cudagraphs)):
        return ManualUpdate(agent, buffer, cfg.batch_size), "hand-written backward"
    if cfg.cudagraphs:
        return CudaGraphUpdate(agent, buffer, cfg.batch_size), "CUDA graph"
    if cfg.compile:
        if agent.device.type == "cpu" and not (shutil.which("c++") or shutil.which("g++")):
            return (lambda: agent.update(buffer.sample(cfg.batch_size))), \
                "eager autograd (--compile needs a C++ compiler on the CPU, and none was found)"
        compiled = torch.compile(agent.update)
        return (lambda: compiled(buffer.sample(cfg.batch_size))), "torch.compile"
    return (lambda: agent.update(buffer.sample(cfg.batch_size))), "eager autograd"
