"""Many MLPs trained at once: one computation per architecture.

Models that share an architecture (hidden sizes, activation, optimizer) are trained
together, each with its own seed, learning rate, momentum and weight decay:

- "stacked" (any device): weights stacked along a leading model axis, (G, out, in), so
  every forward, backward and update step is one ``bmm``/elementwise call for all G
  models, the per-model settings as (G, 1, 1) tensors.
- "kernel" (the CPU with the compiled kernel, ``engine.fast``): the models sit in SIMD
  lanes of ``kernels/many.c`` (``engine.many_kernel``), eight or sixteen to a vector,
  one C call per chunk of epochs on torch's thread count, then evaluated by the same
  kernel's forward pass. Not through ``Engine``: that drives one model (its optimizer,
  history, callbacks, checkpoints) and this trains a vector of them in one call, so,
  as the stacked engine does, the divergence check is ``check_losses`` on each model's
  losses afterwards, raising for the first diverged model in the order given.

Both give each model the result of training it alone, to float rounding (the tests
compare with ``fit``'s autograd). Each model starts from exactly the weights
``MLP(..., seed=s)`` would get.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from torchclf import task as tasks
from torchclf.activations import ACTIVATIONS
from torchclf.config import profiles
from torchclf.config.schema import SearchConfig, TrainConfig
from torchclf.spec import spec_of
from torchclf.data.dataset import Dataset, Standardizer
from torchclf.errors import UserError
from torchclf.model import MLP
from torchclf.runtime import resolve_device
from torchclf.engine import fast
from torchclf.engine.divergence import check_losses
from torchclf.engine.many_kernel import LaneGroup, train_all
from torchclf.optimizers import OPTIMIZERS, make_optimizer

_model = profiles.defaults(profiles.MANY, "model")  # every default lives in the schema
_train = profiles.defaults(profiles.MANY, "train")


@dataclass(frozen=True)
class ModelSpec:
    """One model of a batch: its architecture, optimizer settings and seed."""

    hidden: tuple[int, ...] = _model("hidden")
    activation: str = _model("activation")
    optimizer: str = _train("optimizer")
    lr: float = _train("lr")
    momentum: float = _train("momentum")
    weight_decay: float = _train("weight_decay")
    seed: int = _train("seed")

    @property
    def group(self) -> tuple:
        return (tuple(self.hidden), self.activation, self.optimizer)


@dataclass
class Trained:
    """A trained model of the batch and its numbers."""

    spec: ModelSpec
    model: MLP
    loss: np.ndarray            # (epochs,) training loss before each step
    train_accuracy: float
    test_accuracy: float
    test_loss: float


def train_many(specs: Sequence[ModelSpec], train: Dataset, test: Dataset, epochs: int,
               task: str | None = None, standardize: bool = True, device: str = "auto",
               engine: str = "auto",
               progress: Callable[[int], None] | None = None) -> tuple[list[Trained], Standardizer | None]:
    """Train every spec full-batch for ``epochs`` epochs; results in the order given.

    ``progress(k)`` is called with the number of model-epochs just completed. A model
    whose loss diverged raises ``TrainingDiverged``, as ``fit`` would for it alone.
    """
    engine = spec_of(SearchConfig, "engine").check("batch engine", engine)
    if not specs:
        raise UserError("nothing to train: the grid is empty")
    epochs = spec_of(TrainConfig, "epochs").check("epochs", epochs)
    dev = resolve_device(device)
    scaler = Standardizer().fit(train.X) if standardize else None
    prep = (lambda X: scaler.transform(X)) if scaler is not None else (lambda X: X)
    X = torch.as_tensor(prep(train.X), device=dev)
    Xt = torch.as_tensor(prep(test.X), device=dev)
    y, yt = torch.as_tensor(train.y, device=dev), torch.as_tensor(test.y, device=dev)
    task = tasks.resolve_task(train.n_classes, task)
    models = [MLP(train.n_features, s.hidden, train.n_classes, s.activation, task=task,
                  seed=s.seed) for s in specs]
    if dev.type != "cpu":  # built there; .to walks every module even when it stays
        models = [m.to(dev) for m in models]
    for name, lr, wd, momentum in dict.fromkeys((s.optimizer, s.lr, s.weight_decay,
                                                 s.momentum) for s in specs):
        make_optimizer(name, [torch.zeros(1, requires_grad=True)], lr, wd,
                       momentum)  # validates the settings, each combination once
    if _choose_engine(engine, dev, specs) == "kernel":
        results = _train_with_kernel(specs, models, X, y, Xt, yt, task, epochs, progress)
    else:
        losses = _train_stacked(specs, models, X, y, task, epochs, progress)
        results = [_evaluated(spec, model, loss, X, y, Xt, yt, task)
                   for spec, model, loss in zip(specs, models, losses)]
    for r in results:  # in the order given, as fit would raise for each model alone
        check_losses(r.loss, 0, r.spec.lr)
    return results, scaler


@torch.no_grad()
def _evaluated(spec, model, loss, X, y, Xt, yt, task) -> Trained:
    model.eval()
    tr_logits, te_logits = model(X), model(Xt)
    loss_fn = tasks.loss_function(task)
    return Trained(spec, model, loss,
                   float((tasks.labels(tr_logits, task) == y).float().mean()),
                   float((tasks.labels(te_logits, task) == yt).float().mean()),
                   float(loss_fn(te_logits, tasks.targets(yt, task))))


def _choose_engine(engine: str, dev: torch.device, specs: Sequence[ModelSpec]) -> str:
    """"kernel" or "stacked": "auto" takes the kernel on the CPU when every model's
    activation and optimizer have a kernel form; a named engine that cannot train the
    batch is refused rather than given a look-alike."""
    entries = [(ACTIVATIONS[s.activation], OPTIMIZERS[s.optimizer.lower()]) for s in specs]
    can = {"kernel": all(a.kernel_code is not None and o.kernel_code is not None
                         for a, o in entries),
           "stacked": all(a.stacked and o.stacked_update is not None for a, o in entries)}
    kernel_here = dev.type == "cpu" and fast.load_kernel() is not None
    if engine == "auto":
        engine = "kernel" if kernel_here and can["kernel"] else "stacked"
    elif engine == "kernel" and not kernel_here:
        raise UserError("batch engine 'kernel' needs the CPU and a C compiler: use 'stacked'")
    if not can[engine]:
        raise UserError(f"batch engine {engine!r} has no form of some activation or "
                        "optimizer in this batch: train those models with fit")
    return engine


def _train_with_kernel(specs, models, X, y, Xt, yt, task, epochs, progress) -> list[Trained]:
    """Each architecture's models in SIMD lanes of one kernel (``many_kernel``): trained,
    then evaluated on the training and test rows by the kernel's forward pass."""
    arrays = [np.ascontiguousarray(t.numpy(), dtype=d)
              for t, d in ((X, np.float32), (y, np.int64), (Xt, np.float32), (yt, np.int64))]
    groups = _groups(specs)
    linears = {key: [fast._linears(models[i]) for i in index] for key, index in groups.items()}
    lanes = {}
    for key, index in groups.items():
        _, activation, optimizer = key
        settings = [(specs[i].lr, specs[i].momentum, specs[i].weight_decay) for i in index]
        lanes[key] = LaneGroup(linears[key], activation, optimizer, settings, task)
    losses = dict(zip(groups, train_all(list(lanes.values()), arrays[0], arrays[1], epochs,
                                        progress)))
    out: list[Trained] = [None] * len(specs)  # type: ignore[list-item]
    for key, index in groups.items():
        _, train_acc = lanes[key].evaluate(arrays[0], arrays[1])
        test_loss, test_acc = lanes[key].evaluate(arrays[2], arrays[3])
        lanes[key].unpack(linears[key])
        for j, i in enumerate(index):
            models[i].eval()
            out[i] = Trained(specs[i], models[i], losses[key][:, j], float(train_acc[j]),
                             float(test_acc[j]), float(test_loss[j]))
    return out


