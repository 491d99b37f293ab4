"""How one epoch is computed: autograd on any module, or the compiled kernel.

Both backends train in place and leave each epoch's mean loss and accuracy on the
device, so the engine reads them only at its sync points. The kernel backend
(``chunked``) runs any number of epochs in one ``run`` call; the autograd backend one
``epoch`` per call, so callbacks see every step.
"""

from __future__ import annotations

from typing import Callable, Iterator

import torch

from torchclf import task as tasks
from torchclf.config.schema import TrainConfig
from torchclf.spec import spec_of
from torchclf.errors import UserError
from torchclf.engine import fast
from torchclf.hyper import L1, NO_L1
from torchclf.optimizers import entry_for

FULL_BATCH_LIMIT = 8192  # up to this many rows, one batch per epoch (the lesson's way)
DEFAULT_BATCH = 256

OnBatch = Callable[[int], None]


def batch_size_for(n_rows: int, batch_size: int | None = None) -> int:
    """The batching policy: the size asked for, else full batch up to 8192 rows, else 256."""
    batch_size = spec_of(TrainConfig, "batch_size").check("batch_size", batch_size)
    return batch_size or (n_rows if n_rows <= FULL_BATCH_LIMIT else DEFAULT_BATCH)


class AutogradBackend:
    """Forward, loss, backward, step for any ``nn.Module``.

    One unshuffled step per epoch when the batch holds every row (unless
    ``shuffle_full_batch``), else mini-batches in the order of a fresh permutation
    drawn from ``generator`` each epoch. Subclasses change which rows a process trains
    on (``batches``), how a batch's loss is scaled (``batch_loss``) and how epoch sums
    are combined (``reduce``), as data-parallel training does.

    ``class_weight`` (K,) weighs each row's loss by its class (``task.loss_function``);
    ``l1`` adds l1 * sum(|W|) over the weight matrices (parameters with 2+ dimensions,
    not the biases) to the loss each step minimises. The epoch's reported loss is the
    (weighted) data loss without the penalty, so runs with and without it compare.
    """

    chunked = False  # the engine calls epoch() once per epoch
    name = "autograd"

    def __init__(self, model: torch.nn.Module, opt: torch.optim.Optimizer, X: torch.Tensor,
                 y: torch.Tensor, task: str, batch_size: int, generator: torch.Generator,
                 shuffle_full_batch: bool = False, l1: float = NO_L1,
                 class_weight: torch.Tensor | None = None) -> None:
        self.model, self.opt, self.X, self.y, self.task = model, opt, X, y, task
        self.n_rows = self.n_total = X.shape[0]
        self.batch_size, self.generator = batch_size, generator
        self.whole = batch_size >= self.n_rows and not shuffle_full_batch
        self.loss_fn = tasks.loss_function(task, class_weight)
        self.l1 = L1.check("l1", l1)
        self.penalised = [p for p in model.parameters() if p.dim() >= 2] if self.l1 else []
        self.y_flat = y.reshape(-1).long()

    def epoch(self, on_batch: OnBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Train one epoch; its mean loss and accuracy as device scalars."""
        if self.whole:  # the lesson's step: one batch, the rows in their order
            logits = self.model(self.X)
            loss = self.loss_fn(logits, self.y)
            self._step(loss)
            on_batch(self.n_rows)
            return loss.detach(), (tasks.labels(logits.detach(), self.task)
                                   == self.y_flat).float().mean()
        dev = self.X.device
        total = torch.zeros((), dtype=self.X.dtype, device=dev)
        correct = torch.zeros((), device=dev)
        for rows, count in self.batches():
            xb, yb = self.X[rows], self.y[rows]
            logits = self.model(xb)
            loss, part = self.batch_loss(logits, yb, count)
            self._step(loss)
            total += part
            correct += (tasks.labels(logits.detach(), self.task) == yb.reshape(-1).long()).sum()
            on_batch(len(rows))
        total, correct = self.reduce(total, correct)
        return total / self.n_total, correct / self.n_total

    def _step(self, loss: torch.Tensor) -> None:
        self.opt.zero_grad(set_to_none=True)
        if self.penalised:
            loss = loss + self.l1 * sum(p.abs().sum() for p in self.penalised)
        loss.backward()
        self.opt.step()

    def batches(self) -> Iterator[tuple[torch.Tensor, int]]:
        """(rows of X to train on, rows in the batch) for each step of one epoch."""
        order = torch.randperm(self.n_rows, generator=self.generator).to(self.X.device)
        for i in range(0, self.n_rows, self.batch_size):
            rows = order[i:i + self.batch_size]
            yield rows, len(rows)

    def batch_loss(self, logits: torch.Tensor, target: torch.Tensor,
                   count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss to backpropagate, the batch's summed loss for the epoch mean)."""
        loss = self.loss_fn(logits, target)
        return loss, loss.detach() * count

    def reduce(self, total: torch.Tensor, correct: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Epoch sums over every process; one process holds them all."""
        return total, correct


class KernelBackend:
    """``fast.FastTrainer``: every epoch up to the next sync point in one kernel call.

    Batched as ``AutogradBackend`` batches with the same arguments: one unshuffled step
    per epoch when the batch holds every row (unless ``shuffle_full_batch``), else the
    mini-batches of a permutation drawn from ``generator`` each epoch.
    """

    chunked = True
    name = "fast"

    def __init__(self, model: torch.nn.Module, opt: torch.optim.Optimizer, X: torch.Tensor,
                 y: torch.Tensor, task: str, batch_size: int | None = None,
                 generator: torch.Generator | None = None,
                 shuffle_full_batch: bool = False) -> None:
        self.model, self.opt, self.X, self.task = model, opt, X, task
        self.n_rows = X.shape[0]
        whole = batch_size is None or batch_size >= self.n_rows and not shuffle_full_batch
        self.trainer = fast.FastTrainer(model, opt, X, y, task,
                                        None if whole else batch_size, generator)
        self.epochs_per_call = self.trainer.epochs_per_call  # the engine's longest call

    def run(self, epochs: int, loss_out: torch.Tensor, acc_out: torch.Tensor) -> None:
        """Train ``epochs`` epochs; write their mean losses and accuracies."""
        self.trainer.run(epochs, loss_out, acc_out)


def choose_backend(engine: str, model: torch.nn.Module, opt: torch.optim.Optimizer,
                   X: torch.Tensor, y: torch.Tensor, task: str, batch_size: int,
                   generator: torch.Generator, shuffle_full_batch: bool = False,
                   l1: float = NO_L1, class_weight: torch.Tensor | None = None,
                   schedule=None, labels: torch.Tensor | None = None):
    """The kernel where ``engine`` allows it and ``fast.eligible`` agrees, else autograd.

    "auto" takes the kernel where it prints autograd's numbers (the optimizer entry's
    ``kernel_in_auto``), "autograd" never uses it, "fast" insists on it. The kernel has
    no L1 penalty, class weights or lr schedule (``schedule``, an ``LRSchedule``): with
    any of them "auto" takes autograd and "fast" is refused, naming the setting.
    ``labels``, y's class codes as int64 where the caller has them, are what the kernel
    reads (instead of a copy of y converted to them).
    """
    engine = spec_of(TrainConfig, "engine").check("engine", engine)
    entry = entry_for(opt)
    unsupported = [name for name, is_set in (("l1", bool(l1)),
                                             ("class_weight", class_weight is not None),
                                             ("lr_schedule", schedule is not None)) if is_set]
    if unsupported and engine == "fast":
        raise UserError(f"engine 'fast' (the compiled kernel) has no {unsupported[0]}: "
                        "use engine 'auto' or 'autograd'")
    if unsupported or engine == "auto" and entry is not None and not entry.kernel_in_auto:
        engine = "autograd"
    if engine != "autograd":
        if fast.eligible(model, opt, X):
            return KernelBackend(model, opt, X, y if labels is None else labels, task,
                                 batch_size, generator, shuffle_full_batch)
        if engine == "fast":
            raise UserError("engine 'fast' needs a torchclf MLP without dropout, "
                            "training on the CPU, SGD/Adam/AdamW and a C compiler: "
                            "use engine 'auto'")
    return AutogradBackend(model, opt, X, y, task, batch_size, generator, shuffle_full_batch,
                           l1, class_weight)
