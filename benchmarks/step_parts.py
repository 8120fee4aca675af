"""Where a learning step of train.py's loop spends its time (benchmarks/throughput.py --parts).

`with clocked(train, warmup, steps) as parts:` wraps the loop's parts in train.py's own namespace
(env.step, DDPGAgent.act, the noise draw, ReplayBuffer.add and the update) with clocks that run
over the `steps` learning steps after the first `warmup`, and puts train.py's names back after.
What the parts do not cover (np.clip, the finiteness checks, summing the losses, logging, the
loop itself) is reported as the rest. Each clock adds two perf_counter calls, about 0.1 µs, to
its part.
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any, Callable

PARTS = ("env step", "act", "noise", "buffer write", "update")
WRAPPED = ("make_env", "make_noise", "make_update", "DDPGAgent", "ReplayBuffer")  # train.py's names


class StepParts:
    def __init__(self, warmup: int, steps: int) -> None:
        self.warmup, self.steps = warmup, steps
        self.updates = 0
        self.on = False
        self.total = dict.fromkeys(PARTS, 0.0)
        self.calls = dict.fromkeys(PARTS, 0)  # within the window: each part once per step
        self.t0 = self.t1 = 0.0

    def clock(self, part: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*a: Any, **kw: Any) -> Any:
            if not self.on:
                return fn(*a, **kw)
            t = time.perf_counter()
            out = fn(*a, **kw)
            self.total[part] += time.perf_counter() - t
            self.calls[part] += 1
            return out
        return timed

    def update_clock(self, fn: Callable[[], Any]) -> Callable[[], Any]:
        """The update's clock also opens the window after `warmup` updates and closes it after `steps` more.

        An update ends each learning step, so the window runs from the end of one to the end of another.
        """
        timed = self.clock("update", fn)

        def update() -> Any:
            out = timed()
            self.updates += 1
            if self.updates == self.warmup:
                self.on, self.t0 = True, time.perf_counter()
            elif self.updates == self.warmup + self.steps:
                self.on, self.t1 = False, time.perf_counter()
            return out
        return update

    def per_step(self) -> dict[str, float]:
        """µs per learning step for each part, the rest of the loop, and the whole step."""
        if not self.t1:
            raise RuntimeError(f"the run made {self.updates} updates, fewer than {self.warmup + self.steps}")
        us = {k: v / self.steps * 1e6 for k, v in self.total.items()}
        whole = (self.t1 - self.t0) / self.steps * 1e6
        return {**us, "rest of the loop": whole - sum(us.values()), "whole step": whole}


@contextlib.contextmanager
def clocked(train: ModuleType, warmup: int, steps: int) -> Iterator[StepParts]:
    """Clocks on the parts of `train.train`'s loop while inside; read them after the run."""
    parts = StepParts(warmup, steps)
    saved = {name: getattr(train, name) for name in WRAPPED}
    make_env, make_noise, make_update = saved["make_env"], saved["make_noise"], saved["make_update"]
    agent_cls, buffer_cls = saved["DDPGAgent"], saved["ReplayBuffer"]
    made = []

    def timed_env(*a: Any, **kw: Any) -> Any:
        env = make_env(*a, **kw)
        if not made:  # the first env is the one trained on; the second evaluates
            env.step = parts.clock("env step", env.step)
        made.append(env)
        return env

    class Noise:
        def __init__(self, noise: Any) -> None:
            self.noise, self.draw = noise, parts.clock("noise", noise.__call__)

        def __call__(self) -> Any:
            return self.draw()

        def __getattr__(self, name: str) -> Any:  # reset, state_dict, load_state_dict
            return getattr(self.noise, name)

    class Agent(agent_cls):  # type: ignore[misc, valid-type]
        act = parts.clock("act", agent_cls.act)

    class Buffer(buffer_cls):  # type: ignore[misc, valid-type]
        add = parts.clock("buffer write", buffer_cls.add)

    def timed_update(*a: Any, **kw: Any) -> Any:
        update, name = make_update(*a, **kw)
        return parts.update_clock(update), name

    wrapped = {"make_env": timed_env, "make_noise": lambda *a, **kw: Noise(make_noise(*a, **kw)),
               "make_update": timed_update, "DDPGAgent": Agent, "ReplayBuffer": Buffer}
    try:
        for name, obj in wrapped.items():
            setattr(train, name, obj)
        yield parts
    finally:
        for name, obj in saved.items():
            setattr(train, name, obj)
