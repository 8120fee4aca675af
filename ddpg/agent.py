"""The DDPG agent: acting, the update of Algorithm 1 (Lillicrap et al. 2015), and its full state."""
from __future__ import annotations

import contextlib
import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ddpg.buffer import Batch
from ddpg.config import Config
from ddpg.networks import Actor, Critic

Metrics = dict[str, torch.Tensor]  # what one update returns: detached scalars on the device

# --matmul-precision: the dtype the update's matrix products take their inputs in; they accumulate in fp32.
MATMUL_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


@torch.no_grad()
def soft_update(source: Sequence[torch.Tensor], target: Sequence[torch.Tensor], tau: float) -> None:
    """θ' ← τθ + (1 - τ)θ', in place, for each target tensor and its source.

    τ is the mixing rate (the paper's 0.001), not Polyak's ρ = 1 - τ. `lerp` computes this in one
    fused op per tensor list and is exact at the ends: τ = 0 keeps θ', τ = 1 copies θ.
    """
    if len(source) != len(target):
        raise ValueError(f"source has {len(source)} parameter tensors, target {len(target)}")
    torch._foreach_lerp_(list(target), list(source), tau)


class DDPGAgent:
    """Actor μ, critic Q, their targets μ', Q', and one Adam optimiser each."""

    def __init__(self, obs_dim: int, action_low: np.ndarray, action_high: np.ndarray, cfg: Config,
                 device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.gamma, self.tau, self.reward_scale = cfg.gamma, cfg.tau, cfg.reward_scale
        self.matmul_dtype = MATMUL_DTYPES[cfg.matmul_precision]  # this run's choice, like `capturable` below
        low = torch.as_tensor(action_low, dtype=torch.float32)
        high = torch.as_tensor(action_high, dtype=torch.float32)
        self.actor = Actor(obs_dim, low, high, cfg.hidden_sizes, cfg.paper_init, cfg.obs_norm).to(self.device)
        self.critic = Critic(obs_dim, low.numel(), cfg.hidden_sizes, cfg.critic_action_layer,
                             cfg.paper_init).to(self.device)
        # Targets start as exact copies (Algorithm 1); only soft_update (and loading a saved state) changes them.
        self.actor_target = copy.deepcopy(self.actor).requires_grad_(False)
        self.actor_target.obs_norm = None  # its inputs come normalised by the online actor's statistics
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        # (online, target) parameter lists for the soft updates, listed once: walking the modules costs ~12 µs a pair
        self.soft_pairs = [(list(self.critic.parameters()), list(self.critic_target.parameters())),
                           (list(self.actor.parameters()), list(self.actor_target.parameters()))]
        # The fused Adam kernel: one pass over all parameters (CPU and CUDA), measured ~10% faster here.
        # `capturable` keeps its step counts on the device, which CUDA graph replay needs.
        adam = {"fused": True, "capturable": cfg.cudagraphs}
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.actor_lr, **adam)
        # The paper's L2 penalty on Q, as Adam's coupled weight_decay: it reaches every critic parameter,
        # biases and the output layer too (the paper does not say which it penalised).
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.critic_lr,
                                           weight_decay=cfg.critic_weight_decay, **adam)

    @torch.no_grad()
    def act(self, obs: np.ndarray) -> np.ndarray:
        """μ(s) for one observation, in env units, without noise."""
        return self.actor.act(obs)

    def observe(self, obs: np.ndarray) -> None:
        """Count a training observation in the --obs-norm statistics (evaluation episodes are not counted)."""
        if self.actor.obs_norm is not None:
            self.actor.obs_norm.observe(torch.as_tensor(obs, device=self.device))

    def update(self, batch: Batch) -> Metrics:
        """One step of Algorithm 1 on a minibatch. Returns detached device tensors (no host sync)."""
        obs, action, reward, next_obs, terminated = batch
        obs, next_obs = self.actor.normalize(obs), self.actor.normalize(next_obs)  # no-ops without --obs-norm

        # Target y = c·r + γ(1 - terminated)·Q'(s', μ'(s')), c = --reward-scale (1 in the paper).
        # Time-limit cuts have terminated = 0: they bootstrap.
        with torch.no_grad():
            with self.products():
                next_q = self.critic_target(next_obs, self.actor_target(next_obs))
            y = self.reward_scale * reward + self.gamma * (1.0 - terminated) * next_q

        # Critic: minimise L = mean (y - Q(s, a))²
        with self.products():
            q = self.critic(obs, action)
        critic_loss = F.mse_loss(q, y)
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_opt.step()

        # Actor: follow ∇_a Q(s, a)|_{a=μ(s)} ∇_θ μ(s), i.e. minimise -Q(s, μ(s)).mean().
        # `inputs=` limits backward to the actor's weights: it computes no critic weight gradients.
        with self.products():
            actor_loss = -self.critic(obs, self.actor(obs)).mean()
        self.actor_opt.zero_grad(set_to_none=True)
        actor_loss.backward(inputs=list(self.actor.parameters()))
        self.actor_opt.step()

        self.soft_update_targets()
        return {"critic_loss": critic_loss.detach(), "actor_loss": actor_loss.detach(), "q": q.detach().mean()}

    def products(self) -> contextlib.AbstractContextManager:
        """Where the update's forward passes run: under bf16 autocast with --matmul-precision bf16.

        Autocast gives each hidden layer bf16 copies of its weights and input, and the product
        accumulates in fp32; the output layers stay fp32 (`networks._output_layer`), so Q, y, the
        TD error and the losses are fp32. Backward runs outside, in each forward op's dtype, and
        hands Adam fp32 gradients of the fp32 weights.
        """
        if self.matmul_dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.matmul_dtype)

    def soft_update_targets(self) -> None:
        """θ' ← τθ + (1 - τ)θ' for the critic's target, then the actor's."""
        for online, target in self.soft_pairs:
            soft_update(online, target, self.tau)

    def state_dict(self) -> dict[str, Any]:
        return {"actor": self.actor.state_dict(), "critic": self.critic.state_dict(),
                "actor_target": self.actor_target.state_dict(), "critic_target": self.critic_target.state_dict(),
                "actor_opt": self.actor_opt.state_dict(), "critic_opt": self.critic_opt.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.actor_target.load_state_dict(state["actor_target"])
        self.critic_target.load_state_dict(state["critic_target"])
        for opt, key in ((self.actor_opt, "actor_opt"), (self.critic_opt, "critic_opt")):
            # Loading replaces the param groups' flags too; `capturable` is this run's choice
            # (--cudagraphs), which a resumed run may change, so it is kept, not loaded.
            capturable = opt.param_groups[0]["capturable"]
            opt.load_state_dict(state[key])
            for group in opt.param_groups:
                group["capturable"] = capturable
