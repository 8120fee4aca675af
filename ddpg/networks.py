"""Actor μ(s) and critic Q(s, a) (Lillicrap et al. 2015, §7)."""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

# The paper initialises the final layers from U[-3e-3, 3e-3] so initial outputs are near zero.
FINAL_INIT = 3e-3


def _paper_init(layers: Sequence[nn.Linear]) -> None:
    """Hidden layers U[±1/sqrt(fan_in)], final layer U[±3e-3] (paper §7).

    The hidden-layer rule is also nn.Linear's default (kaiming_uniform_ with a=√5 gives the same
    bound), so only the final layers differ from a default-initialised network.
    """
    for layer in layers[:-1]:
        bound = 1.0 / math.sqrt(layer.in_features)
        nn.init.uniform_(layer.weight, -bound, bound)
        nn.init.uniform_(layer.bias, -bound, bound)
    nn.init.uniform_(layers[-1].weight, -FINAL_INIT, FINAL_INIT)
    nn.init.uniform_(layers[-1].bias, -FINAL_INIT, FINAL_INIT)


def _output_layer(layer: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """The last layer, in fp32 even under the update's bf16 autocast (--matmul-precision bf16).

    Q feeds the TD error, and bf16 keeps 8 significant bits: a Q of 760 would come out as a
    multiple of 4. The critic's last layer has one output and the actor's one per action
    dimension, so fp32 costs next to nothing there. `ddpg/manual_update.py` does the same.
    """
    if torch.is_autocast_enabled(x.device.type):
        with torch.autocast(x.device.type, enabled=False):
            return layer(x.float())
    return layer(x)


class ObsNorm(nn.Module):
    """Observations shifted by the running mean and divided by the running std of those seen in
    training, then clipped to ±CLIP (`--obs-norm`; SB3's VecNormalize does the same).

    The replay buffer keeps raw observations and every minibatch is normalised with the current
    statistics, so old and new transitions are always on one scale. The statistics are buffers of
    the online actor, so they are checkpointed and saved in actor.pt with the weights. They are
    float64 (Welford's update), as a float32 mean stops moving after about 10⁷ observations.
    """

    CLIP = 10.0  # VecNormalize's clip_obs
    EPS = 1e-8   # added to the variance: a dimension that never varied maps to 0, not NaN

    def __init__(self, obs_dim: int) -> None:
        super().__init__()
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("mean", torch.zeros(obs_dim, dtype=torch.float64))
        self.register_buffer("m2", torch.zeros(obs_dim, dtype=torch.float64))  # Σ (x - mean)², Welford
        # What normalising reads, in float32: derived from the three above after every change
        self.register_buffer("shift", torch.zeros(obs_dim), persistent=False)
        self.register_buffer("scale", torch.ones(obs_dim), persistent=False)
        self.register_load_state_dict_post_hook(lambda module, _: module._derive() if module.count > 0 else None)

    @torch.no_grad()
    def observe(self, obs: torch.Tensor) -> None:
        """Add one observation (obs_dim,) to the statistics."""
        x = obs.to(torch.float64)
        self.count += 1
        delta = x - self.mean
        self.mean += delta / self.count
        self.m2 += delta * (x - self.mean)
        self._derive()

    def _derive(self) -> None:
        """shift and scale from count > 0 observations (checked on loading only: `observe` reads no count
        back to the host, which on CUDA would sync every env step)."""
        self.shift.copy_(self.mean)
        self.scale.copy_(torch.rsqrt(self.m2 / self.count + self.EPS))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """(B, obs_dim) raw -> normalised and clipped to ±CLIP; before any observation, only the clip."""
        return torch.clamp((obs - self.shift) * self.scale, -self.CLIP, self.CLIP)

    @torch.no_grad()
    def normalize_(self, obs: torch.Tensor) -> None:
        """`forward` in place, for a view into the hand-written update's minibatch rows."""
        obs.sub_(self.shift).mul_(self.scale).clamp_(-self.CLIP, self.CLIP)


class Actor(nn.Module):
    """μ(s): an MLP with ReLU and a tanh output scaled to the env's action bounds [low, high].

    With `obs_norm`, the actor also owns the observation statistics (`ObsNorm`): `act` takes a raw
    env observation and normalises it, while `forward` and `pre_tanh` take normalised ones, as the
    update feeds them (the critic gets the same normalised batch).
    """

    def __init__(self, obs_dim: int, action_low: torch.Tensor, action_high: torch.Tensor,
                 hidden_sizes: Sequence[int], paper_init: bool = False, obs_norm: bool = False) -> None:
        super().__init__()
        sizes = [obs_dim, *hidden_sizes, action_low.numel()]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        # Buffers, not parameters: saved with the weights, never trained or soft-updated.
        self.register_buffer("action_scale", ((action_high - action_low) / 2).float())
        self.register_buffer("action_bias", ((action_high + action_low) / 2).float())
        self.obs_norm = ObsNorm(obs_dim) if obs_norm else None
        if paper_init:
            _paper_init(self.layers)

    def normalize(self, obs: torch.Tensor) -> torch.Tensor:
        """Raw observations as the networks take them: normalised with --obs-norm, else unchanged."""
        return obs if self.obs_norm is None else self.obs_norm(obs)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """(B, obs_dim) network inputs (see `normalize`) -> (B, action_dim), inside [low, high]."""
        return self.action_bias + self.action_scale * torch.tanh(self.pre_tanh(obs))

    def pre_tanh(self, obs: torch.Tensor) -> torch.Tensor:
        """The last layer's output, before the tanh squashes it (benchmarks/saturation.py reads it)."""
        x = obs
        last = len(self.layers) - 1  # (slicing a ModuleList builds a new one: slow on the per-step path)
        for i, layer in enumerate(self.layers):  # ReLU in place: Linear's backward does not need its output
            x = layer(x).relu_() if i < last else _output_layer(layer, x)
        return x

    @torch.no_grad()
    def act(self, obs: np.ndarray) -> np.ndarray:
        """μ(s) for one env observation, in env units: the deterministic policy that is evaluated and shown."""
        obs_t = torch.as_tensor(obs, dtype=torch.float32, device=self.action_scale.device).unsqueeze(0)
        return self(self.normalize(obs_t)).squeeze(0).cpu().numpy()


class Critic(nn.Module):
    """Q(s, a): an MLP with ReLU; the action joins at layer `action_layer` (the paper: the 2nd, i.e. 1)."""

    def __init__(self, obs_dim: int, action_dim: int, hidden_sizes: Sequence[int],
                 action_layer: int = 0, paper_init: bool = False) -> None:
        super().__init__()
        self.action_layer = action_layer
        ins = [obs_dim, *hidden_sizes]
        ins[action_layer] += action_dim
        outs = [*hidden_sizes, 1]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(ins, outs))
        if paper_init:
            _paper_init(self.layers)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """(B, obs_dim), (B, action_dim) -> (B,)."""
        x = obs
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            if i == self.action_layer:
                x = torch.cat([x, action], dim=-1)
            x = layer(x).relu_() if i < last else _output_layer(layer, x)
        return x.squeeze(-1)  # (B, 1) -> (B,) so it lines up with rewards; (B, B) broadcasting is a classic bug
