"""The training engine: one epoch loop for every front end, over a backend.

A backend computes epochs (``engine.backends``); the engine decides when the host looks
at the numbers (sync points: log, evaluation and checkpoint epochs, the last epoch,
and at least every ``sync_every`` epochs so a diverged loss is caught early), checks
them for divergence, keeps the history, evaluates on test and validation data, calls
the callbacks and writes checkpoints. Losses and accuracies stay on the device in
preallocated buffers until a sync point, so a GPU is not stalled every epoch, and the
kernel backend runs every epoch up to the next sync point in one call.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable, Sequence

import torch

from torchclf import task as tasks
from torchclf.engine.callbacks import Callback, TrainState
from torchclf.engine.divergence import TrainingDiverged, diverged_message, first_diverged
from torchclf.model import MLP
from torchclf.runtime import GRAIN_SIZE, one_thread_for_tiny

HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "test_loss", "test_accuracy", "lr", "seconds")
SYNC_EVERY = 50  # epochs between host syncs at the latest (divergence check)

Split = tuple[torch.Tensor, torch.Tensor]  # (X, targets as the loss expects them)
Prepare = Callable[[torch.Tensor], torch.Tensor]  # rows -> the model's inputs


class TrainingInterrupted(Exception):
    """Stopped by a signal; a checkpoint was written if a path was given."""

    def __init__(self, epoch: int, checkpoint: Path | None) -> None:
        self.epoch, self.checkpoint = epoch, checkpoint
        where = f"; checkpoint saved to {checkpoint}" if checkpoint else ""
        super().__init__(f"interrupted after epoch {epoch}{where}")


def new_history(with_validation: bool = False) -> dict[str, list[float]]:
    history: dict[str, list[float]] = {c: [] for c in HISTORY_COLUMNS}
    if with_validation:
        history.update(val_loss=[], val_accuracy=[])
    return history


@torch.no_grad()
def evaluate(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, task: str,
             loss_fn: torch.nn.Module, prepare: Prepare | None = None
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, accuracy) as device scalars, in eval mode; the caller's mode is restored.
    ``prepare`` maps rows of X to the model's inputs (the training rows' scaling, say).

    Rows are evaluated ``rows_per_chunk`` at a time, so each layer's output stays small
    (a 200,000-row test set in one piece made a 25 MiB tensor per layer). Over several
    chunks the loss is each chunk's mean times its rows (its class weights, for a
    weighted loss) summed in float64 over the total: the one-piece loss up to the order
    of summation; the accuracy is the one-piece accuracy exactly. A loss this cannot
    split (not torchclf's own) is evaluated in one piece.
    """
    was_training = model.training
    model.eval()
    rows = rows_per_chunk(model, X) if _splittable(loss_fn) else len(X)
    try:
        with one_thread_for_tiny(*_largest_tensors(model, X[:rows])):
            if len(X) <= rows:
                logits = model(_prepared(X, prepare))
                return loss_fn(logits, y), _correct(logits, y, task).to(logits.dtype).mean()
            # running sums only: nothing of a chunk outlives it
            total = torch.zeros((), dtype=torch.float64, device=X.device)
            weight, correct = total.clone(), torch.zeros((), dtype=torch.int64,
                                                         device=X.device)
            for i in range(0, len(X), rows):
                logits, target = model(_prepared(X[i:i + rows], prepare)), y[i:i + rows]
                w = _chunk_weight(loss_fn, target)
                total += loss_fn(logits, target).double() * w
                weight += w
                correct += _correct(logits, target, task).sum()
            # the count over the rows: what the mean of the 0/1 flags in one piece is
            return (total / weight).to(logits.dtype), correct.to(logits.dtype) / len(X)
    finally:
        model.train(was_training)


EVAL_ELEMENTS = 1 << 17  # floats in one layer's output while evaluating (512 KiB)


