"""Checkpoints move between devices and launch modes: a CPU run resumes on CUDA and back, with
--compile/--cudagraphs switched on or off, and with another --matmul-precision. No GPU is needed:
CUDA-made state is fabricated the way a CUDA run saves it."""
import numpy as np
import pytest
import torch

import train
from conftest import TINY
from ddpg import checkpoint as ckpt_io
from ddpg import runtime
from ddpg.agent import DDPGAgent
from ddpg.buffer import Batch, ReplayBuffer
from ddpg.config import config_from_dict, make_config
from ddpg.errors import DDPGError


def cuda_generator_state(seed, offset):
    """What a CUDA torch.Generator's get_state() returns: its Philox seed and offset, 16 bytes."""
    return torch.tensor([seed, offset], dtype=torch.int64).view(torch.uint8)


def filled_buffer(seed=0):
    buf = ReplayBuffer(200, obs_dim=1, action_dim=1, device="cpu", seed=seed)
    for i in range(150):
        buf.add(np.array([i]), np.array([0.0]), float(i), np.array([i + 1]), False)
    return buf


def test_cpu_buffer_loads_a_cuda_generator_state_and_samples_deterministically():
    state = filled_buffer().state_dict()
    state["generator"] = cuda_generator_state(seed=0, offset=4096)
    a, b = ReplayBuffer(200, 1, 1, "cpu", seed=1), ReplayBuffer(200, 1, 1, "cpu", seed=2)
    a.load_state_dict(state)
    b.load_state_dict(state)
    assert torch.equal(a.storage, filled_buffer().storage) and (a.pos, a.size) == (150, 150)
    draws = a.sample_indices(1000)
    assert torch.equal(draws, b.sample_indices(1000))  # the saved state decides the stream, not the buffer's seed
    assert draws.min() >= 0 and draws.max() < 150 and draws.unique().numel() > 140
    state["generator"] = cuda_generator_state(seed=0, offset=8192)  # a later checkpoint of the same run
    c = ReplayBuffer(200, 1, 1, "cpu")
    c.load_state_dict(state)
    assert (c.sample_indices(1000) != draws).float().mean() > 0.9  # gets a stream of its own


class PhiloxLike:
    """Stands in for a CUDA generator, which a machine without CUDA cannot make: 16-byte states only."""

    def __init__(self):
        self.state, self.seed = cuda_generator_state(0, 0), None

    def get_state(self):
        return self.state

    def set_state(self, state):
        if state.numel() != 16:
            raise RuntimeError(f"Expected a 16-byte RNG state, got {state.numel()} bytes")
        self.state = state

    def manual_seed(self, seed):
        self.seed = seed


def test_cuda_buffer_would_load_a_cpu_generator_state():
    state = filled_buffer().state_dict()
    assert state["generator"].numel() == 5056  # a CPU (Mersenne Twister) state
    seeds = []
    for s in (state, state, filled_buffer(seed=1).state_dict()):
        buf = ReplayBuffer(200, 1, 1, "cpu")
        buf.generator = PhiloxLike()
        buf.load_state_dict(s)
        seeds.append(buf.generator.seed)
    assert seeds[0] == seeds[1] != seeds[2]  # a function of the saved state: the same one, the same seed


def test_loaded_agent_keeps_this_runs_capturable_flag():
    def agent(cudagraphs):
        torch.manual_seed(0)
        return DDPGAgent(3, -np.ones(1), np.ones(1), make_config({"hidden_sizes": (8,), "cudagraphs": cudagraphs}))

    graphed = agent(cudagraphs=True)
    graphed.update(Batch(torch.randn(4, 3), torch.rand(4, 1), torch.randn(4), torch.randn(4, 3), torch.zeros(4)))
    plain = agent(cudagraphs=False)
    plain.load_state_dict(graphed.state_dict())
    for opt in (plain.actor_opt, plain.critic_opt):
        assert opt.param_groups[0]["capturable"] is False
    p = next(plain.critic.parameters())
    assert torch.equal(plain.critic_opt.state[p]["exp_avg"],
                       graphed.critic_opt.state[next(graphed.critic.parameters())]["exp_avg"])
    regraphed = agent(cudagraphs=True)  # and back: CudaGraphUpdate needs capturable Adam
    regraphed.load_state_dict(plain.state_dict())
    assert all(opt.param_groups[0]["capturable"] is True for opt in (regraphed.actor_opt, regraphed.critic_opt))


@pytest.fixture(scope="module")
def cuda_checkpoint(tmp_path_factory):
    """A tiny CPU run's checkpoint, rewritten as a `--device cuda --cudagraphs` run saves it."""
    d = tmp_path_factory.mktemp("cuda-run")
    cfg = make_config({**TINY, "total_steps": 400, "models_dir": str(d / "models"), "runs_dir": str(d / "runs")})
    state = ckpt_io.load(train.train(cfg, quiet=True)["checkpoint"], "checkpoint")
    state["config"].update(device="cuda", cudagraphs=True)
    for opt in ("actor_opt", "critic_opt"):
        for group in state["agent"][opt]["param_groups"]:
            group["capturable"] = True
    state["buffer"]["generator"] = cuda_generator_state(seed=0, offset=123_456)
    path = d / "copied" / ckpt_io.CHECKPOINT_FILE
    ckpt_io.atomic_save(state, path)
    return path


