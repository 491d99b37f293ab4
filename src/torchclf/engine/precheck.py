"""The notebook's mistakes, caught before training starts and named with their fix.

``torchclf.fit`` calls ``check_call`` before a single step: data that is not a Dataset,
a model whose input width, output width or class count does not match the data. After
training, ``warn_if_stuck`` warns when the loss exploded or sat at chance, which is
almost always the learning rate. Nothing here changes the model or the data: the
widths are read from the model's Linear layers, never by calling it.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from torch import nn

from torchclf.data.dataset import Dataset
from torchclf.errors import UserError
from torchclf.task import resolve_task


def _not_a_dataset(value: object, what: str) -> UserError | None:
    if isinstance(value, Dataset):
        return None
    kind = type(value).__module__.split(".")[0] + "." + type(value).__name__
    if isinstance(value, (np.ndarray, torch.Tensor, list, tuple)) or kind.startswith("pandas."):
        return UserError(f"fit takes Datasets, not {type(value).__name__} {what}: "
                         "make one with ds = tc.from_arrays(X, y), then "
                         "tc.fit(model, ds) (or train, test = ds.split())")
    return UserError(f"fit takes a Dataset as {what}, got {type(value).__name__}: make one "
                     "with tc.from_arrays(X, y)")


def _linears(model: nn.Module) -> list[nn.Linear]:
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def check_call(model: nn.Module, train: object, test: object = None,
               task: str | None = None) -> None:
    """A UserError, one line naming the fix, for a call ``fit`` cannot train well."""
    if not isinstance(model, nn.Module):
        raise UserError(f"fit's first argument is the model (a torch.nn.Module), got "
                        f"{type(model).__name__}: call tc.fit(model, train, test)")
    problem = _not_a_dataset(train, "as the training data")
    if problem is None and test is not None:
        problem = _not_a_dataset(test, "as the test data")
    if problem is not None:
        raise problem
    n_features = train.n_features
    linears = _linears(model)
    if linears and linears[0].in_features != n_features:
        raise UserError(f"the model takes {linears[0].in_features} input features but the "
                        f"data has {n_features}: build it with in_features={n_features}")
    if len(train) == 0:
        return  # fit's own line names the empty training set
    if train.n_classes < 2:  # no model size fixes one class: say what the data lacks
        resolve_task(train.n_classes, task)
    model_classes = getattr(model, "n_classes", None)
    if model_classes is not None and int(model_classes) != train.n_classes:
        raise UserError(f"the model was built for n_classes={model_classes} but the labels "
                        f"hold {train.n_classes} classes {_shown(train.classes)}: build it "
                        f"with n_classes={train.n_classes}")
    task = getattr(model, "task", None) or resolve_task(train.n_classes, task)
    if linears:
        outputs, wanted = linears[-1].out_features, 1 if task == "binary" else train.n_classes
        if outputs != wanted:
            fix = ("give the model 1 output (one logit), or pass task='multiclass'"
                   if task == "binary" and outputs == 2 else
                   f"give the model {wanted} output{'s' if wanted > 1 else ''}")
            raise UserError(f"the model gives {outputs} outputs but a {task} task on "
                            f"{train.n_classes} classes needs {wanted}: {fix}")


def _shown(classes: tuple) -> str:
    listed = ", ".join(map(repr, classes[:5]))
    return f"({listed}{', ...' if len(classes) > 5 else ''})"


FLAT = 0.01  # a loss that fell less than 1% from its start did not fall
STUCK_EPOCHS = 20  # a shorter run may just not have started learning yet


def warn_if_stuck(history: dict, train: Dataset, lr: float) -> str | None:
    """A UserWarning (and its text) when the training loss exploded, or did not fall
    while the accuracy stayed at chance (the share of the commonest class); None
    otherwise."""
    loss = [v for v in history.get("loss", []) if v is not None]
    acc = [v for v in history.get("accuracy", []) if v is not None]
    if len(loss) < 2 or not acc:
        return None
    first, last = float(loss[0]), float(loss[-1])
    chance = float(np.bincount(train.y).max() / len(train.y)) if len(train) else 0.0
    message = None
    if not math.isfinite(last) or (math.isfinite(first) and last > 2 * first + 1):
        message = (f"the training loss exploded ({first:.3g} -> {last:.3g}): lr={lr:g} "
                   f"is probably too high, try lr={lr / 10:g}")
    elif len(loss) >= STUCK_EPOCHS and acc[-1] <= chance + 0.02 and last >= (1 - FLAT) * first:
        fix = (f"lr={lr:g} is probably too high, try lr={lr / 10:g}" if lr >= 1 else
               f"try a higher lr (lr={lr * 10:g}), more epochs, or a model that can "
               "bend (a non-linear activation)")
        message = (f"the accuracy stayed at chance ({100 * acc[-1]:.0f}%) and the loss "
                   f"did not fall ({first:.3g} -> {last:.3g}): {fix}")
    if message:
        warnings.warn(message, UserWarning, stacklevel=3)
    return message
