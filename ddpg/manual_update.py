"""`DDPGAgent.update` with the backward pass written out by hand, into buffers allocated once.

The maths is the same as the autograd update (tests/test_update_paths.py checks they agree to
float rounding). On a 2-core CPU autograd's bookkeeping, and fresh activation tensors that miss
the cache every step, cost about as much as the matrix products; here every tensor is allocated
once, so they stay warm.

For a layer z = x Wᵀ + b, with δ = ∂L/∂z over a batch:
    ∂L/∂W = δᵀ x,    ∂L/∂b = Σ_batch δ,    ∂L/∂x = δ W,
and through the ReLU h = max(z_prev, 0) feeding it: δ_prev = ∂L/∂h ⊙ [h > 0].
"""
from __future__ import annotations

import torch
from torch import nn

from ddpg.agent import DDPGAgent, Metrics
from ddpg.buffer import ReplayBuffer

# autograd's own kernels for the two nonlinearities, written into `grad_input`
_relu_backward = torch.ops.aten.threshold_backward.grad_input  # (g, h, 0): g ⊙ [h > 0]
_tanh_backward = torch.ops.aten.tanh_backward.grad_input       # (g, t):    g ⊙ (1 - t²)


def _weights(layers: nn.ModuleList) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(Wᵀ, b) per layer: views made once, which follow the parameters' in-place updates."""
    return [(layer.weight.t(), layer.bias) for layer in layers]