@pytest.mark.parametrize("flag", ["compile", "cudagraphs"])
def test_compile_and_cudagraphs_may_change_on_resume(cuda_checkpoint, flag):
    for value in (True, False):
        cfg, _, _ = train.resolve_config({"resume": str(cuda_checkpoint), flag: value})
        assert getattr(cfg, flag) is value


def test_cudagraphs_checkpoint_from_cuda_resumes_on_the_cpu(cuda_checkpoint, tmp_path):
    out = {"models_dir": str(tmp_path / "models"), "runs_dir": str(tmp_path / "runs")}

    def resume(**flags):
        cfg, state, _ = train.resolve_config({"resume": str(cuda_checkpoint), "total_steps": 600, **out, **flags})
        return train.train(cfg, state, quiet=True, out_dir=tmp_path / "resumed")

    if not torch.cuda.is_available():  # as saved, the run needs CUDA: refused with what to pass instead
        with pytest.raises(DDPGError, match="--device cuda was asked for but no CUDA device.*--device cpu"):
            resume()
    with pytest.raises(DDPGError, match="--cudagraphs needs a CUDA device.*--no-cudagraphs"):
        resume(device="cpu")
    summary = resume(device="cpu", cudagraphs=False)
    saved = ckpt_io.load(summary["checkpoint"], "checkpoint")
    assert summary["step"] == saved["step"] == 600
    assert (saved["config"]["device"], saved["config"]["cudagraphs"]) == ("cpu", False)
    assert saved["agent"]["critic_opt"]["param_groups"][0]["capturable"] is False
    assert saved["buffer"]["generator"].numel() == 5056  # sampling went on from a CPU generator


def test_matmul_precision_is_saved_and_may_change_on_resume(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(runtime, "native_bf16", lambda: True)  # this CPU may lack it; refusing is tested below
    out = {"models_dir": str(tmp_path / "models"), "runs_dir": str(tmp_path / "runs")}
    first = train.train(make_config({**TINY, "total_steps": 400, "matmul_precision": "bf16", **out}), quiet=True)
    assert "hand-written backward (bf16 matrix products) update" in capsys.readouterr().err
    saved = ckpt_io.load(first["checkpoint"], "checkpoint")["config"]
    assert saved["matmul_precision"] == "bf16"
    assert train.resolve_config({"resume": str(first["checkpoint"])})[0].matmul_precision == "bf16"
    # a checkpoint from before the flag resumes in fp32
    assert config_from_dict({k: v for k, v in saved.items() if k != "matmul_precision"}).matmul_precision == "fp32"
    # where bf16 would be emulated, the bf16 run is refused in one line, and its checkpoint kept as it was
    monkeypatch.setattr(runtime, "native_bf16", lambda: False)
    before = first["checkpoint"].read_bytes()
    capsys.readouterr()
    assert train.main(["--resume", str(first["checkpoint"]), "--total-steps", "600"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: --matmul-precision bf16: ") and "use --matmul-precision fp32" in err[-1], err
    assert first["checkpoint"].read_bytes() == before
    cfg, state, _ = train.resolve_config({"resume": str(first["checkpoint"]), "total_steps": 600,
                                          "matmul_precision": "fp32"})
    second = train.train(cfg, state, quiet=True, out_dir=first["checkpoint"].parent)
    assert "hand-written backward update" in capsys.readouterr().err
    saved = ckpt_io.load(second["checkpoint"], "checkpoint")
    assert (saved["step"], saved["config"]["matmul_precision"]) == (600, "fp32")


@pytest.mark.parametrize("caps, native", [({"avx512_bf16": True, "amx_bf16": False}, True),
                                          ({"avx512_bf16": False, "amx_bf16": True}, True),
                                          ({"avx512_bf16": False, "amx_bf16": False, "avx2": True}, False)])
def test_bf16_counts_as_native_only_with_avx512_bf16_or_amx(monkeypatch, caps, native):
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: {"cpu_name": "a CPU", **caps})
    assert runtime.native_bf16() is native
    cpu_check = lambda: runtime.check_matmul_precision("bf16", torch.device("cpu"))  # noqa: E731
    if native:
        cpu_check()
    else:
        with pytest.raises(DDPGError, match="--matmul-precision bf16: a CPU has no bf16 arithmetic"):
            cpu_check()
    runtime.check_matmul_precision("fp32", torch.device("cpu"))  # fp32 and CUDA are never refused
    runtime.check_matmul_precision("bf16", torch.device("cuda"))
