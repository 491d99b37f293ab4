"""Memory handed back to the system: what big temporaries freed, and big blocks for good.

A table of a million rows makes temporaries of several MiB (index arrays, a batch of
pyarrow's reader, a chunk of rows being scaled); the allocators keep what they free for
their next request, so a process would count a freed table for the rest of its life.
Nothing here changes a number; off glibc (and without pyarrow) it does nothing.
"""

from __future__ import annotations

import ctypes
import sys
from functools import lru_cache

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
BIG_BLOCK = 1 << 20  # bytes from which map_big_blocks gives each block its own mapping


def release_free_memory() -> None:
    """Give memory that big temporaries freed back to the system: pyarrow's pool (when
    pyarrow is loaded) keeps freed blocks for its next allocation, and glibc's malloc
    keeps freed blocks inside its heap. Takes milliseconds."""
    arrow = sys.modules.get("pyarrow")
    if arrow is not None:
        arrow.default_memory_pool().release_unused()
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def map_big_blocks() -> None:
    """From now on, let glibc's malloc map every block of BIG_BLOCK bytes or more on its
    own and unmap it when it is freed. By default glibc raises that threshold to the
    size of each big block freed (up to 32 MiB) and then serves such blocks from its
    heap, which keeps them when they are freed: a million-row run held ~10 MiB of freed
    index arrays and chunks that way. Process-wide, so for a process torchclf runs (the
    command line), not for a library call."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(M_MMAP_THRESHOLD, BIG_BLOCK)


@lru_cache(maxsize=1)
def _glibc():
    """The C library when it is glibc (it has ``malloc_trim`` and ``mallopt``), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.malloc_trim, libc.mallopt  # musl has neither
    except (OSError, AttributeError):
        return None
    return libc
