"""Learning-rate schedules by name: one entry each, built on ``torch.optim.lr_scheduler``.

The engine steps a schedule once per epoch, after the epoch's updates, so the history's
``lr`` column holds the rate each epoch trained with. Every schedule works on the whole
run, full batch or mini-batches alike (one step per epoch, never per batch):

- step: the lr is multiplied by ``lr_gamma`` every ``lr_step_size`` epochs
- cosine: the lr falls along half a cosine from ``lr`` to 0 over the run's epochs
- onecycle: the lr rises from lr/25 to ``lr`` over the first 30% of the epochs, then
  falls to lr/1e4 (momentum is left as set: no momentum cycling)
- plateau: the lr is multiplied by ``lr_gamma`` after ``lr_patience`` epochs without a
  lower training loss (the training loss, not the test loss: test rows never steer
  training, and there is always a training loss)

The compiled kernel has none of them: a run with a schedule trains on autograd.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch.optim import lr_scheduler

from torchclf.hyper import (DEFAULT_GAMMA, DEFAULT_PATIENCE, DEFAULT_STEP_SIZE, LR_GAMMA,
                            LR_PATIENCE, LR_STEP_SIZE, NO_SCHEDULE)
from torchclf.errors import UserError
from torchclf.registry import unknown_name


@dataclass(frozen=True)
class ScheduleParams:
    """The run's length and the schedule settings (each schedule reads its own)."""

    epochs: int
    step_size: int = DEFAULT_STEP_SIZE
    gamma: float = DEFAULT_GAMMA
    patience: int = DEFAULT_PATIENCE


@dataclass(frozen=True)
class Schedule:
    """One schedule: its torch scheduler factory and what it needs."""

    name: str
    description: str     # one line, for help text
    build: Callable[[torch.optim.Optimizer, ScheduleParams], object]
    settings: tuple[str, ...] = ()   # the lr_* settings it reads
    spans: str | None = None         # the state key of the run's length, if it is shaped
                                     # by it (a resume cannot then train more epochs)
    on_loss: bool = False            # step(loss): watches the epoch's training loss


def _onecycle(opt, p: ScheduleParams):
    lr = opt.param_groups[0]["lr"]
    return lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=p.epochs, cycle_momentum=False)


SCHEDULES: dict[str, Schedule] = {s.name: s for s in [
    Schedule(NO_SCHEDULE, "a constant learning rate", lambda opt, p: None),
    Schedule("step", "multiply the lr by lr_gamma every lr_step_size epochs",
             lambda opt, p: lr_scheduler.StepLR(opt, p.step_size, p.gamma),
             settings=("lr_step_size", "lr_gamma")),
    Schedule("cosine", "half a cosine from lr down to 0 over the run's epochs",
             lambda opt, p: lr_scheduler.CosineAnnealingLR(opt, p.epochs), spans="T_max"),
    Schedule("onecycle", "up from lr/25 to lr over 30% of the epochs, then down to lr/1e4",
             _onecycle, spans="total_steps"),
    Schedule("plateau", "multiply the lr by lr_gamma after lr_patience epochs without a "
             "lower training loss",
             lambda opt, p: lr_scheduler.ReduceLROnPlateau(opt, factor=p.gamma,
                                                           patience=p.patience),
             settings=("lr_gamma", "lr_patience"), on_loss=True),
]}


def descriptions() -> dict[str, str]:
    """name -> one-line description, for help text and choice lists."""
    return {name: s.description for name, s in SCHEDULES.items()}


class LRSchedule:
    """A built schedule the engine steps once per epoch; its state goes into checkpoints."""

    def __init__(self, entry: Schedule, scheduler) -> None:
        self.entry, self.scheduler = entry, scheduler

    @property
    def name(self) -> str:
        return self.entry.name

    def step(self, loss: torch.Tensor) -> None:
        """After an epoch whose mean training loss is ``loss``."""
        if self.entry.on_loss:
            self.scheduler.step(float(loss))
        else:
            self.scheduler.step()

    def state_dict(self) -> dict:
        """The scheduler's state (its settings included) under the schedule's name."""
        return {"name": self.name, "state": self.scheduler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        """Continue from ``state_dict()``'s state, which must be this schedule's."""
        if state.get("name") != self.name:
            raise UserError(f"the checkpoint was trained with lr schedule "
                            f"{state.get('name')!r}, not {self.name!r}: resume it with "
                            "the schedule it was trained with")
        self.scheduler.load_state_dict(state["state"])

    def trained_epochs(self, state: dict) -> int | None:
        """The run length a saved state of this schedule is shaped by (None: any)."""
        return state.get("state", {}).get(self.entry.spans) if self.entry.spans else None


def make_schedule(name: str, opt: torch.optim.Optimizer, epochs: int,
                  step_size: int = DEFAULT_STEP_SIZE, gamma: float = DEFAULT_GAMMA,
                  patience: int = DEFAULT_PATIENCE) -> LRSchedule | None:
    """The schedule ``name`` on ``opt`` over ``epochs`` epochs, or None for "none"."""
    entry = SCHEDULES.get(name)
    if entry is None:
        raise unknown_name("lr schedule", name, SCHEDULES)
    params = ScheduleParams(epochs, LR_STEP_SIZE.check("lr_step_size", step_size),
                            LR_GAMMA.check("lr_gamma", gamma),
                            LR_PATIENCE.check("lr_patience", patience))
    scheduler = entry.build(opt, params)
    return None if scheduler is None else LRSchedule(entry, scheduler)
