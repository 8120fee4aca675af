"""`DDPGAgent.update` with the backward pass written out by hand, into buffers allocated once.

The maths is the same as the autograd update (tests/test_update_paths.py checks they agree to
float rounding). On a 2-core CPU autograd's bookkeeping, and fresh activation tensors that miss
the cache every step, cost about as much as the matrix products; here every tensor is allocated
once, so they stay warm.

For a layer z = x Wᵀ + b, with δ = ∂L/∂z over a batch:
    ∂L/∂W = δᵀ x,    ∂L/∂b = Σ_batch δ,    ∂L/∂x = δ W,
and through the ReLU h = max(z_prev, 0) feeding it: δ_prev = ∂L/∂h ⊙ [h > 0].

With --matmul-precision bf16 the hidden layers' x, W, b and δ are bf16, as autocast makes them in
`DDPGAgent.update`: each product accumulates in fp32 and rounds its result to bf16. The output
layers stay fp32 (as in `networks._output_layer`), so Q, y and the TD error are fp32. The bf16
W and b are copies of the fp32 parameters, refreshed after each change; the gradients ∂L/∂W and
∂L/∂b come out in bf16 and are copied into the fp32 `.grad` that Adam reads. The bf16 ReLU runs on
the bits as int16 (`as_bits`), with the same results.
"""
from __future__ import annotations

import torch
from torch import nn

from ddpg.agent import DDPGAgent, Metrics
from ddpg.buffer import ReplayBuffer

# autograd's own kernels for the two nonlinearities, written into `grad_input`
_relu_backward = torch.ops.aten.threshold_backward.grad_input  # (g, h, 0): g ⊙ [h > 0]
_tanh_backward = torch.ops.aten.tanh_backward.grad_input       # (g, t):    g ⊙ (1 - t²)


def as_bits(x: torch.Tensor) -> torch.Tensor:
    """A bf16 tensor as the int16 view its ReLU runs on (`relu_`); any other tensor as itself.

    torch's bf16 ReLU widens to fp32 and rounds back: on a 256x256 tensor it took 2.5-3x as long
    as an int16 op on the same bits (Intel Xeon, 1 thread). bf16's sign bit is int16's, so as
    int16 every negative bf16 from -0 to -inf is <= -128 (-inf is 0xFF80) and the negative NaNs
    are -127 to -1: `torch.threshold_(bits, -128, 0)` is ReLU, giving +0 for -0 and keeping NaNs.
    One difference: with subnormals flushed (train.py's `flush_denormals`), torch's ReLU also zeroes
    a positive subnormal and this keeps it; every op that reads the activation (the products, the
    fp32 output layer, torch's ReLU backward) then takes it as zero, so the results are the same.
    The ReLU backward stays torch's kernel: its mask follows the flush setting, which int16 cannot.
    """
    return x.view(torch.int16) if x.dtype == torch.bfloat16 else x


def relu_(bits: torch.Tensor) -> None:
    """max(x, 0) in place, given `as_bits(x)`."""
    if bits.dtype == torch.int16:
        torch.threshold_(bits, -128, 0)
    else:
        bits.relu_()


class _Weights:
    """One network's (W, b) per layer, in the dtype that layer's products take.

    That is `dtype` for the hidden layers and fp32 for the output layer. Where it is the
    parameters' own fp32, these are the parameters themselves; otherwise copies, which a
    `_Refresh` brings up to date after the parameters change.
    """

    def __init__(self, layers: nn.ModuleList, dtype: torch.dtype) -> None:
        self.layers = layers
        self.dtypes = [dtype] * (len(layers) - 1) + [torch.float32]
        self.wb = [(layer.weight, layer.bias) if d == layer.weight.dtype else (layer.weight.to(d), layer.bias.to(d))
                   for layer, d in zip(layers, self.dtypes)]
        self.t = [(w.t(), b) for w, b in self.wb]  # (Wᵀ, b) as addmm takes them: views made once
        copied = [(layer, wb) for layer, wb in zip(layers, self.wb) if wb[0] is not layer.weight]
        self.copies = [t for _, wb in copied for t in wb]
        self.sources = [p for layer, _ in copied for p in (layer.weight, layer.bias)]


class _Refresh:
    """Copies the parameters into their `_Weights` copies, for several networks in one fused call."""

    def __init__(self, *weights: _Weights) -> None:
        self.copies = [t for w in weights for t in w.copies]
        self.sources = [p for w in weights for p in w.sources]

    def __call__(self) -> None:
        if self.copies:  # none in fp32
            torch._foreach_copy_(self.copies, self.sources)


