"""Process-level settings for speed. Nothing here changes results."""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

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
