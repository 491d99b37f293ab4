"""How TorchClassifier trains beyond the engine: scikit-learn's plateau rule, the lr
schedule of one ``fit`` and the class weights, each from the estimator's parameters."""

from __future__ import annotations

import torch

from torchclf import task as tasks
from torchclf.engine.callbacks import EarlyStopping, TrainState
from torchclf.errors import UserError
from torchclf.schedules import make_schedule


class Plateau(EarlyStopping):
    """scikit-learn's rule: stop once the training loss has not improved by ``tol`` for
    ``n_iter_no_change`` epochs; but not while the loss is above this fit's first one.

    A loss climbing away from where training started has not levelled off: it is a run
    that may yet recover or diverge, so training goes on as ``torchclf.fit``'s would, and
    a divergence ends in the same ``TrainingDiverged`` instead of a "fitted" model.
    """

    def __init__(self, patience: int, tol: float) -> None:
        super().__init__(patience, tol, restore_best=False, monitor="loss")
        self.first_loss: float | None = None

    def on_epoch_end(self, state: TrainState, row: dict | None) -> None:
        if row is None:
            return
        if self.first_loss is None:
            self.first_loss = row["loss"]
        if row["loss"] <= self.first_loss:
            super().on_epoch_end(state, row)


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
