"""Where one update's time goes on the CPU: the update paths side by side, and two effects behind them.

    python benchmarks/update_breakdown.py
    python benchmarks/update_breakdown.py --threads 1
    python benchmarks/update_breakdown.py --threads 1 --profile

Prints, in microseconds, in this order:
1. the fused Adam kernel on one thread, on a state where a third of the second moments are
   subnormal (as for dead ReLU units after some thousands of steps), with and without flushing
   them to zero;
2. one update on HalfCheetah-sized nets (256-256, batch 256) and on 8-unit nets with batch 8
   (what is left is fixed per-op cost), for autograd and the hand-written backward; the two
   paths alternate in rounds so that drift in the machine's speed hits both alike;
3. a 256x256x256 matrix product alone (ten of them per update), timed in the same rounds as the
   updates and taken as the products' peak rate here; one update's product FLOPs (from the layer
   shapes), and the fraction of that rate the update reaches, taken within each round;
4. the same product with bf16 inputs (what --matmul-precision bf16 runs), against fp32, and
   then each kind of product in a HalfCheetah update, and a ReLU, in bf16 against fp32: the thin
   first layers (17 or 23 inputs) and elementwise ops are where bf16 does not pay;
5. a small op (y = r + γ(1 - d)·q' on 256 floats) alone, right after a 256x256x256 product, and
   right after a 16 MB copy: inside the update, the data it streams evicts what each op needs;
6. with --profile (1 thread only), the hand-written update in each precision by kind of op
   (torch.profiler's self time per update), and its wall time without the profiler: roughly,
   what no op accounts for is Python and torch's dispatch around the kernels.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ddpg.agent import DDPGAgent  # noqa: E402
from ddpg.buffer import ReplayBuffer  # noqa: E402
from ddpg.config import make_config  # noqa: E402
from ddpg.errors import ArgumentParser  # noqa: E402
from ddpg.manual_update import as_bits, relu_  # noqa: E402
from ddpg.runtime import flush_denormals, keep_freed_memory  # noqa: E402
from ddpg.update_paths import make_update  # noqa: E402

OBS, ACT = 17, 6  # HalfCheetah-v5


def per_call_us(fn: Callable[[], object], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e6


def one_update(hidden: int, batch: int, backward: str,
               precision: str = "fp32") -> tuple[Callable[[], object], DDPGAgent]:
    """An update function on HalfCheetah-sized inputs, its buffer holding 20k random rows of 1M, and its agent."""
    rng = np.random.default_rng(0)
    cfg = make_config({"hidden_sizes": (hidden, hidden), "batch_size": batch, "backward": backward,
                       "matmul_precision": precision})
    torch.manual_seed(0)
    agent = DDPGAgent(OBS, -np.ones(ACT), np.ones(ACT), cfg, "cpu")
    buf = ReplayBuffer(1_000_000, OBS, ACT, "cpu", seed=0)
    for _ in range(20_000):
        buf.add(rng.standard_normal(OBS), rng.uniform(-1, 1, ACT), rng.standard_normal(), rng.standard_normal(OBS),
                False)
    return make_update(agent, buf, cfg)[0], agent


def update_paths(hidden: int, batch: int, rounds: int, per_round: int) -> dict[str, float]:
    """Median time per call of each path over `rounds` alternating rounds, and of a hidden×hidden×batch product.

    The product runs in the same rounds, so that the fraction of its rate an update reaches is taken
    within each round (`peak_fraction`): this machine's speed drifts by 2× within minutes.
    """
    fns = {}
    for backward in ("autograd", "manual"):
        fns[backward], agent = one_update(hidden, batch, backward)
    a, b, c = torch.randn(batch, hidden), torch.randn(hidden, hidden), torch.empty(batch, hidden)
    fns["product"] = lambda: torch.mm(a, b, out=c)
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            times[k].append(per_call_us(fn, per_round if k != "product" else 10 * per_round))
    out = {k: statistics.median(v[1:]) for k, v in times.items()}  # round 0 is warm-up
    flops = out["flops"] = update_flops(agent, batch)
    rate = [2 * batch * hidden * hidden / us for us in times["product"][1:]]  # FLOP per µs
    for k in ("autograd", "manual"):
        out[k + "_peak_fraction"] = statistics.median(flops / r / us for r, us in zip(rate, times[k][1:]))
    out["product_gflops"] = statistics.median(rate) / 1e3
    return out


def update_flops(agent: DDPGAgent, batch: int) -> int:
    """FLOPs (2 per multiply-add) of one update's matrix products, as ManualUpdate runs them.

    Per layer z = x Wᵀ + b over a batch: the forward product and ∂L/∂W = δᵀx cost 2·B·in·out
    each; ∂L/∂x = δW goes only into the layer below's output (not a joining action), and not
    below a net's first layer. The actor step adds ∂L/∂a, through the action's columns.
    """
    def mm(n_in: int, n_out: int) -> int:
        return 2 * batch * n_in * n_out

    def fwd(layers: nn.ModuleList) -> int:  # also the cost of every layer's ∂L/∂W
        return sum(mm(layer.in_features, layer.out_features) for layer in layers)

    def dx(layers: nn.ModuleList, lowest: int) -> int:  # δ from the top down to layer `lowest`
        return sum(mm(layers[i].out_features, layers[i - 1].out_features) for i in range(lowest + 1, len(layers)))

    actor, critic, k = agent.actor.layers, agent.critic.layers, agent.critic.action_layer
    n_act = actor[-1].out_features
    target = fwd(actor) + fwd(critic)                                   # y: μ'(s'), then Q'(s', ·)
    critic_step = 2 * fwd(critic) + dx(critic, 0)
    actor_step = (fwd(actor) + fwd(critic) + dx(critic, k) + mm(critic[k].out_features, n_act)
                  + fwd(actor) + dx(actor, 0))
    return target + critic_step + actor_step


def small_op_after(before: Callable[[], object], n: int = 2000) -> float:
    rows = torch.randn(256, 42)
    reward, terminated, next_q, y = rows[:, 23], rows[:, 41], torch.randn(256), torch.empty(256)
    total = 0.0
    for _ in range(n):
        before()
        t0 = time.perf_counter()
        torch.addcmul(reward, 1.0 - terminated, next_q, value=0.99, out=y)
        total += time.perf_counter() - t0
    return total / n * 1e6


def fused_adam_us(flush: bool, n: int = 1000) -> float:
    """On one thread: the flush setting of OpenMP's workers is fixed when they start."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.set_flush_denormal(flush)
    g = torch.Generator().manual_seed(0)
    shapes = [(256, OBS + ACT), (256,), (256, 256), (256,), (1, 256), (1,)]
    params = [torch.randn(s, generator=g) for s in shapes]
    grads = [torch.randn(s, generator=g) * 1e-3 for s in shapes]
    exp_avgs = [torch.randn(s, generator=g) * 1e-4 for s in shapes]
    exp_avg_sqs = [torch.rand(s, generator=g) * 1e-6 for s in shapes]
    for v, gr in zip(exp_avg_sqs, grads):
        dead = torch.rand(v.shape, generator=g) < 1 / 3
        v[dead] = 1e-40  # subnormal: below float32's smallest normal, 1.18e-38
        gr[dead] = 0.0
    steps = [torch.tensor(1000.0) for _ in shapes]

    def step() -> None:
        torch._foreach_add_(steps, 1)
        torch._fused_adam_(params, grads, exp_avgs, exp_avg_sqs, [], steps, amsgrad=False, lr=3e-4, beta1=0.9,
                           beta2=0.999, weight_decay=0.0, eps=1e-8, maximize=False)
    per_call_us(step, 100)
    us = per_call_us(step, n)
    torch.set_flush_denormal(True)
    torch.set_num_threads(threads)
    return us


