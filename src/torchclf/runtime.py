"""Where the numbers run and how they are made repeatable: device choice and seeding.

Nothing here runs at import time: the device and the seed are chosen per call, never
kept in globals.
"""

from __future__ import annotations

import random

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
