"""fit(): the lesson's training loop, once, correctly.

Per epoch: forward, loss, backward, step, exactly as the lesson writes it. Losses and
accuracies stay on the device in preallocated buffers and reach the host only at sync
points (log, evaluation and checkpoint epochs, and at least every ``SYNC_EVERY``
epochs so a diverged loss is caught early), so a GPU is not stalled every epoch.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from torchclf import task as tasks
from torchclf.data.dataset import Dataset, Standardizer
from torchclf.errors import UserError
from torchclf.runtime import resolve_device, seed_everything
from torchclf.engine.callbacks import Callback, EarlyStopping, TrainState
from torchclf.engine.checkpoint import Checkpoint
from torchclf.engine.optim import make_optimizer

HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "test_loss", "test_accuracy", "lr", "seconds")
FULL_BATCH_LIMIT = 8192  # up to this many rows, one batch per epoch (the lesson's way)
DEFAULT_BATCH = 256
SYNC_EVERY = 50          # epochs between host syncs at the latest (divergence check)
ENGINES = ("auto", "autograd", "fast")


class TrainingDiverged(UserError):
    """The loss became nan or inf: the learning rate is almost always too high."""


class TrainingInterrupted(Exception):
    """Stopped by a signal; a checkpoint was written if a path was given."""

    def __init__(self, epoch: int, checkpoint: Path | None) -> None:
        self.epoch, self.checkpoint = epoch, checkpoint
        where = f"; checkpoint saved to {checkpoint}" if checkpoint else ""
        super().__init__(f"interrupted after epoch {epoch}{where}")


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


def _check_data(train: Dataset, test: Dataset | None) -> None:
    if len(train) == 0:
        raise UserError("the training data is empty: it needs at least one row per class")
    if len(np.unique(train.y)) < 2:
        raise UserError("the training data holds a single class: classification needs "
                        "examples of at least 2 classes")
    if test is not None and test.n_features != train.n_features:
        raise UserError(f"train has {train.n_features} features but test has {test.n_features}")


def fit(model: torch.nn.Module, train: Dataset, test: Dataset | None = None, *,
        optimizer: str = "sgd", lr: float = 0.1, epochs: int = 100,
        batch_size: int | None = None, weight_decay: float = 0.0, momentum: float = 0.0,
        seed: int | None = 42, log_every: int | None = None, eval_every: int | None = None,
        standardize: bool = False, early_stopping: int | None = None,
        validation_fraction: float = 0.1, device: str | torch.device | None = "auto",
        task: str | None = None, callbacks: Sequence[Callback] = (),
        config: dict | None = None, checkpoint_path: str | Path | None = None,
        checkpoint_every: int | None = None, resume: Checkpoint | None = None,
        checkpoint_extra: dict | None = None, engine: str = "auto") -> "Result":
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
    checkpoint_path, checkpoint_every : write a resumable checkpoint every N epochs
        (and when interrupted by a signal, see ``StopOnSignal``)
    resume : a Checkpoint to continue from; the result is bit-identical on CPU to an
        uninterrupted run with the same arguments
    engine : "auto" uses the compiled kernel (``train.fast``) for full-batch MLPs on the
        CPU and autograd otherwise; "autograd" always uses autograd; "fast" insists
    """
    from torchclf.run import Result

    if int(epochs) != epochs or epochs < 1:
        raise UserError(f"expected epochs >= 1, got {epochs}")
    if batch_size is not None and batch_size < 1:
        raise UserError(f"expected batch size >= 1, got {batch_size}")
    for name, every in (("log_every", log_every), ("eval_every", eval_every),
                        ("checkpoint_every", checkpoint_every)):
        if every is not None and every < 1:
            raise UserError(f"expected {name} >= 1, got {every}")
    if resume is not None and early_stopping is not None:
        raise UserError("resuming is not supported with early stopping: "
                        "train again without --early-stopping")
    _check_data(train, test)
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

    history: dict[str, list[float]] = {c: [] for c in HISTORY_COLUMNS}
    if val_t is not None:
        history.update(val_loss=[], val_accuracy=[])
    start_epoch = 0
    if resume is not None:
        start_epoch = _restore(resume, model, opt, gen, history, epochs)
    loss_buf = torch.zeros(epochs, device=dev)
    acc_buf = torch.zeros(epochs, device=dev)
    state = TrainState(model=model, epochs=epochs, history=history, n_rows=n,
                       epoch=start_epoch - 1)
    synced = start_epoch  # epochs whose numbers have reached the host
    start = time.perf_counter() - (history["seconds"][-1] if history["seconds"] else 0.0)

    def save_checkpoint(done: int) -> Path | None:
        if checkpoint_path is None:
            return None
        if not all(torch.isfinite(p).all() for p in model.parameters()):
            raise TrainingDiverged(f"training diverged by epoch {done - 1}: the weights are "
                                   f"no longer finite; lower the learning rate (now {lr:g})")
        return Checkpoint(done, model.state_dict(), opt.state_dict(), gen.get_state(),
                          torch.get_rng_state(), history, config or {},
                          checkpoint_extra or {}).save(checkpoint_path)

    for cb in callbacks:
        cb.on_fit_start(state)

    y_flat = y.reshape(-1).long()
    fast = _fast_trainer(engine, model, opt, X, y, task, bs >= n)

    def is_event(e: int) -> bool:
        """Epochs after which the host must look: sync, evaluate, log, checkpoint."""
        return (e == epochs - 1 or val_t is not None or e + 1 - synced >= SYNC_EVERY
                or (log_every is not None and e % log_every == 0)
                or (eval_every is not None and e % eval_every == 0)
                or (checkpoint_every is not None and (e + 1) % checkpoint_every == 0))

    epoch = start_epoch
    while epoch < epochs:
        if fast is not None:  # run up to the next event in one kernel call
            stop_at = next(e for e in range(epoch, epochs) if is_event(e)) + 1
            fast.run(stop_at - epoch, loss_buf[epoch:stop_at], acc_buf[epoch:stop_at])
            for e in range(epoch, stop_at - 1):
                state.epoch = e
                for cb in callbacks:
                    cb.on_batch_end(state, n)
                    cb.on_epoch_end(state, None)
            epoch = stop_at - 1
            state.epoch = epoch
            for cb in callbacks:
                cb.on_batch_end(state, n)
        elif bs >= n:
            state.epoch = epoch
            logits = model(X)
            loss = loss_fn(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_buf[epoch] = loss.detach()
            acc_buf[epoch] = (tasks.labels(logits.detach(), task) == y_flat).float().mean()
            for cb in callbacks:
                cb.on_batch_end(state, n)
        else:
            state.epoch = epoch
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
                for cb in callbacks:
                    cb.on_batch_end(state, len(idx))
            loss_buf[epoch] = total / n
            acc_buf[epoch] = correct / n

        done = epoch + 1
        is_last = done == epochs
        is_log = log_every is not None and epoch % log_every == 0
        is_eval = is_log or is_last or (eval_every is not None and epoch % eval_every == 0)
        is_ckpt = checkpoint_every is not None and done % checkpoint_every == 0
        row = None
        if is_event(epoch):
            row = _sync(history, loss_buf, acc_buf, synced, epoch, opt, start)
            synced = done
            _check_finite(history, lr)
            if is_eval and test_t is not None:
                row.update(_record(history, "test", evaluate(model, *test_t, task, loss_fn)))
            if val_t is not None:
                row.update(_record(history, "val", evaluate(model, *val_t, task, loss_fn)))
        for cb in callbacks:
            cb.on_epoch_end(state, row)
        if is_log or (is_last and log_every is not None):
            for cb in callbacks:
                cb.on_log(state, row)
        if is_ckpt and not is_last:
            save_checkpoint(done)
        if state.stop:
            if synced < done:
                _sync(history, loss_buf, acc_buf, synced, epoch, opt, start)
                synced = done
                _check_finite(history, lr)
            if state.interrupted:
                for cb in callbacks:
                    cb.on_fit_end(state)
                raise TrainingInterrupted(done, save_checkpoint(done))
            if not is_eval and test_t is not None:
                _record(history, "test", evaluate(model, *test_t, task, loss_fn))
            break
        epoch += 1

    for cb in callbacks:
        cb.on_fit_end(state)
    model.eval()
    if config is None:
        config = _describe_call(model, val_source, task, dict(
            optimizer=optimizer, lr=lr, epochs=epochs, batch_size=batch_size,
            weight_decay=weight_decay, momentum=momentum, seed=seed, log_every=log_every,
            eval_every=eval_every, early_stopping=early_stopping, device=str(device)),
            standardize)
    return Result.from_training(model, train, test, task, scaler, history, config,
                             stop_reason=state.stop_reason)


def _fast_trainer(engine: str, model: torch.nn.Module, opt: torch.optim.Optimizer,
                  X: torch.Tensor, y: torch.Tensor, task: str, full_batch: bool):
    """The kernel trainer when the engine allows it and the model qualifies, else None."""
    if engine not in ENGINES:
        from torchclf.registry import unknown_name
        raise unknown_name("engine", engine, ENGINES)
    if engine == "autograd":
        return None
    from torchclf.engine import fast
    if fast.eligible(model, opt, X, full_batch):
        return fast.FastTrainer(model, opt, X, y, task)
    if engine == "fast":
        raise UserError("engine 'fast' needs a torchclf MLP without dropout, full-batch "
                        "training on the CPU, SGD/Adam/AdamW and a C compiler: "
                        "use engine 'auto'")
    return None


def _restore(ckpt: Checkpoint, model: torch.nn.Module, opt: torch.optim.Optimizer,
             gen: torch.Generator, history: dict, epochs: int) -> int:
    """Load a checkpoint's state into the live objects; returns epochs already done."""
    if ckpt.epoch >= epochs:
        raise UserError(f"the checkpoint is at epoch {ckpt.epoch}, past the {epochs} "
                        "epochs of this run: nothing left to train")
    try:
        model.load_state_dict(ckpt.model_state)
        opt.load_state_dict(ckpt.optimizer_state)
    except (RuntimeError, ValueError, KeyError) as e:
        raise UserError(f"the checkpoint does not match this model or optimizer ({e})") \
            from None
    gen.set_state(ckpt.shuffle_rng)
    torch.set_rng_state(ckpt.torch_rng)
    for key in history:
        history[key].extend(ckpt.history.get(key, []))
    return ckpt.epoch


def _record(history: dict, split: str, result: tuple[torch.Tensor, torch.Tensor]) -> dict:
    """Write an evaluation into the newest history row; returns it as row entries."""
    loss, acc = float(result[0]), float(result[1])
    history[f"{split}_loss"][-1], history[f"{split}_accuracy"][-1] = loss, acc
    return {f"{split}_loss": loss, f"{split}_accuracy": acc}


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
    """Copy epochs ``synced..epoch`` to the host history; return the newest row.

    ``seconds`` is the time since the start when the numbers were read, the same for
    every epoch read together.
    """
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


def _check_finite(history: dict, lr: float) -> None:
    losses = history["loss"]
    if math.isfinite(sum(losses[-SYNC_EVERY:])) and math.isfinite(losses[-1]):
        return
    bad = np.flatnonzero(~np.isfinite(np.asarray(losses)))
    if len(bad):
        epoch = int(history["epoch"][bad[0]])
        raise TrainingDiverged(
            f"training diverged at epoch {epoch} (loss = {losses[bad[0]]}): "
            f"lower the learning rate (now {lr:g})")