class _MLPTape:
    """The activations and gradients of one MLP's forward and backward pass, for a fixed batch size.

    `inputs[i]` is layer i's input. Layer i - 1 writes its ReLU output straight into the first
    columns of `inputs[i]` (or, where the two layers' dtypes differ, into a buffer of its own that
    is copied there); a critic's action fills the last columns of the layer it joins. Every
    buffer of layer i is in that layer's product dtype (`_Weights.dtypes`). Backward writes the
    gradients into the layers' fp32 `.grad` tensors, which must already exist.
    """

    def __init__(self, weights: _Weights, batch_size: int, device: torch.device) -> None:
        layers, dtypes = weights.layers, weights.dtypes

        def buffer(width: int, dtype: torch.dtype) -> torch.Tensor:
            return torch.zeros(batch_size, width, dtype=dtype, device=device)

        self.inputs = [buffer(layer.in_features, d) for layer, d in zip(layers, dtypes)]
        self.deltas = [buffer(layer.out_features, d) for layer, d in zip(layers, dtypes)]
        # layer i's own output: the first columns of the next layer's input, or a buffer of its own for
        # the last layer and where the next layer's dtype differs (`to_next`: the columns it is copied to)
        nxt = [x[:, : layer.out_features] for layer, x in zip(layers[:-1], self.inputs[1:])] + [None]
        self.outputs = [n if n is not None and n.dtype == d else buffer(layer.out_features, d)
                        for layer, d, n in zip(layers, dtypes, nxt)]
        self.to_next = [n if n is not out else None for n, out in zip(nxt, self.outputs)]
        # where backward writes each layer's (∂L/∂W, ∂L/∂b): `.grad` itself, or bf16 buffers copied into it
        self.grads = [(layer.weight.grad, layer.bias.grad) if d == layer.weight.dtype else
                      (torch.zeros_like(layer.weight, dtype=d), torch.zeros_like(layer.bias, dtype=d))
                      for layer, d in zip(layers, dtypes)]
        copied = [(p.grad, g) for layer, gs in zip(layers, self.grads) for p, g in zip((layer.weight, layer.bias), gs)
                  if g is not p.grad]
        self.grad_copies = ([dst for dst, _ in copied], [src for _, src in copied])
        # the columns of W that multiply the previous layer's output (all but a joining action's)
        self.w_prev = [None] + [w[:, : prev.out_features] for prev, (w, _) in zip(layers[:-1], weights.wb[1:])]
        # δ W lands in the previous layer's δ, or first in a buffer of this layer's dtype where they differ
        self.back = [None] + [prev if prev.dtype == d else buffer(prev.shape[1], d)
                              for prev, d in zip(self.deltas[:-1], dtypes[1:])]
        # the ReLU runs on `as_bits` views of the hidden layers' outputs
        self.output_bits = [as_bits(out) for out in self.outputs]

    def forward(self, weights: _Weights) -> torch.Tensor:
        """Run the layers given by `weights` (these or their targets') on `inputs[0]`; ReLU between layers."""
        last = len(weights.t) - 1
        for i, (w_t, b) in enumerate(weights.t):
            out = torch.addmm(b, self.inputs[i], w_t, out=self.outputs[i])
            if i < last:
                relu_(self.output_bits[i])
                if self.to_next[i] is not None:
                    self.to_next[i].copy_(out)
        return self.outputs[-1]

    def backward(self, lowest: int, weight_grads: bool) -> None:
        """Propagate `deltas[-1]` down to layer `lowest`; if asked (with lowest = 0), fill every layer's `.grad`."""
        for i in range(len(self.inputs) - 1, lowest - 1, -1):
            delta = self.deltas[i]
            if weight_grads:
                w_grad, b_grad = self.grads[i]
                torch.mm(delta.t(), self.inputs[i], out=w_grad)  # ∂L/∂W = δᵀ x
                torch.sum(delta, 0, out=b_grad)                  # ∂L/∂b = Σ δ
            if i > lowest:  # ∂L/∂x = δ W into the previous layer's δ, then through its ReLU
                g = torch.mm(delta, self.w_prev[i], out=self.back[i])
                d = self.deltas[i - 1]
                if g is not d:  # rounded to the previous layer's dtype first, as autocast does
                    d.copy_(g)
                _relu_backward(d, self.outputs[i - 1], 0, grad_input=d)
        if weight_grads and self.grad_copies[0]:  # bf16 gradients into the fp32 `.grad` that Adam reads
            torch._foreach_copy_(*self.grad_copies)


