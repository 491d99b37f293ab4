"""Binary vs multi-class: which loss, and how logits become probabilities and labels.

Binary problems use one logit with ``BCEWithLogitsLoss`` (sigmoid built in); multi-class
problems use K logits with ``CrossEntropyLoss`` (softmax built in). Both are exposed as
(n, K) probabilities so every caller handles one shape.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn

from torchclf.errors import UserError
from torchclf.hyper import CLASS_WEIGHT

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


def loss_function(task: str, weight: torch.Tensor | None = None) -> nn.Module:
    """BCEWithLogitsLoss for binary, CrossEntropyLoss for multiclass.

    ``weight`` (K,) weighs each row's loss by its class; the mean is then over the
    weights, sum(w[y_i] * loss_i) / sum(w[y_i]), as CrossEntropyLoss(weight=...)
    takes it, for binary tasks too.
    """
    if weight is None:
        return nn.BCEWithLogitsLoss() if task == "binary" else nn.CrossEntropyLoss()
    return WeightedBCE(weight) if task == "binary" else nn.CrossEntropyLoss(weight=weight)


class WeightedBCE(nn.Module):
    """BCEWithLogitsLoss with per-class weights, normalised as CrossEntropyLoss's."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("weight", weight)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        w = self.weight[target.reshape(-1).long()].reshape(target.shape).to(logits.dtype)
        loss = nn.functional.binary_cross_entropy_with_logits(logits, target,
                                                              reduction="none")
        return (w * loss).sum() / w.sum()


RARE_SHARE = 0.01  # a class with under 1% of the training rows is warned about


def class_counts(codes: np.ndarray, classes: tuple) -> dict[str, int]:
    """Rows per class, keyed by the label as text (as JSON and TOML keys are)."""
    counts = np.bincount(np.asarray(codes, dtype=np.int64), minlength=len(classes))
    return {str(c): int(n) for c, n in zip(classes, counts)}


def warn_rare_classes(codes: np.ndarray, classes: tuple) -> None:
    """A UserWarning naming the classes with under 1% of the training rows."""
    counts = class_counts(codes, classes)
    total = sum(counts.values())
    rare = [f"{c!r} ({n} of {total} rows)" for c, n in counts.items() if n < RARE_SHARE * total]
    if rare:
        which = f"class {rare[0]} has" if len(rare) == 1 else \
            f"classes {', '.join(rare)} have"
        warnings.warn(f"{which} under {RARE_SHARE:.0%} of the training rows: few examples "
                      "to learn from and to measure on; consider class_weight 'balanced'",
                      UserWarning, stacklevel=3)


def class_weights(setting, codes: np.ndarray, classes: tuple) -> np.ndarray | None:
    """(K,) weight per class code for the ``class_weight`` setting, or None for "none".

    "balanced" is n_rows / (n_classes * rows of the class) over ``codes`` (the training
    rows); a table maps labels (matched as text: TOML keys are text) to weights, and a
    class it leaves out weighs 1.
    """
    setting = CLASS_WEIGHT.check("class_weight", setting)
    if isinstance(setting, str):
        if setting == "none":
            return None
        counts = np.bincount(np.asarray(codes, dtype=np.int64), minlength=len(classes))
        return len(codes) / (len(classes) * np.maximum(counts, 1))
    names = [str(c) for c in classes]
    unknown = [k for k in setting if k not in names]
    if unknown:
        raise UserError(f"class_weight names {unknown[0]!r}, which is not a class of the "
                        f"training data ({', '.join(names)}): use those labels")
    return np.array([setting.get(n, 1.0) for n in names], dtype=np.float64)


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
