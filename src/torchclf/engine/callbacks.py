"""Hooks into the training loop: documented no-ops to override, plus early stopping.

The loop calls every hook of every callback; a callback stops training by setting
``state.stop = True``. The engine never prints: the callbacks of ``torchclf.callbacks``
write to the streams they are given, and front ends attach them. The fast engine runs
the epochs between two sync points in one call and then replays their hooks, so a stop
request or a change to the model made in between takes effect at the next sync point
(use ``engine="autograd"`` for epoch-exact intervention).
"""

from __future__ import annotations

import copy
import signal
import threading
from dataclasses import dataclass, field

import torch


@dataclass
class TrainState:
    """What a callback may read (and ``stop``, which it may set)."""

    model: torch.nn.Module
    epochs: int
    epoch: int = -1
    stop: bool = False
    stop_reason: str = ""
    interrupted: bool = False   # stopped from outside: checkpoint and raise, no result
    history: dict = field(default_factory=dict)
    n_rows: int = 0             # training rows per epoch
    # what the model reads, for a callback that calls it on raw rows: the task its
    # logits answer, and the Standardizer its inputs went through (None: raw rows)
    task: str | None = None
    scaler: object = None


class Callback:
    """Base class: override the hooks you need."""

    def on_fit_start(self, state: TrainState) -> None:
        """Before the first epoch."""

    def on_batch_end(self, state: TrainState, rows: int) -> None:
        """After each optimizer step on ``rows`` rows."""

    def on_epoch_end(self, state: TrainState, row: dict | None) -> None:
        """After each epoch; ``row`` holds synced numbers when the loop synced this epoch."""

    def on_log(self, state: TrainState, row: dict) -> None:
        """At each log point (every ``log_every`` epochs and the last), with test metrics."""

    def on_fit_end(self, state: TrainState) -> None:
        """After the last epoch, also when stopped early."""

    # A callback whose decisions depend on epochs already seen names its state here, so
    # a checkpoint can carry it and a resumed run decides as the uninterrupted one would.
    state_key: str | None = None

    def state_dict(self) -> dict:
        """What ``load_state_dict`` needs to carry on (tensors and plain values only)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Carry on from ``state_dict()``'s output, read back from a checkpoint."""

    def horizon(self) -> int | None:
        """How many more epochs may run before this callback must see their numbers
        (None: any number). A chunked backend runs at most that many in one call and the
        engine syncs after them, so a rule that can only fire after several epochs lets
        the compiled kernel run them at once; epochs in between reach
        ``on_epoch_end`` with ``row`` None, their numbers in ``state.history`` after."""
        return None


class EarlyStopping(Callback):
    """Stop when ``monitor`` (a history column) has not improved for ``patience`` epochs.

    With ``restore_best`` the model ends with the weights of its best epoch, not the
    last one. The default watches the validation loss; ``monitor="loss"`` the training
    loss. The best moves only when an epoch is more than ``min_delta`` below it, so a
    loss falling by less than that an epoch still moves it every few epochs and goes
    on; scikit-learn's rule, where the best follows every improvement and such a loss
    stops, is TorchClassifier's (``estimator_training.Plateau``).
    """

    def __init__(self, patience: int = 20, min_delta: float = 0.0,
                 restore_best: bool = True, monitor: str = "val_loss") -> None:
        self.patience, self.min_delta, self.restore_best = patience, min_delta, restore_best
        self.monitor = monitor
        self.best_loss = float("inf")
        self.best_epoch = -1
        self._best_state: dict | None = None

    def on_epoch_end(self, state: TrainState, row: dict | None) -> None:
        if row is None or self.monitor not in row:
            return
        if row[self.monitor] < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch = row[self.monitor], state.epoch
            if self.restore_best:
                self._best_state = copy.deepcopy(state.model.state_dict())
        elif state.epoch - self.best_epoch >= self.patience:
            state.stop = True
            what = {"val_loss": "validation loss", "loss": "training loss"}.get(
                self.monitor, self.monitor)
            state.stop_reason = (f"early stopping at epoch {state.epoch}: {what} "
                                 f"best at epoch {self.best_epoch}")

    def on_fit_end(self, state: TrainState) -> None:
        if self.restore_best and self._best_state is not None:
            state.model.load_state_dict(self._best_state)

    state_key = "early_stopping"

    def state_dict(self) -> dict:
        best = {} if self._best_state is None else \
            {k: v.detach().cpu().clone() for k, v in self._best_state.items()}
        return {"best_loss": self.best_loss, "best_epoch": self.best_epoch,
                "best_weights": best}

    def load_state_dict(self, state: dict) -> None:
        self.best_loss, self.best_epoch = float(state["best_loss"]), int(state["best_epoch"])
        self._best_state = dict(state["best_weights"]) or None


class StopOnSignal(Callback):
    """SIGTERM or SIGINT ends training cleanly after the current epoch.

    The loop then writes its checkpoint (if it has a path) and raises
    ``TrainingInterrupted``; the previous handlers are restored either way.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict = {}

    def _handle(self, signum, frame) -> None:
        self.received = signum

    def on_fit_start(self, state: TrainState) -> None:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}

    def on_epoch_end(self, state: TrainState, row: dict | None) -> None:
        if self.received is not None:
            state.stop = state.interrupted = True
            state.stop_reason = f"interrupted by signal {signal.Signals(self.received).name}"

    def on_fit_end(self, state: TrainState) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}
