"""Optimizers by name, so configs, the CLI and the playground share one list."""

from __future__ import annotations

from typing import Iterable

import torch

from torchclf.errors import UserError
from torchclf.registry import unknown_name

OPTIMIZERS = ("sgd", "adam", "adamw")


def make_optimizer(name: str, params: Iterable[torch.nn.Parameter], lr: float,
                   weight_decay: float = 0.0, momentum: float = 0.0) -> torch.optim.Optimizer:
    """SGD (with optional momentum), Adam or AdamW, with validated hyperparameters."""
    name = name.lower()
    if name not in OPTIMIZERS:
        raise unknown_name("optimizer", name, OPTIMIZERS)
    if not lr > 0 or lr != lr or lr == float("inf"):
        raise UserError(f"expected lr > 0, got {lr}")
    if weight_decay < 0:
        raise UserError(f"expected weight decay >= 0, got {weight_decay}")
    if not 0 <= momentum < 1:
        raise UserError(f"expected 0 <= momentum < 1, got {momentum}")
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
