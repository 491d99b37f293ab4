"""fit(): the lesson's training loop, once, correctly.

Per epoch: forward, loss, backward, step, exactly as the lesson writes it. Losses and
accuracies stay on the device in preallocated buffers and reach the host only at log
points, so a GPU is never stalled every epoch; the test split is evaluated at log points
(or every ``eval_every`` epochs) rather than every epoch.
"""

from __future__ import annotations

import math
import time
from typing import Sequence

import numpy as np
import torch

from torchclf import task as tasks
from torchclf.data.dataset import Dataset, Standardizer
from torchclf.errors import UserError
from torchclf.runtime import resolve_device, seed_everything
from torchclf.train.callbacks import Callback, EarlyStopping, TrainState
from torchclf.train.optim import make_optimizer

HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "test_loss", "test_accuracy", "lr", "seconds")
FULL_BATCH_LIMIT = 8192  # up to this many rows, one batch per epoch (the lesson's way)
DEFAULT_BATCH = 256


class TrainingDiverged(UserError):
    """The loss became nan or inf: the learning rate is almost always too high."""


def _tensors(ds: Dataset, scaler: Standardizer | None, device: torch.device,
             task: str) -> tuple[torch.Tensor, torch.Tensor]:
    X = scaler.transform(ds.X) if scaler is not None else ds.X
    return (torch.as_tensor(X, device=device),
            tasks.targets(torch.as_tensor(ds.y, device=device), task))


@torch.no_grad()
def evaluate(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, task: str,
             loss_fn: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, accuracy) as device scalars, in eval mode; the caller's mode is restored."""
    was_training = model.training
    model.eval()
    try:
        logits = model(X)
        loss = loss_fn(logits, y)
        acc = (tasks.labels(logits, task) == y.reshape(-1).long()).float().mean()
    finally:
        model.train(was_training)
    return loss, acc


