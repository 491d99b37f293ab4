"""The one divergence rule, exception and message, for every front end and backend.

A loss counts as diverged when it is nan or inf, or beyond what float32 can hold:
float32 front ends see inf there anyway, and the float64 estimator would otherwise
climb for a dozen more epochs (1e21, 1e42, ... 1e225) while its plateau rule stops
training and reports a "fitted" model.
"""

from __future__ import annotations

import math
from typing import Iterable

from torchclf.errors import UserError

LARGEST_LOSS = 3.4028234663852886e38  # torch.finfo(torch.float32).max


class TrainingDiverged(UserError):
    """The loss became nan or inf: the learning rate is almost always too high."""


def diverged_message(epoch: int, lr: float, loss: float | None = None) -> str:
    """``training diverged at epoch N (loss = inf): lower the learning rate (now 1e+12)``;
    without a loss, the weights are what stopped being finite."""
    what = f"loss = {loss}" if loss is not None else "the weights are no longer finite"
    return f"training diverged at epoch {epoch} ({what}): lower the learning rate (now {lr:g})"


def is_diverged(loss: float) -> bool:
    return not (math.isfinite(loss) and abs(loss) <= LARGEST_LOSS)


def first_diverged(losses: Iterable[float]) -> int | None:
    """The index of the first diverged loss, or None."""
    losses = [float(v) for v in losses]
    if losses and math.isfinite(sum(losses)) and max(losses) <= LARGEST_LOSS \
            and min(losses) >= -LARGEST_LOSS:
        return None  # the common case, without a Python call per epoch
    return next((i for i, loss in enumerate(losses) if is_diverged(loss)), None)


def check_losses(losses: Iterable[float], first_epoch: int, lr: float) -> None:
    """Raise ``TrainingDiverged`` at the first diverged loss; ``losses[i]`` is epoch
    ``first_epoch + i``."""
    losses = [float(v) for v in losses]
    bad = first_diverged(losses)
    if bad is not None:
        raise TrainingDiverged(diverged_message(first_epoch + bad, lr, losses[bad]))
