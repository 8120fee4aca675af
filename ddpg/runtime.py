"""Process-level settings for speed. Neither changes results beyond values under 1e-38."""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

import torch

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