def _groups(specs: Sequence[ModelSpec]) -> dict[tuple, list[int]]:
    """The indices of the specs of each architecture (hidden, activation, optimizer)."""
    groups: dict[tuple, list[int]] = {}
    for i, s in enumerate(specs):
        groups.setdefault(s.group, []).append(i)
    return groups


def _train_stacked(specs, models, X, y, task, epochs, progress) -> list[np.ndarray]:
    out: list[np.ndarray] = [None] * len(specs)  # type: ignore[list-item]
    for (hidden, activation, optimizer), index in _groups(specs).items():
        losses = _stacked_group([specs[i] for i in index], [models[i] for i in index], X, y,
                                task, epochs, activation, optimizer, progress)
        for j, i in enumerate(index):
            out[i] = losses[:, j]
    return out


@torch.no_grad()
def _stacked_group(specs, models, X, y, task, epochs, activation, optimizer,
                   progress) -> np.ndarray:
    """Train one architecture's G models as stacked tensors; returns (epochs, G) losses."""
    G, n = len(models), X.shape[0]
    linears = [[m for m in model.layers if isinstance(m, torch.nn.Linear)] for model in models]
    W = [torch.stack([ls[l].weight for ls in linears]).clone() for l in range(len(linears[0]))]
    B = [torch.stack([ls[l].bias for ls in linears]).clone() for l in range(len(linears[0]))]
    dev = X.device
    col = lambda vals: torch.tensor(vals, dtype=X.dtype, device=dev).view(G, 1, 1)
    lr, mom, wd = (col([getattr(s, k) for s in specs]) for k in ("lr", "momentum",
                                                                  "weight_decay"))
    params = W + B
    s1 = [torch.zeros_like(p) for p in params]
    s2 = [torch.zeros_like(p) for p in params]
    act, update = ACTIVATIONS[activation], OPTIMIZERS[optimizer.lower()].stacked_update
    Xg = X.unsqueeze(0).expand(G, -1, -1)
    target = (y.float().view(1, n, 1).expand(G, -1, -1) if task == "binary"
              else torch.nn.functional.one_hot(y, W[-1].shape[1]).to(X.dtype))
    losses = torch.zeros(epochs, G, device=dev)
    for e in range(epochs):
        hs, zs = [Xg], []
        h = Xg
        for l in range(len(W)):
            z = torch.baddbmm(B[l].unsqueeze(1), h, W[l].transpose(1, 2))
            zs.append(z)
            h = act.forward(z) if l < len(W) - 1 else z
            hs.append(h)
        logits = hs[-1]
        if task == "binary":
            losses[e] = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, target, reduction="none").mean(dim=(1, 2))
            d = (torch.sigmoid(logits) - target) / n
        else:
            logp = torch.log_softmax(logits, dim=2)
            losses[e] = -(logp * target).sum(2).mean(1)
            d = (logp.exp() - target) / n
        grads_W, grads_B = [None] * len(W), [None] * len(W)
        for l in range(len(W) - 1, -1, -1):
            grads_W[l] = torch.bmm(d.transpose(1, 2), hs[l])
            grads_B[l] = d.sum(1)
            if l > 0:
                d = torch.bmm(d, W[l]) * act.derivative(zs[l - 1], hs[l])
        for i, (p, g) in enumerate(zip(params, grads_W + grads_B)):
            shape = (G,) + (1,) * (p.dim() - 1)
            update(p, g, s1[i], s2[i], lr.view(shape), mom.view(shape), wd.view(shape),
                   e + 1)
        if progress is not None:
            progress(G)
    for g, model in enumerate(models):
        for l, lin in enumerate(linears[g]):
            lin.weight.copy_(W[l][g])
            lin.bias.copy_(B[l][g])
    return losses.cpu().numpy()
