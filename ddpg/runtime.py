"""Process-level settings for speed, which change no result beyond values under 1e-38, and a check that
bf16 would be fast here."""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

import torch

from ddpg.errors import DDPGError

# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def keep_freed_memory() -> bool:
    """Stop glibc from returning freed blocks to the OS and mapping large ones fresh each time.

    The update allocates and frees the same few 256 KB tensors every step; by default glibc
    serves them with mmap/munmap, which costs ~55 page faults per update (measured on 2 cores:
    4.1 ms -> 3.9 ms per update). Returns False where this is not glibc.
    """
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, 1 << 30)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30))
    except (OSError, AttributeError):
        return False


def flush_denormals() -> bool:
    """Treat float32 values below 1.2e-38 (subnormals) as zero, on every thread torch computes on.

    Adam's moment estimates for a dead ReLU unit decay geometrically (β₂ = 0.999 per step), and they
    spend thousands of steps in the subnormal range, where x86 arithmetic is far slower: with a
    third of its state subnormal the fused Adam step takes ~20x longer (benchmarks/update_breakdown.py).
    Call it before torch's first parallel op: OpenMP's worker threads copy the setting when they
    start, and only then. Returns False where the CPU cannot do it.
    """
    return torch.set_flush_denormal(True)


# The CPU units the matrix products can use: torch's capability key, and the name the benchmarks print.
PRODUCT_UNITS = {"avx512_f": "AVX-512", "avx512_bf16": "AVX512_BF16", "amx_bf16": "AMX-BF16"}
BF16_UNITS = ("avx512_bf16", "amx_bf16")


def product_units() -> list[str]:
    """The PRODUCT_UNITS this CPU has, as torch detects them: one reading for the bf16 refusal and for
    the CPU the benchmarks name, so the two cannot disagree."""
    caps = torch.cpu.get_capabilities()
    return [key for key in PRODUCT_UNITS if caps.get(key)]


def native_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (AVX512_BF16 or AMX-BF16).

    Without either, torch emulates bf16 products in fp32 code: on an AMD EPYC without AVX-512
    (Zen 3) the hand-written update took 113 ms in bf16 against 5.5 ms in fp32.
    """
    return any(key in BF16_UNITS for key in product_units())


def check_matmul_precision(precision: str, device: torch.device) -> None:
    """Refuse --matmul-precision bf16 on a CPU that would emulate it: bf16 is there only for speed."""
    if precision == "bf16" and device.type == "cpu" and not native_bf16():
        name = torch.cpu.get_capabilities().get("cpu_name", "this CPU")
        raise DDPGError(f"--matmul-precision bf16: {name} has no bf16 arithmetic (AVX512_BF16 or AMX-BF16), so torch "
                        f"would emulate it, about 20x slower than fp32; use --matmul-precision fp32 (a bf16 "
                        f"checkpoint resumes in fp32 with that flag)")
