"""How TorchClassifier trains beyond the engine: scikit-learn's plateau rule, the lr
schedule of one ``fit`` and the class weights, each from the estimator's parameters."""

from __future__ import annotations

import copy
import warnings

import torch
from sklearn.exceptions import ConvergenceWarning

from torchclf import task as tasks
from torchclf.engine import fast
from torchclf.engine.backends import KernelBackend
from torchclf.engine.callbacks import Callback, TrainState
from torchclf.errors import UserError
from torchclf.optimizers import make_optimizer
from torchclf.schedules import make_schedule


class Plateau(Callback):
    """scikit-learn's rule for MLPClassifier without early stopping, exactly: an epoch
    whose training loss is not below the best so far by more than ``tol`` counts, any
    other resets the count; the best follows every improvement, however small; training
    stops once more than ``n_iter_no_change`` epochs in a row have counted. (A loss
    falling by less than ``tol`` per epoch has levelled off, though it keeps falling.)

    Epochs whose loss is above this fit's first one are not counted: a loss climbing
    away from where training started has not levelled off, it is a run that may yet
    recover or diverge, so training goes on as ``torchclf.fit``'s would, and a divergence
    ends in the same ``TrainingDiverged`` instead of a "fitted" model.
    """

    def __init__(self, n_iter_no_change: int, tol: float) -> None:
        self.n_iter_no_change, self.tol = n_iter_no_change, tol
        self.best_loss, self.count = float("inf"), 0
        self.first_loss: float | None = None
        self.seen = 0  # epochs of the history already judged

    def on_fit_start(self, state: TrainState) -> None:
        self.seen = len(state.history["loss"])

    def horizon(self) -> int:
        """The count grows by one an epoch at most: the rule cannot fire before this
        many more epochs, so the kernel may run them in one call."""
        return self.n_iter_no_change + 1 - self.count

    def on_epoch_end(self, state: TrainState, row: dict | None) -> None:
        if row is None:
            return
        losses = state.history["loss"][self.seen:]  # every epoch since the last sync
        self.seen += len(losses)
        for loss in losses:
            if self.first_loss is None:
                self.first_loss = loss
            if loss > self.first_loss:
                continue
            self.count = self.count + 1 if loss > self.best_loss - self.tol else 0
            self.best_loss = min(self.best_loss, loss)
        if self.count > self.n_iter_no_change:
            state.stop = True
            state.stop_reason = (f"training loss did not improve by more than tol={self.tol:g}"
                                 f" for {self.count} epochs in a row (epoch {state.epoch})")


def warn_unconverged(est) -> None:
    """scikit-learn's ConvergenceWarning for a ``fit`` that ran all ``max_iter`` epochs
    without its stopping rule firing."""
    warnings.warn(f"{type(est).__name__}: max_iter={est.max_iter} epochs ran and the loss "
                  "has not levelled off yet; raise max_iter to train longer",
                  ConvergenceWarning, stacklevel=4)


def fit_schedule(est, opt: torch.optim.Optimizer, epochs: int):
    """``est``'s lr schedule over this fit's ``epochs``, from ``learning_rate_init`` (a
    warm start's optimizer may hold the last fit's decayed rate); None for "none"."""
    for group in opt.param_groups:
        group["lr"] = est.learning_rate_init
        group.pop("initial_lr", None)
    return make_schedule(est.lr_schedule, opt, epochs, est.lr_step_size, est.lr_gamma,
                         est.lr_patience)


def class_weight_tensor(est, codes, device: torch.device) -> torch.Tensor | None:
    """``est.class_weight`` as a (K,) tensor over the rows ``codes`` trains on, or None;
    a label that is not a class is a ValueError naming the parameter."""
    try:
        weights = tasks.class_weights(est.class_weight, codes, tuple(est.classes_))
    except UserError as e:
        raise ValueError(f"The 'class_weight' parameter of {type(est).__name__}: {e}") \
            from None
    return None if weights is None else torch.as_tensor(weights, device=device)


def kernel_backend(est, X: torch.Tensor, y: torch.Tensor, batch_size: int,
                   generator: torch.Generator, epochs: int, unsupported: bool):
    """A ``KernelBackend`` training ``est._work``, a float32 copy of ``est.model_``, with
    its own optimizer (kept across warm starts and ``partial_fit``); None where the
    compiled kernel cannot train it (``unsupported``: an L1 penalty, class weights or an
    lr schedule; not the CPU; no C compiler or ``TORCHCLF_ENGINE=autograd``).

    The copy starts from ``model_``'s weights (float64 rounded to float32, exact when
    they came from the copy) and the caller copies the trained weights back, so
    ``model_`` stays the float64 network predictions, ``save`` and export use.
    """
    if unsupported or X.device.type != "cpu":
        return None
    work = getattr(est, "_work", None)
    if work is None:
        work = est._work = copy.deepcopy(est.model_).float()
        est._work_opt = make_optimizer(est.optimizer, work.parameters(),
                                       est.learning_rate_init, est.alpha)
    with torch.no_grad():
        for mine, theirs in zip(work.parameters(), est.model_.parameters()):
            mine.copy_(theirs)
    fit_schedule(est, est._work_opt, epochs)  # the lr back to learning_rate_init
    X = X.float()
    if not fast.eligible(work, est._work_opt, X):
        return None
    return KernelBackend(work, est._work_opt, X, y, est.task_, batch_size, generator,
                         shuffle_full_batch=True)


def copy_back(est, backend) -> None:
    """The kernel-trained float32 weights into ``est.model_`` (float64, exactly)."""
    if isinstance(backend, KernelBackend):
        with torch.no_grad():
            for mine, theirs in zip(est.model_.parameters(), backend.model.parameters()):
                mine.copy_(theirs)


def float32_split(split):
    """Validation (X, targets) for the float32 copy: float tensors in float32."""
    X, y = split
    return X.float(), (y.float() if y.is_floating_point() else y)


def column_names(est) -> tuple[str, ...]:
    """The raw columns' names: ``feature_names_in_`` when scikit-learn set them (string
    column names, all distinct), else x0, x1, ..."""
    names = getattr(est, "feature_names_in_", None)
    if names is not None and len(set(names)) == len(names):
        return tuple(str(n) for n in names)
    return tuple(f"x{i}" for i in range(est.n_features_in_))
