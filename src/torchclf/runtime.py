"""Where the numbers run and how they are made repeatable: device choice, seeding and
threads for tiny work.

Nothing here runs at import time: the device and the seed are chosen per call, never
kept in globals.
"""

from __future__ import annotations

import random
import threading
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch

from torchclf.errors import UserError

DEVICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; an explicit name must be available."""
    if isinstance(name, torch.device):
        return name
    name = (name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind = name.split(":")[0]
    if kind not in DEVICES:
        raise UserError(f"unknown device {name!r}: choose from {', '.join(DEVICES)}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise UserError("device 'cuda' is not available on this machine: use --device auto or cpu")
    if kind == "mps" and not (getattr(torch.backends, "mps", None)
                              and torch.backends.mps.is_available()):
        raise UserError("device 'mps' is not available on this machine: use --device auto or cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (which seeds every CUDA/MPS device too) in one call."""
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# torch's grain: below this many elements an op runs on one thread anyway (reductions
# and elementwise kernels alike), except a few kernels that split even tiny inputs
# across threads, such as log_sigmoid inside BCEWithLogitsLoss. Their results do not
# depend on the thread count, but waking the other OpenMP threads for a 200-row test set
# costs milliseconds on a busy machine: 0.4 s or more of a 2 s lesson run, at 101
# evaluations.
GRAIN_SIZE = 32768


@contextmanager
def one_thread_for_tiny(*sizes: int) -> Iterator[None]:
    """Run the block on one torch thread when every tensor it makes has at most
    ``GRAIN_SIZE`` elements (``sizes``: the largest ones), where that changes no number.

    Only in a process with no other Python thread: a thread's first torch call takes
    its thread count from the last ``set_num_threads``, so another thread starting
    during the block would keep one thread for good. The command line qualifies; a web
    server, ``train_many``'s pool or a notebook kernel (with its I/O threads) do not.
    """
    before = torch.get_num_threads()
    if before == 1 or max(sizes) > GRAIN_SIZE or threading.active_count() > 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
