"""Binary vs multi-class: which loss, and how logits become probabilities and labels.

Binary problems use one logit with ``BCEWithLogitsLoss`` (sigmoid built in); multi-class
problems use K logits with ``CrossEntropyLoss`` (softmax built in). Both are exposed as
(n, K) probabilities so every caller handles one shape.
"""

from __future__ import annotations

import torch
from torch import nn

from torchclf.errors import UserError

TASKS = ("binary", "multiclass")


def resolve_task(n_classes: int, task: str | None = None) -> str:
    """``task`` if given and valid, else binary for 2 classes and multiclass above."""
    if n_classes < 2:
        raise UserError(f"classification needs at least 2 classes, got {n_classes}")
    if task in (None, "auto"):
        return "binary" if n_classes == 2 else "multiclass"
    if task not in TASKS:
        raise UserError(f"unknown task {task!r}: choose from auto, binary, multiclass")
    if task == "binary" and n_classes != 2:
        raise UserError(f"task 'binary' needs exactly 2 classes, got {n_classes}: use multiclass")
    return task


def loss_function(task: str) -> nn.Module:
    """BCEWithLogitsLoss for binary, CrossEntropyLoss for multiclass."""
    return nn.BCEWithLogitsLoss() if task == "binary" else nn.CrossEntropyLoss()


def targets(y: torch.Tensor, task: str) -> torch.Tensor:
    """Integer codes in the dtype and shape the task's loss expects."""
    return y.float().reshape(-1, 1) if task == "binary" else y.long().reshape(-1)


def probabilities(logits: torch.Tensor, task: str) -> torch.Tensor:
    """(n, 1) or (n, K) logits -> (n, K) class probabilities summing to 1."""
    if task == "binary":
        p = torch.sigmoid(logits.reshape(-1))
        return torch.stack([1.0 - p, p], dim=1)
    return torch.softmax(logits, dim=1)


def labels(logits: torch.Tensor, task: str) -> torch.Tensor:
    """(n,) predicted class codes; binary thresholds the logit at 0 (probability 0.5)."""
    if task == "binary":
        return (logits.reshape(-1) > 0).long()
    return logits.argmax(dim=1)