def bf16_by_shape(batch: int = 256, hidden: int = 256, rounds: int = 5) -> dict[str, float]:
    """fp32 time / bf16 time (median of alternating rounds) for each kind of product in a HalfCheetah update."""
    def ops(dtype: torch.dtype) -> dict[str, Callable[[], object]]:
        def r(*shape: int) -> torch.Tensor:
            return torch.randn(*shape).to(dtype)
        x, h, w0, w1, b = r(batch, OBS + ACT), r(batch, hidden), r(hidden, OBS + ACT), r(hidden, hidden), r(hidden)
        out, w_grad, w0_grad = r(batch, hidden), r(hidden, hidden), r(hidden, OBS + ACT)
        out_bits = as_bits(out)  # made once, as the update makes its views
        return {f"first layer, (B,{OBS + ACT})x({OBS + ACT},H)": lambda: torch.addmm(b, x, w0.t(), out=out),
                "hidden layer, (B,H)x(H,H)": lambda: torch.addmm(b, h, w1.t(), out=out),
                "hidden dL/dW, (H,B)x(B,H)": lambda: torch.mm(h.t(), h, out=w_grad),
                f"first dL/dW, (H,B)x(B,{OBS + ACT})": lambda: torch.mm(h.t(), x, out=w0_grad),
                "ReLU on (B,H) as the update runs it (bf16: on its int16 bits)": lambda: relu_(out_bits)}
    fp32, bf16 = ops(torch.float32), ops(torch.bfloat16)
    return {name: statistics.median(per_call_us(fp32[name], 300) / per_call_us(bf16[name], 300)
                                    for _ in range(rounds)) for name in fp32}