def fit(model: torch.nn.Module, train: Dataset, test: Dataset | None = None, *,
        optimizer: str = "sgd", lr: float = 0.1, epochs: int = 100,
        batch_size: int | None = None, weight_decay: float = 0.0, momentum: float = 0.0,
        seed: int | None = 42, log_every: int | None = None, eval_every: int | None = None,
        standardize: bool = False, early_stopping: int | None = None,
        validation_fraction: float = 0.1, device: str | torch.device | None = "auto",
        task: str | None = None, callbacks: Sequence[Callback] = (),
        config: dict | None = None) -> "Run":
    """Train ``model`` on ``train``, evaluating on ``test``; return a Run.

    Parameters
    ----------
    model : any module mapping (n, n_features) floats to logits: (n, 1) for a binary
        task, (n, K) for a multiclass one. An ``MLP`` says its task itself.
    train, test : Datasets with the same features and classes
    optimizer, lr, momentum, weight_decay : see ``train.optim``
    epochs : passes over the training data
    batch_size : rows per step; None means full batch up to 8192 rows, else 256
    seed : seeds shuffling and dropout (build the model with ``seed`` for its weights)
    log_every : epochs between log points (the lesson's printed line); None: last only
    eval_every : epochs between test evaluations; None: at log points only
    standardize : fit a Standardizer on ``train`` and apply it everywhere
    early_stopping : patience in epochs on a validation split carved from ``train``
    """
    from torchclf.run import Run

    if int(epochs) != epochs or epochs < 1:
        raise UserError(f"expected epochs >= 1, got {epochs}")
    if batch_size is not None and batch_size < 1:
        raise UserError(f"expected batch size >= 1, got {batch_size}")
    for name, every in (("log_every", log_every), ("eval_every", eval_every)):
        if every is not None and every < 1:
            raise UserError(f"expected {name} >= 1, got {every}")
    if test is not None and test.n_features != train.n_features:
        raise UserError(f"train has {train.n_features} features but test has {test.n_features}")
    task = getattr(model, "task", None) or tasks.resolve_task(train.n_classes, task)
    dev = resolve_device(device)
    if seed is not None:
        seed_everything(seed)

    val = None
    val_source = train
    callbacks = list(callbacks)
    if early_stopping is not None:
        train, val = train.split(validation_fraction, seed=0 if seed is None else seed)
        callbacks.append(EarlyStopping(patience=int(early_stopping)))
    scaler = Standardizer().fit(train.X) if standardize else None

    model.to(dev)
    model.train()
    X, y = _tensors(train, scaler, dev, task)
    test_t = _tensors(test, scaler, dev, task) if test is not None else None
    val_t = _tensors(val, scaler, dev, task) if val is not None else None
    loss_fn = tasks.loss_function(task)
    opt = make_optimizer(optimizer, model.parameters(), lr, weight_decay, momentum)
    n = X.shape[0]
    bs = batch_size or (n if n <= FULL_BATCH_LIMIT else DEFAULT_BATCH)
    gen = torch.Generator(device="cpu").manual_seed(0 if seed is None else seed)

    loss_buf = torch.zeros(epochs, device=dev)
    acc_buf = torch.zeros(epochs, device=dev)
    history: dict[str, list[float]] = {c: [] for c in HISTORY_COLUMNS}
    if val_t is not None:
        history.update(val_loss=[], val_accuracy=[])
    state = TrainState(model=model, epochs=epochs, history=history)
    synced = 0  # epochs whose numbers have reached the host
    start = time.perf_counter()
    for cb in callbacks:
        cb.on_fit_start(state)

    y_flat = y.reshape(-1).long()
    for epoch in range(epochs):
        state.epoch = epoch
        if bs >= n:
            logits = model(X)
            loss = loss_fn(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_buf[epoch] = loss.detach()
            acc_buf[epoch] = (tasks.labels(logits.detach(), task) == y_flat).float().mean()
        else:
            order = torch.randperm(n, generator=gen).to(dev)
            total, correct = torch.zeros((), device=dev), torch.zeros((), device=dev)
            for i in range(0, n, bs):
                idx = order[i:i + bs]
                xb, yb = X[idx], y[idx]
                logits = model(xb)
                loss = loss_fn(logits, yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.detach() * len(idx)
                correct += (tasks.labels(logits.detach(), task) == yb.reshape(-1).long()).sum()
            loss_buf[epoch] = total / n
            acc_buf[epoch] = correct / n

        is_last = epoch == epochs - 1
        is_log = log_every is not None and epoch % log_every == 0
        is_eval = is_log or is_last or (eval_every is not None and epoch % eval_every == 0)
        need_row = is_eval or val_t is not None
        row = None
        if need_row:
            row = _sync(history, loss_buf, acc_buf, synced, epoch, opt, start)
            synced = epoch + 1
            if is_eval and test_t is not None:
                tl, ta = evaluate(model, *test_t, task, loss_fn)
                row["test_loss"], row["test_accuracy"] = float(tl), float(ta)
                history["test_loss"][-1], history["test_accuracy"][-1] = row["test_loss"], \
                    row["test_accuracy"]
            if val_t is not None:
                vl, va = evaluate(model, *val_t, task, loss_fn)
                row["val_loss"], row["val_accuracy"] = float(vl), float(va)
                history["val_loss"][-1], history["val_accuracy"][-1] = row["val_loss"], \
                    row["val_accuracy"]
            _check_finite(history, synced, lr)
        for cb in callbacks:
            cb.on_epoch_end(state, row)
        if is_log or (is_last and log_every is not None):
            for cb in callbacks:
                cb.on_log(state, row)
        if state.stop:
            if not is_eval and test_t is not None:
                tl, ta = evaluate(model, *test_t, task, loss_fn)
                history["test_loss"][-1], history["test_accuracy"][-1] = float(tl), float(ta)
            break

    for cb in callbacks:
        cb.on_fit_end(state)
    model.eval()
    if config is None:
        config = _describe_call(model, val_source or train, task, dict(
            optimizer=optimizer, lr=lr, epochs=epochs, batch_size=batch_size,
            weight_decay=weight_decay, momentum=momentum, seed=seed, log_every=log_every,
            early_stopping=early_stopping, device=str(device)), standardize)
    return Run.from_training(model, train, test, task, scaler, history, config,
                             stop_reason=state.stop_reason)


def _describe_call(model: torch.nn.Module, train: Dataset, task: str, train_args: dict,
                   standardize: bool) -> dict:
    """A config for a notebook ``fit`` call: as much as the objects say about themselves."""
    data = {"source": train.meta.get("source", train.name), "standardize": standardize}
    if train.meta.get("params"):
        data["params"] = dict(train.meta["params"])
    if train.meta.get("target"):
        data["target"] = train.meta["target"]
    if "split" in train.meta:
        data["test_size"] = train.meta["split"]["test_size"]
        data["split_seed"] = train.meta["split"]["seed"]
    out: dict = {"name": train.name, "data": data,
                 "train": {k: v for k, v in train_args.items() if v is not None}}
    spec = getattr(model, "spec", None)
    if spec is not None:
        out["model"] = {"hidden": list(spec.hidden), "activation": spec.activation,
                        "dropout": spec.dropout, "task": task}
    return out


def _sync(history: dict, loss_buf: torch.Tensor, acc_buf: torch.Tensor, synced: int,
          epoch: int, opt: torch.optim.Optimizer, start: float) -> dict:
    """Copy epochs ``synced..epoch`` to the host history; return the newest row."""
    losses = loss_buf[synced:epoch + 1].tolist()
    accs = acc_buf[synced:epoch + 1].tolist()
    lr = float(opt.param_groups[0]["lr"])
    seconds = time.perf_counter() - start
    for i, (l, a) in enumerate(zip(losses, accs)):
        history["epoch"].append(synced + i)
        history["loss"].append(l)
        history["accuracy"].append(a)
        history["lr"].append(lr)
        history["seconds"].append(seconds)
        for key in history:
            if key not in ("epoch", "loss", "accuracy", "lr", "seconds"):
                history[key].append(math.nan)
    return {k: v[-1] for k, v in history.items()}


def _check_finite(history: dict, synced: int, lr: float) -> None:
    losses = np.asarray(history["loss"])
    bad = np.flatnonzero(~np.isfinite(losses))
    if len(bad):
        epoch = int(history["epoch"][bad[0]])
        raise TrainingDiverged(
            f"training diverged at epoch {epoch} (loss = {losses[bad[0]]}): "
            f"lower the learning rate (now {lr:g})")