def rows_per_chunk(model: torch.nn.Module, X: torch.Tensor) -> int:
    """Rows evaluated at once: EVAL_ELEMENTS over the widest layer of a torchclf MLP
    (and at least one row); any other module's rows in one piece."""
    if not isinstance(model, MLP):
        return max(1, len(X))
    s = model.spec
    return max(1, EVAL_ELEMENTS // max(s.in_features, s.out_features, *s.hidden))


def _splittable(loss_fn: torch.nn.Module) -> bool:
    """Losses whose mean over rows ``_chunk_weight`` knows how to weigh: torchclf's own."""
    return (type(loss_fn) in (torch.nn.BCEWithLogitsLoss, torch.nn.CrossEntropyLoss,
                              tasks.WeightedBCE)
            and getattr(loss_fn, "reduction", "mean") == "mean"
            and not getattr(loss_fn, "label_smoothing", 0))


def _chunk_weight(loss_fn: torch.nn.Module, target: torch.Tensor) -> torch.Tensor | float:
    """What a chunk's mean loss is a mean over: its rows, or the sum of its rows'
    class weights for a class-weighted loss."""
    weight = loss_fn.weight if isinstance(loss_fn, (torch.nn.CrossEntropyLoss,
                                                    tasks.WeightedBCE)) else None
    if weight is None:
        return float(target.shape[0])
    return weight[target.reshape(-1).long()].double().sum()


def _prepared(X: torch.Tensor, prepare: Prepare | None) -> torch.Tensor:
    return X if prepare is None else prepare(X)


def _correct(logits: torch.Tensor, y: torch.Tensor, task: str) -> torch.Tensor:
    """(n,) whether each row's predicted class is its label."""
    return tasks.labels(logits, task) == y.reshape(-1).long()


def _largest_tensors(model: torch.nn.Module, X: torch.Tensor) -> tuple[int, ...]:
    """Elements of the largest tensors evaluating a torchclf MLP on the CPU makes or
    reads (rows x widest layer, widest squared); any other module counts as large."""
    if not isinstance(model, MLP) or X.device.type != "cpu":
        return (GRAIN_SIZE + 1,)
    s = model.spec
    widest = max(s.in_features, s.out_features, *s.hidden)
    return X.shape[0] * widest, widest * widest


class Engine:
    """Trains ``backend.model`` epoch by epoch; ``run(until)`` may be called repeatedly.

    ``test`` is evaluated at log and eval points and at the end of each run, ``val``
    after every epoch (for early stopping). ``checkpoint(done)`` writes a checkpoint
    after ``done`` epochs and returns its path; the engine calls it every
    ``checkpoint_every`` epochs and when a callback interrupts training. ``schedule``
    (a ``schedules.LRSchedule``, autograd backends only) is stepped after every epoch
    with its training loss; the history's ``lr`` is the rate each epoch trained with.
    Training and test losses are the backend's loss (its class weights included, no
    penalty), so the two curves compare. ``prepare`` maps test and val rows to the
    model's inputs as they are evaluated, a chunk at a time (``evaluate``).
    """

    def __init__(self, backend, *, callbacks: Sequence[Callback] = (),
                 test: Split | None = None, val: Split | None = None,
                 history: dict | None = None, log_every: int | None = None,
                 eval_every: int | None = None, sync_every: int | None = SYNC_EVERY,
                 checkpoint_every: int | None = None,
                 checkpoint: Callable[[int], Path | None] | None = None,
                 start_epoch: int = 0, schedule=None, prepare: Prepare | None = None
                 ) -> None:
        if schedule is not None and backend.chunked:
            raise ValueError("an lr schedule is stepped every epoch: it needs a backend "
                             "that trains one epoch per call")
        self.backend, self.callbacks = backend, list(callbacks)
        self.test, self.val, self.prepare = test, val, prepare
        self.history = history if history is not None else new_history(val is not None)
        self.log_every, self.eval_every, self.sync_every = log_every, eval_every, sync_every
        self.checkpoint_every, self.checkpoint = checkpoint_every, checkpoint
        self.epoch = start_epoch  # epochs done
        self.schedule = schedule
        self.loss_fn = getattr(backend, "loss_fn", None) or tasks.loss_function(backend.task)
        seconds = self.history["seconds"]
        self._start = time.perf_counter() - (seconds[-1] if seconds else 0.0)
        self.state = TrainState(model=backend.model, epochs=start_epoch, history=self.history,
                                n_rows=backend.n_rows, epoch=start_epoch - 1,
                                task=backend.task)

    @property
    def lr(self) -> float:
        return float(self.backend.opt.param_groups[0]["lr"])

    def run(self, until: int) -> TrainState:
        """Train epochs ``self.epoch`` .. ``until - 1``; the model ends in eval mode."""
        model, state, backend = self.backend.model, self.state, self.backend
        state.epochs = until
        first = synced = epoch = self.epoch
        loss_buf = torch.zeros(until - first, dtype=backend.X.dtype, device=backend.X.device)
        acc_buf = torch.zeros(until - first, device=backend.X.device)
        self._lrs: list[float] = []  # the lr of each epoch from ``first`` on
        model.train()
        try:
            self._each("on_fit_start")
            while epoch < until:
                state.epoch = epoch
                if not backend.chunked:
                    i = epoch - first
                    self._lrs.append(self.lr)
                    loss_buf[i], acc_buf[i] = backend.epoch(self._on_batch)
                    if self.schedule is not None:
                        self.schedule.step(loss_buf[i])
                else:  # every epoch up to the next event in one call, then their hooks
                    stop_at = min(self._next_event(epoch, until, synced) + 1,
                                  epoch + backend.epochs_per_call)
                    self._lrs.extend([self.lr] * (stop_at - epoch))
                    backend.run(stop_at - epoch, loss_buf[epoch - first:stop_at - first],
                                acc_buf[epoch - first:stop_at - first])
                    for e in range(epoch, stop_at - 1) if self.callbacks else ():
                        state.epoch = e
                        self._on_batch(backend.n_rows)
                        self._each("on_epoch_end", None)
                    epoch = state.epoch = stop_at - 1
                    self._on_batch(backend.n_rows)
                done = self.epoch = epoch + 1
                is_last = done == until
                is_log = self.log_every is not None and epoch % self.log_every == 0
                is_eval = is_log or is_last or (self.eval_every is not None
                                                and epoch % self.eval_every == 0)
                row = None
                if self._is_event(epoch, until, synced):
                    row = self._sync(loss_buf, acc_buf, first, synced, epoch)
                    synced = done
                    if is_eval and self.test is not None:
                        row.update(self._record("test", self.test))
                    if self.val is not None:
                        row.update(self._record("val", self.val))
                self._each("on_epoch_end", row)
                if is_log or (is_last and self.log_every is not None):
                    self._each("on_log", row)
                if self._is_checkpoint(done) and not is_last:
                    self._save(done)
                if state.stop:
                    if synced < done:
                        self._sync(loss_buf, acc_buf, first, synced, epoch)
                        synced = done
                    if state.interrupted:
                        # saved before on_fit_end, where early stopping puts the best
                        # epoch's weights back: the checkpoint holds this epoch's
                        try:
                            path = self._save(done)
                        finally:
                            self._each("on_fit_end")
                        raise TrainingInterrupted(done, path)
                    if not is_eval and self.test is not None:
                        self._record("test", self.test)
                    break
                epoch += 1
            self._each("on_fit_end")
        finally:
            model.eval()
        return state

    # -- the pieces of an epoch ---------------------------------------------------------
    def _each(self, hook: str, *args) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self.state, *args)

    def _on_batch(self, rows: int) -> None:
        for cb in self.callbacks:
            cb.on_batch_end(self.state, rows)

    def _is_checkpoint(self, done: int) -> bool:
        return self.checkpoint_every is not None and done % self.checkpoint_every == 0

    def _is_event(self, e: int, until: int, synced: int) -> bool:
        """Epochs after which the host must look: sync, evaluate, log, checkpoint."""
        every = self._sync_every()
        return (e == until - 1 or self.val is not None
                or (every is not None and e + 1 - synced >= every)
                or (self.log_every is not None and e % self.log_every == 0)
                or (self.eval_every is not None and e % self.eval_every == 0)
                or self._is_checkpoint(e + 1))

    def _sync_every(self) -> int | None:
        """Epochs between syncs at the longest: ``sync_every`` or a callback's horizon."""
        limits = [h for h in (cb.horizon() for cb in self.callbacks) if h is not None]
        if self.sync_every is not None:
            limits.append(self.sync_every)
        return max(1, min(limits)) if limits else None

    def _next_event(self, e: int, until: int, synced: int) -> int:
        """The first epoch from ``e`` on that ``_is_event`` holds for, by arithmetic."""
        if self.val is not None:
            return e
        candidates, every = [until - 1], self._sync_every()
        if every is not None:
            candidates.append(synced + every - 1)
        for every in (self.log_every, self.eval_every):
            if every is not None:
                candidates.append(-(-e // every) * every)  # the next multiple from e on
        if self.checkpoint_every is not None:
            candidates.append(-(-(e + 1) // self.checkpoint_every) * self.checkpoint_every - 1)
        return max(e, min(candidates))

    def _sync(self, loss_buf: torch.Tensor, acc_buf: torch.Tensor, first: int, synced: int,
              epoch: int) -> dict:
        """Copy epochs ``synced..epoch`` to the history, check them for divergence and
        return the newest row. ``seconds`` is the time since the start when the numbers
        were read, the same for every epoch read together."""
        losses = loss_buf[synced - first:epoch + 1 - first].tolist()
        bad = first_diverged(losses)  # the history ends there, however far a chunk ran
        end = epoch + 1 - first if bad is None else synced - first + bad + 1
        losses = losses[:end - (synced - first)]
        accs = acc_buf[synced - first:end].tolist()
        lrs = self._lrs[synced - first:end]
        seconds, history = time.perf_counter() - self._start, self.history
        n = len(losses)  # whole columns at once: a kernel chunk can be 1000s of epochs
        history["epoch"].extend(range(synced, synced + n))
        history["loss"].extend(losses)
        history["accuracy"].extend(accs)
        history["lr"].extend(lrs)
        history["seconds"].extend([seconds] * n)
        for key in history:
            if key not in ("epoch", "loss", "accuracy", "lr", "seconds"):
                history[key].extend([math.nan] * n)
        if bad is not None:
            raise TrainingDiverged(diverged_message(synced + bad, lrs[-1], losses[-1]))
        return {k: v[-1] for k, v in history.items()}

    def _record(self, split: str, data: Split) -> dict:
        """Evaluate on ``data`` into the newest history row; returns it as row entries."""
        result = evaluate(self.backend.model, *data, self.backend.task, self.loss_fn,
                          self.prepare)
        loss, acc = float(result[0]), float(result[1])
        self.history[f"{split}_loss"][-1], self.history[f"{split}_accuracy"][-1] = loss, acc
        return {f"{split}_loss": loss, f"{split}_accuracy": acc}

    def _save(self, done: int) -> Path | None:
        if self.checkpoint is None:
            return None
        if not all(torch.isfinite(p).all() for p in self.backend.model.parameters()):
            raise TrainingDiverged(diverged_message(done - 1, self.lr))
        return self.checkpoint(done)