# torch.profiler's op names, by the kind of work they do in the hand-written update; the rest is "other ops"
OP_KINDS = {"aten::mm": "matrix products", "aten::addmm": "matrix products",
            "aten::copy_": "copies and casts", "aten::_to_copy": "copies and casts",
            "aten::_foreach_copy_": "copies and casts",
            "aten::relu_": "ReLU and its backward", "aten::clamp_min_": "ReLU and its backward",
            "aten::threshold_": "ReLU and its backward", "aten::threshold_backward": "ReLU and its backward",
            "aten::_fused_adam_": "fused Adam", "aten::_foreach_lerp_": "soft updates", "aten::lerp_": "soft updates",
            "aten::randint": "drawing the minibatch", "aten::index_select": "drawing the minibatch",
            **dict.fromkeys(("aten::as_strided", "aten::expand", "aten::slice", "aten::t", "aten::transpose",
                             "aten::view", "aten::select", "aten::unsqueeze", "aten::squeeze", "aten::alias",
                             "aten::empty", "aten::empty_strided", "aten::empty_like", "aten::item",
                             "aten::_local_scalar_dense"), "views, allocations and reads (no arithmetic)")}


def op_kinds(averages: Iterable[Any], calls: int) -> dict[str, tuple[float, float]]:
    """(µs of self time, op calls) per call of the profiled function, by OP_KINDS, from profiler key averages.

    Self time counts each op's own work once, not the ops it calls, so the kinds sum to the total; the
    calls count nested ones too (a relu_ and the clamp_min_ it runs are two).
    """
    kinds: dict[str, list[float]] = {}
    for e in averages:
        k = kinds.setdefault(OP_KINDS.get(e.key, "other ops"), [0.0, 0.0])
        k[0] += e.self_cpu_time_total / calls
        k[1] += e.count / calls
    return {k: (us, n) for k, (us, n) in sorted(kinds.items(), key=lambda kv: -kv[1][0])}


def profile_update(precision: str, n: int = 200) -> str:
    """One line: the 256-256 hand-written update's time by kind of op, and what no op accounts for."""
    from torch.profiler import ProfilerActivity, profile

    update, _ = one_update(256, 256, "manual", precision)
    per_call_us(update, 50)
    wall = statistics.median(per_call_us(update, n) for _ in range(3))
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()  # inside: the profiler's own start and stop are not the update's
        for _ in range(n):
            update()
        profiled = (time.perf_counter() - start) / n * 1e6
    kinds = op_kinds(prof.key_averages(), n)
    in_ops = sum(us for us, _ in kinds.values())
    # "Outside" comes from the profiled rounds themselves: set against the unprofiled time it went negative
    # when the machine slowed between the two (-381 us in results/update_breakdown_xeon_1207_1thread_profile.txt).
    return (f"hand-written update, {precision}, by kind of op (torch.profiler self time, us per update): "
            + "; ".join(f"{k} {us:.0f} ({calls:.0f} calls)" for k, (us, calls) in kinds.items())
            + f"; all ops {in_ops:.0f} of the profiled update's {profiled:.0f}, so about {profiled - in_ops:.0f} "
            f"us is outside any op (Python, dispatch, the profiler's own); without the profiler the update "
            f"takes {wall:.0f} us")