class _MLPTape:
    """The activations and gradients of one MLP's forward and backward pass, for a fixed batch size.

    `inputs[i]` is layer i's input. Layer i - 1 writes its ReLU output straight into the first
    columns of `inputs[i]`; a critic's action fills the last columns of the layer it joins.
    Backward writes the gradients into the layers' `.grad` tensors, which must already exist.
    """

    def __init__(self, layers: nn.ModuleList, batch_size: int, device: torch.device) -> None:
        self.inputs = [torch.zeros(batch_size, layer.in_features, device=device) for layer in layers]
        self.deltas = [torch.zeros(batch_size, layer.out_features, device=device) for layer in layers]
        # layer i's own output: the first columns of the next layer's input, or a buffer of its own for the last
        self.outputs = [nxt[:, : layer.out_features] for layer, nxt in zip(layers[:-1], self.inputs[1:])]
        self.outputs.append(torch.zeros(batch_size, layers[-1].out_features, device=device))
        self.grads = [(layer.weight.grad, layer.bias.grad) for layer in layers]
        # the columns of W that multiply the previous layer's output (all but a joining action's)
        self.w_prev = [None] + [layer.weight[:, : prev.out_features] for prev, layer in zip(layers[:-1], layers[1:])]

    def forward(self, weights: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        """Run the layers given by `weights` (these or their targets') on `inputs[0]`; ReLU between layers."""
        last = len(weights) - 1
        for i, (w_t, b) in enumerate(weights):
            out = torch.addmm(b, self.inputs[i], w_t, out=self.outputs[i])
            if i < last:
                out.relu_()
        return self.outputs[-1]

    def backward(self, lowest: int, weight_grads: bool) -> None:
        """Propagate `deltas[-1]` down to layer `lowest`; fill `.grad` of weights and biases if asked."""
        for i in range(len(self.inputs) - 1, lowest - 1, -1):
            delta = self.deltas[i]
            if weight_grads:
                w_grad, b_grad = self.grads[i]
                torch.mm(delta.t(), self.inputs[i], out=w_grad)  # ∂L/∂W = δᵀ x
                torch.sum(delta, 0, out=b_grad)                  # ∂L/∂b = Σ δ
            if i > lowest:  # ∂L/∂x = δ W into the previous layer's δ, then through its ReLU
                prev = self.deltas[i - 1]
                torch.mm(delta, self.w_prev[i], out=prev)
                _relu_backward(prev, self.outputs[i - 1], 0, grad_input=prev)


class _AdamStep:
    """`opt.step()` for the agent's fused Adam, without the Python around the kernel.

    torch.optim.Adam(fused=True) ends in the same two calls (torch/optim/adam.py, `_fused_adam`);
    on 2 CPU cores the bookkeeping around them cost about as much as the kernel. The state is the
    optimizer's own, so checkpoints and `opt.step()` stay interchangeable with this.
    """

    def __init__(self, opt: torch.optim.Adam) -> None:
        group = opt.param_groups[0]
        if len(opt.param_groups) != 1 or not group["fused"] or group["amsgrad"] or group["decoupled_weight_decay"]:
            raise ValueError("_AdamStep needs one param group of fused Adam without amsgrad")
        self.opt, self.group = opt, group
        self.tensors: tuple[list[torch.Tensor], ...] = ()

    def __call__(self) -> None:
        params = self.group["params"]
        state = self.opt.state.get(params[0])
        if state is None:  # the first step creates Adam's state
            self.opt.step()
            return
        if not self.tensors or self.tensors[-1][0] is not state["step"]:  # first use, or state loaded since
            states = [self.opt.state[p] for p in params]
            self.tensors = (params, [p.grad for p in params], [s["exp_avg"] for s in states],
                            [s["exp_avg_sq"] for s in states], [], [s["step"] for s in states])
        g = self.group
        torch._foreach_add_(self.tensors[-1], 1)
        torch._fused_adam_(*self.tensors, amsgrad=False, lr=g["lr"], beta1=g["betas"][0], beta2=g["betas"][1],
                           weight_decay=g["weight_decay"], eps=g["eps"], maximize=g["maximize"])


class ManualUpdate:
    """One DDPG update (the critic step, the actor step, both soft updates) without autograd.

    Build it after loading any saved state into the agent, like `CudaGraphUpdate`.
    """

    def __init__(self, agent: DDPGAgent, buffer: ReplayBuffer, batch_size: int) -> None:
        self.agent, self.buffer, self.batch_size = agent, buffer, batch_size
        dev = agent.device
        for p in (*agent.actor.parameters(), *agent.critic.parameters()):
            p.grad = torch.zeros_like(p)  # written in place by `backward`, read by Adam
        self.idx = torch.zeros(batch_size, dtype=torch.long, device=dev)
        self.rows = torch.zeros(batch_size, buffer.width, device=dev)  # the sampled transitions
        n_obs, n_act = buffer.cols["obs"].stop, buffer.cols["action"].stop - buffer.cols["action"].start
        self.actor = _MLPTape(agent.actor.layers, batch_size, dev)
        self.critic = _MLPTape(agent.critic.layers, batch_size, dev)
        k = agent.critic.action_layer
        self.critic_obs = self.critic.inputs[0][:, :n_obs]  # k = 0: obs and action share layer 0
        self.critic_action = self.critic.inputs[k][:, -n_act:]
        self.w_action = agent.critic.layers[k].weight[:, -n_act:]  # the columns of W_k that multiply a
        self.action_grad = torch.zeros(batch_size, n_act, device=dev)
        self.y = torch.zeros(batch_size, device=dev)
        self.mu, self.mu_target = _weights(agent.actor.layers), _weights(agent.actor_target.layers)
        self.q, self.q_target = _weights(agent.critic.layers), _weights(agent.critic_target.layers)
        self.critic_step, self.actor_step = _AdamStep(agent.critic_opt), _AdamStep(agent.actor_opt)

    def _actor_forward(self, weights: list[tuple[torch.Tensor, torch.Tensor]], obs: torch.Tensor) -> torch.Tensor:
        """μ(s) = bias + scale·tanh(u), written into the critic's action columns; returns tanh(u)."""
        actor = self.agent.actor
        self.actor.inputs[0].copy_(obs)
        t = self.actor.forward(weights).tanh_()
        torch.addcmul(actor.action_bias, t, actor.action_scale, out=self.critic_action)
        return t

    def _critic_forward(self, weights: list[tuple[torch.Tensor, torch.Tensor]], obs: torch.Tensor) -> torch.Tensor:
        """Q(s, a) for the action already in the critic's action columns; (B,)."""
        self.critic_obs.copy_(obs)
        return self.critic.forward(weights).view(-1)

    @torch.no_grad()
    def __call__(self) -> Metrics:
        ag, B = self.agent, self.batch_size
        b = self.buffer.batch_at(self.buffer.sample_indices(B, out=self.idx), rows=self.rows)

        # Target y = r + γ(1 - terminated)·Q'(s', μ'(s'))
        self._actor_forward(self.mu_target, b.next_obs)
        next_q = self._critic_forward(self.q_target, b.next_obs)
        y = torch.addcmul(b.reward, 1.0 - b.terminated, next_q, value=ag.gamma, out=self.y)

        # Critic: L = mean (Q(s, a) - y)², so δ_out = 2 (Q - y) / B
        self.critic_action.copy_(b.action)
        q = self._critic_forward(self.q, b.obs)
        err = torch.sub(q, y, out=self.critic.deltas[-1].view(-1))
        critic_loss, q_mean = err.square().mean(), q.mean()
        err.mul_(2.0 / B)
        self.critic.backward(lowest=0, weight_grads=True)
        self.critic_step()

        # Actor: L = -mean Q(s, μ(s)), so δ_out = -1/B. The chain rule runs through the (updated)
        # critic down to its input a, with no critic weight gradients, then through a = bias + scale·tanh(u).
        t = self._actor_forward(self.mu, b.obs)
        actor_loss = self._critic_forward(self.q, b.obs).mean().neg()
        self.critic.deltas[-1].fill_(-1.0 / B)
        k = ag.critic.action_layer
        self.critic.backward(lowest=k, weight_grads=False)
        torch.mm(self.critic.deltas[k], self.w_action, out=self.action_grad)  # ∂L/∂a = δ_k W_k[:, a]
        du = torch.mul(self.action_grad, ag.actor.action_scale, out=self.actor.deltas[-1])
        _tanh_backward(du, t, grad_input=du)  # ⊙ ∂tanh(u)/∂u = 1 - tanh²(u)
        self.actor.backward(lowest=0, weight_grads=True)
        self.actor_step()

        ag.soft_update_targets()
        return {"critic_loss": critic_loss, "actor_loss": actor_loss, "q": q_mean}
