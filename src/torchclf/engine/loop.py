"""fit(): the lesson's training loop as one call, on the training engine.

fit checks its arguments, prepares tensors, model and optimizer, and hands the epochs
to ``engine.engine.Engine`` with the backend ``engine.backends.choose_backend`` picks:
the compiled kernel for SGD MLPs on the CPU (full batch or mini-batches),
autograd otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from torchclf import task as tasks
from torchclf.config import profiles
from torchclf.config.schema import OutputConfig, TrainConfig, split_name
from torchclf.spec import spec_of
from torchclf.data.dataset import Dataset, Standardizer
from torchclf.errors import UserError
from torchclf.runtime import resolve_device, seed_everything
from torchclf.engine.backends import batch_size_for, choose_backend
from torchclf.engine.callbacks import Callback, EarlyStopping
from torchclf.engine.checkpoint import Checkpoint
from torchclf.engine.divergence import TrainingDiverged
from torchclf.engine.engine import HISTORY_COLUMNS, Engine, TrainingInterrupted, new_history
from torchclf.optimizers import make_optimizer
from torchclf.schedules import make_schedule

__all__ = ["fit", "TrainingDiverged", "TrainingInterrupted", "HISTORY_COLUMNS"]


def _tensors(ds: Dataset, scaler: Standardizer | None, device: torch.device,
             task: str) -> tuple[torch.Tensor, torch.Tensor]:
    X = scaler.transform(ds.X) if scaler is not None else ds.X
    return (torch.as_tensor(X, device=device),
            tasks.targets(torch.as_tensor(ds.y, device=device), task))


def _scaling(scaler: Standardizer | None, device: torch.device):
    """How the engine scales test and validation rows on the CPU: a chunk at a time as
    it evaluates them (the same numbers as scaling them whole, without a scaled copy of
    them all); None where they are scaled whole up front (no scaler, another device)."""
    if scaler is None or device.type != "cpu":
        return None
    return lambda X: torch.from_numpy(scaler.transform(X.numpy()))


def _check_data(train: Dataset, test: Dataset | None) -> None:
    if len(train) == 0:
        raise UserError("the training data is empty: it needs at least one row per class")
    if len(np.unique(train.y)) < 2:
        raise UserError("the training data holds a single class: classification needs "
                        "examples of at least 2 classes")
    if test is not None and test.n_features != train.n_features:
        raise UserError(f"train has {train.n_features} features but test has {test.n_features}")


@dataclass
class Outcome:
    """What training produced, before any metric is taken: ``Result.from_outcome``."""

    model: torch.nn.Module
    train: Dataset            # the rows trained on (minus an early-stopping split)
    test: Dataset | None
    task: str
    scaler: Standardizer | None
    history: dict
    config: dict
    engine: str               # the backend that ran: "fast" (the kernel) or "autograd"
    stop_reason: str = ""


_fit = profiles.defaults(profiles.FIT, "train")  # every default lives in the schema


def fit(model: torch.nn.Module, train: Dataset, test: Dataset | None = None, *,
        optimizer: str = _fit("optimizer"), lr: float = _fit("lr"),
        epochs: int = _fit("epochs"), batch_size: int | None = None,
        weight_decay: float = _fit("weight_decay"), momentum: float = _fit("momentum"),
        seed: int | None = _fit("seed"), log_every: int | None = None, eval_every: int | None = None,
        standardize: bool = False, early_stopping: int | None = None,
        validation_fraction: float = 0.1, device: str | torch.device | None = "auto",
        task: str | None = None, callbacks: Sequence[Callback] = (),
        config: dict | None = None, checkpoint_path: str | Path | None = None,
        checkpoint_every: int | None = None, resume: Checkpoint | None = None,
        checkpoint_extra: dict | None = None, engine: str = _fit("engine"),
        l1: float = _fit("l1"), lr_schedule: str = _fit("lr_schedule"),
        lr_step_size: int = _fit("lr_step_size"), lr_gamma: float = _fit("lr_gamma"),
        lr_patience: int = _fit("lr_patience"),
        class_weight: str | dict = _fit("class_weight")) -> Outcome:
    """Train ``model`` on ``train``, evaluating on ``test``; return what came out.

    ``torchclf.fit`` wraps this and returns a Run (metrics, plots, save).

    Parameters
    ----------
    model : any module mapping (n, n_features) floats to logits: (n, 1) for a binary
        task, (n, K) for a multiclass one. An ``MLP`` says its task itself.
    train, test : Datasets with the same features and classes
    optimizer, lr, momentum, weight_decay : see ``torchclf.optimizers``
    l1 : adds l1 * sum(|W|) over the weight matrices (not the biases) to the loss each
        step minimises; the logged loss is the data loss without it
    lr_schedule, lr_step_size, lr_gamma, lr_patience : how the lr changes, stepped once
        per epoch (``torchclf.schedules``: none, step, cosine, onecycle, plateau)
    class_weight : "none", "balanced" (n_rows / (n_classes * rows of the class), over
        the training rows) or a dict {label: weight} (unlisted classes weigh 1); the
        loss is the weighted mean, sum(w[y] * loss) / sum(w[y]), for binary and
        multiclass alike, and the logged train and test losses are weighted the same way
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
    engine : "auto" uses the compiled kernel (``engine.fast``) for SGD MLPs on the CPU,
        full batch or mini-batches (not with l1, lr_schedule or class_weight, which only
        autograd implements), where it prints what autograd prints, and autograd
        otherwise (Adam's steps can amplify the kernel's other summation order);
        "autograd" always uses autograd; "fast" insists on the kernel (SGD, Adam, AdamW)
    """

    epochs = spec_of(TrainConfig, "epochs").check("epochs", epochs)
    l1 = spec_of(TrainConfig, "l1").check("l1", l1)
    for section, name, every in ((TrainConfig, "log_every", log_every),
                                 (TrainConfig, "eval_every", eval_every),
                                 (OutputConfig, "checkpoint_every", checkpoint_every)):
        if every is not None:  # None: no such points
            spec_of(section, name).check(name, every)
    batch_size_for(1, batch_size)  # validates it
    _check_data(train, test)
    tasks.warn_rare_classes(train.y, train.classes)
    task = getattr(model, "task", None) or tasks.resolve_task(train.n_classes, task)
    dev = resolve_device(device)
    if seed is not None:
        seed_everything(seed)

    val, val_source, callbacks = None, train, list(callbacks)
    if early_stopping is not None:
        train, val = train.split(validation_fraction, seed=0 if seed is None else seed)
        callbacks.append(EarlyStopping(patience=int(early_stopping)))
    scaler = Standardizer().fit(train.X) if standardize else None
    model.to(dev)
    X, y = _tensors(train, scaler, dev, task)
    prepare = _scaling(scaler, dev)
    held_out = None if prepare is not None else scaler  # the scaler test and val need now
    opt = make_optimizer(optimizer, model.parameters(), lr, weight_decay, momentum)
    schedule = make_schedule(lr_schedule, opt, epochs, lr_step_size, lr_gamma, lr_patience)
    weights = tasks.class_weights(class_weight, train.y, train.classes)
    weights = None if weights is None else torch.as_tensor(weights, dtype=X.dtype, device=dev)
    gen = torch.Generator(device="cpu").manual_seed(0 if seed is None else seed)
    history = new_history(val is not None)
    if resume is not None:
        _check_resumed_schedule(schedule, resume, epochs)
    start_epoch = 0 if resume is None else resume.restore(model, opt, gen, history, epochs,
                                                          schedule, callbacks)
    writer = Checkpoint.writer(checkpoint_path, model, opt, gen, history, config or {},
                               checkpoint_extra or {}, schedule, callbacks) \
        if checkpoint_path else None
    backend = choose_backend(engine, model, opt, X, y, task,
                             batch_size_for(X.shape[0], batch_size), gen, l1=l1,
                             class_weight=weights, schedule=schedule,
                             labels=torch.from_numpy(train.y) if dev.type == "cpu" else None)
    engine_ = Engine(backend, callbacks=callbacks, history=history, log_every=log_every,
                     eval_every=eval_every, checkpoint_every=checkpoint_every,
                     checkpoint=writer, start_epoch=start_epoch, schedule=schedule,
                     test=_tensors(test, held_out, dev, task) if test is not None else None,
                     val=_tensors(val, held_out, dev, task) if val is not None else None,
                     prepare=prepare)
    engine_.state.scaler = scaler  # for callbacks that call the model on raw rows
    state = engine_.run(epochs)
    if config is None:
        config = _describe_call(model, val_source, task, dict(
            optimizer=optimizer, lr=lr, epochs=epochs, batch_size=batch_size,
            weight_decay=weight_decay, momentum=momentum, seed=seed, log_every=log_every,
            eval_every=eval_every, early_stopping=early_stopping, device=str(device),
            l1=l1, lr_schedule=lr_schedule, lr_step_size=lr_step_size, lr_gamma=lr_gamma,
            lr_patience=lr_patience, class_weight=_as_setting(class_weight)), standardize)
    # the engine that ran, so that rerunning the config reruns the same arithmetic
    config = {**config, "train": {**config.get("train", {}), "engine": backend.name}}
    return Outcome(model, train, test, task, scaler, history, config, backend.name,
                   state.stop_reason)


def _check_resumed_schedule(schedule, resume: Checkpoint, epochs: int) -> None:
    """A schedule shaped by the run's length resumes only with the same length."""
    if schedule is None or resume.schedule_state is None:
        return  # Checkpoint.restore names a missing or unexpected schedule
    trained = schedule.trained_epochs(resume.schedule_state)
    if trained is not None and trained != epochs:
        raise UserError(f"lr schedule {schedule.name!r} spans the run's {trained} epochs, so "
                        f"the resumed run cannot train {epochs}: resume with epochs "
                        f"{trained}, or start a new run")


def _as_setting(class_weight):
    """``class_weight`` as the config records it: a dict's labels as text (TOML keys)."""
    if isinstance(class_weight, dict):
        return {str(k): float(v) for k, v in class_weight.items()}
    return class_weight


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
        data["split"] = split_name(train.meta["split"]["stratify"])
    out: dict = {"name": train.name, "data": data,
                 "train": {k: v for k, v in train_args.items() if v is not None}}
    spec = getattr(model, "spec", None)
    if spec is not None:
        out["model"] = {"hidden": list(spec.hidden), "activation": spec.activation,
                        "dropout": spec.dropout, "task": task}
    return out