def main() -> int:
    p = ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    p.add_argument("--rounds", type=int, default=7, help="alternating rounds per path (the first is warm-up)")
    p.add_argument("--profile", action="store_true",
                   help="also break the hand-written update down by kind of op, in fp32 and bf16 (torch.profiler)")
    args = p.parse_args()
    if args.threads < 0:
        p.error(f"--threads must be >= 0, got {args.threads}")
    if args.rounds < 2:
        p.error(f"--rounds must be >= 2 (the first is warm-up), got {args.rounds}")
    if args.profile and args.threads != 1:
        # at 2 threads the profiler slowed the ops themselves: their self time summed to 6.0 ms a bf16 update,
        # against 3.5 ms for the update without it (results/update_breakdown_amd_2thread_profile_refused.txt)
        p.error("--profile needs --threads 1: with more threads the profiler slows the ops it times")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    keep_freed_memory()
    flush_denormals()  # as train.py does, before any parallel op
    print(f"{torch.get_num_threads()} threads, torch {torch.__version__}")

    print(f"fused Adam (72k parameters, 1 thread), a third of the second moments subnormal: "
          f"{fused_adam_us(False):6.0f} us; flushed to zero: {fused_adam_us(True):6.0f} us")
    updates = {}
    for hidden, batch in ((256, 256), (8, 8)):
        t = updates[hidden] = update_paths(hidden, batch, args.rounds, 300 if hidden > 8 else 1000)
        print(f"one update, {hidden}-{hidden} nets, batch {batch}: autograd {t['autograd']:6.0f} us, "
              f"hand-written backward {t['manual']:6.0f} us")

    t = updates[256]
    flops = t["flops"]
    print(f"256x256x256 matrix product alone: {t['product']:6.0f} us, {t['product_gflops']:.0f} GFLOP/s, "
          f"taken as the products' peak here")
    print(f"one 256-256 update: {flops / 1e9:.3f} GFLOP of products ({flops / t['product_gflops'] / 1e3:.0f} us "
          f"at that rate); within each round the hand-written update reaches {t['manual_peak_fraction']:.0%} "
          f"of that rate, autograd {t['autograd_peak_fraction']:.0%}")
    a, b, c = torch.randn(256, 256), torch.randn(256, 256), torch.empty(256, 256)
    a16, b16, c16 = a.bfloat16(), b.bfloat16(), c.bfloat16()
    pairs = [(per_call_us(lambda: torch.mm(a, b, out=c), 500), per_call_us(lambda: torch.mm(a16, b16, out=c16), 500))
             for _ in range(5)]  # alternating, as the machine drifts
    print(f"256x256x256 product, bf16 inputs: {statistics.median(q for _, q in pairs):6.0f} us, "
          f"{statistics.median(f / q for f, q in pairs):.2f}x as fast as fp32 (median of 5 alternating rounds)")
    print("bf16 speed-up by kind (fp32 time / bf16 time, B = H = 256): " +
          "; ".join(f"{name} {x:.2f}x" for name, x in bf16_by_shape().items()))
    src, dst = torch.randn(4_000_000), torch.empty(4_000_000)
    print(f"small op (256 floats) alone: {small_op_after(lambda: None):5.1f} us; after a 256^3 product: "
          f"{small_op_after(lambda: torch.mm(a, b, out=c)):5.1f} us; after a 16 MB copy: "
          f"{small_op_after(lambda: dst.copy_(src)):5.1f} us")
    if args.profile:
        for precision in ("fp32", "bf16"):
            print(profile_update(precision))
    return 0


if __name__ == "__main__":
    sys.exit(main())