class _AdamStep:
    """`opt.step()` for the agent's fused Adam, without the Python around the kernel.

    torch.optim.Adam(fused=True) ends in the same two calls (torch/optim/adam.py, `_fused_adam`);
    on 2 CPU cores the bookkeeping around them cost about as much as the kernel. The state is the
    optimizer's own, so checkpoints and `opt.step()` stay interchangeable with this.

    Every parameter's step count is the same number, so they are made views of one tensor and
    counted with one add (a `_foreach_add_` over six 0-dim tensors took ~50 µs here). Views stay
    per-parameter tensors: `opt.step()` and a saved and loaded state count each one once.
    """

    def __init__(self, opt: torch.optim.Adam) -> None:
        group = opt.param_groups[0]
        if len(opt.param_groups) != 1 or not group["fused"] or group["amsgrad"] or group["decoupled_weight_decay"]:
            raise ValueError("_AdamStep needs one param group of fused Adam without amsgrad")
        self.opt, self.group = opt, group
        self.tensors: tuple[list[torch.Tensor], ...] = ()
        self.steps = torch.zeros(0)  # the step counts, one per parameter

    def __call__(self) -> None:
        params = self.group["params"]
        state = self.opt.state.get(params[0])
        if state is None:  # the first step creates Adam's state
            self.opt.step()
            return
        if not self.tensors or self.tensors[-1][0] is not state["step"]:  # first use, or state loaded since
            states = [self.opt.state[p] for p in params]
            self.steps = torch.stack([s["step"] for s in states])
            for k, s in enumerate(states):
                s["step"] = self.steps[k]
            self.tensors = (params, [p.grad for p in params], [s["exp_avg"] for s in states],
                            [s["exp_avg_sq"] for s in states], [], [s["step"] for s in states])
        g = self.group
        self.steps.add_(1)
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
        dtype = agent.matmul_dtype
        self.mu, self.mu_target = _Weights(agent.actor.layers, dtype), _Weights(agent.actor_target.layers, dtype)
        self.q, self.q_target = _Weights(agent.critic.layers, dtype), _Weights(agent.critic_target.layers, dtype)
        # The bf16 weights follow each change: the critic's Adam step, read by the actor step; then
        # the actor's step and both soft updates, read by the next update.
        self.refresh_critic = _Refresh(self.q)
        self.refresh_actor_and_targets = _Refresh(self.mu, self.mu_target, self.q_target)
        self.actor = _MLPTape(self.mu, batch_size, dev)
        self.critic = _MLPTape(self.q, batch_size, dev)
        k = agent.critic.action_layer
        self.critic_obs = self.critic.inputs[0][:, :n_obs]  # k = 0: obs and action share layer 0
        self.critic_action = self.critic.inputs[k][:, -n_act:]
        self.w_action = self.q.wb[k][0][:, -n_act:]  # the columns of W_k that multiply a
        self.action_grad = torch.zeros(batch_size, n_act, dtype=self.q.dtypes[k], device=dev)
        self.y = torch.zeros(batch_size, device=dev)
        self.critic_step, self.actor_step = _AdamStep(agent.critic_opt), _AdamStep(agent.actor_opt)

    def _actor_forward(self, weights: _Weights, obs: torch.Tensor) -> torch.Tensor:
        """μ(s) = bias + scale·tanh(u), written into the critic's action columns; returns tanh(u)."""
        actor = self.agent.actor
        self.actor.inputs[0].copy_(obs)
        t = self.actor.forward(weights).tanh_()
        torch.addcmul(actor.action_bias, t, actor.action_scale, out=self.critic_action)
        return t

    def _critic_forward(self, weights: _Weights, obs: torch.Tensor) -> torch.Tensor:
        """Q(s, a) for the action already in the critic's action columns; (B,)."""
        self.critic_obs.copy_(obs)
        return self.critic.forward(weights).view(-1)

    @torch.no_grad()
    def __call__(self) -> Metrics:
        ag, B = self.agent, self.batch_size
        b = self.buffer.batch_at(self.buffer.sample_indices(B, out=self.idx), rows=self.rows)
        if ag.actor.obs_norm is not None:  # `rows` is this update's own copy, so in place is safe
            ag.actor.obs_norm.normalize_(b.obs)
            ag.actor.obs_norm.normalize_(b.next_obs)

        # Target y = c·r + γ(1 - terminated)·Q'(s', μ'(s')), c = --reward-scale
        self._actor_forward(self.mu_target, b.next_obs)
        next_q = self._critic_forward(self.q_target, b.next_obs)
        y = torch.addcmul(b.reward.mul_(ag.reward_scale), 1.0 - b.terminated, next_q, value=ag.gamma, out=self.y)

        # Critic: L = mean (Q(s, a) - y)², so δ_out = 2 (Q - y) / B
        self.critic_action.copy_(b.action)
        q = self._critic_forward(self.q, b.obs)
        err = torch.sub(q, y, out=self.critic.deltas[-1].view(-1))
        critic_loss, q_mean = err.square().mean(), q.mean()
        err.mul_(2.0 / B)
        self.critic.backward(lowest=0, weight_grads=True)
        self.critic_step()
        self.refresh_critic()

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
        self.refresh_actor_and_targets()
        return {"critic_loss": critic_loss, "actor_loss": actor_loss, "q": q_mean}
