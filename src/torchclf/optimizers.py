"""Optimizers by name: one entry each, with every form a training backend needs.

An entry carries the torch.optim factory that autograd uses, the code of the same update
in the compiled kernel (``optimizer_step`` in ``kernels/train.c``) with the param-group
settings that code implements, and the stacked update ``engine.batched`` applies to N
models at once with per-model hyperparameters. A backend that finds ``None`` in its slot
declines the optimizer; ``tests/test_registries.py`` trains every entry on every backend
and compares with autograd.
"""

from __future__ import annotations

import math
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Callable, Iterable, Iterator

import torch

from torchclf.hyper import LR, MOMENTUM, NO_MOMENTUM, NO_WEIGHT_DECAY, WEIGHT_DECAY
from torchclf.registry import unknown_name

Tensor = torch.Tensor
# (p, grad, state1, state2, lr, momentum, weight_decay, step): updates p and the states
StackedUpdate = Callable[[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, int], None]


def _sgd_stacked(p, g, s1, s2, lr, mom, wd, step) -> None:
    """torch.optim.SGD's step (momentum buffer = first gradient on step 1)."""
    g = g + wd * p
    if step == 1:
        s1.copy_(g)
    else:
        s1.mul_(mom).add_(g)
    p.sub_(lr * torch.where(mom != 0, s1, g))


def _adam_stacked(p, g, s1, s2, lr, mom, wd, step, decoupled: bool = False) -> None:
    """torch.optim.Adam's step (AdamW's when ``decoupled``), betas (0.9, 0.999), eps 1e-8."""
    if decoupled:
        p.mul_(1 - lr * wd)
    else:
        g = g + wd * p
    s1.lerp_(g, 0.1)
    s2.mul_(0.999).addcmul_(g, g, value=0.001)
    bc1, bc2 = 1 - 0.9 ** step, 1 - 0.999 ** step
    p.sub_((lr / bc1) * s1 / (s2.sqrt() / math.sqrt(bc2) + 1e-8))


def _sgd_group_in_kernel(group: dict) -> bool:
    """The kernel's SGD: plain or heavy-ball momentum, coupled weight decay."""
    return not (group.get("maximize") or group.get("nesterov")
                or group.get("dampening", 0) != 0)


def _adam_group_in_kernel(group: dict) -> bool:
    """The kernel's Adam/AdamW: default betas and eps, no amsgrad."""
    return not (group.get("maximize") or group.get("amsgrad")
                or tuple(group["betas"]) != (0.9, 0.999) or group["eps"] != 1e-8
                or group.get("capturable") or group.get("differentiable"))


def _sgd(params, lr, weight_decay, momentum):
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


def _adam(params, lr, weight_decay, momentum):
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


def _adamw(params, lr, weight_decay, momentum):
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


@dataclass(frozen=True)
class Optimizer:
    """One optimizer in every backend's form; ``None`` where a backend cannot update as
    torch does (that backend then declines it)."""

    name: str
    description: str                        # one line, for help text and the playground
    torch_class: type[torch.optim.Optimizer]
    build: Callable[..., torch.optim.Optimizer]   # (params, lr, weight_decay, momentum)
    kernel_code: int | None                 # OPT_* in kernels/train.c
    kernel_accepts: Callable[[dict], bool]  # does the kernel implement this param group?
    stacked_update: StackedUpdate | None
    # May engine "auto" pick the kernel? Only where it prints what autograd prints: the
    # kernel sums in another order, and SGD keeps that within float rounding, but Adam
    # divides by the root of tiny second moments, which can turn rounding into other
    # steps (spirals, Adam lr 0.1: 7e-4 apart by epoch 900). "fast" still uses it.
    kernel_in_auto: bool = True


OPTIMIZERS: dict[str, Optimizer] = {o.name: o for o in [
    Optimizer("sgd", "stochastic gradient descent, optional momentum", torch.optim.SGD,
              _sgd, 0, _sgd_group_in_kernel, _sgd_stacked),
    Optimizer("adam", "Adam (weight decay added to the gradient)", torch.optim.Adam,
              _adam, 1, _adam_group_in_kernel, _adam_stacked, kernel_in_auto=False),
    Optimizer("adamw", "AdamW (decoupled weight decay)", torch.optim.AdamW,
              _adamw, 2, _adam_group_in_kernel, partial(_adam_stacked, decoupled=True),
              kernel_in_auto=False),
]}


def descriptions() -> dict[str, str]:
    """name -> one-line description, for help text and choice lists."""
    return {name: o.description for name, o in OPTIMIZERS.items()}


def entry_for(opt: torch.optim.Optimizer) -> Optimizer | None:
    """The entry whose torch class is exactly ``type(opt)`` (a subclass may differ)."""
    return next((o for o in OPTIMIZERS.values() if o.torch_class is type(opt)), None)


# torch.optim.Optimizer methods torch wraps in torch._disable_dynamo: the wrapper imports
# torch._dynamo (about 1 s, as long as torch itself) on its first call.
_DYNAMO_WRAPPED = ("add_param_group", "state_dict", "load_state_dict")


@contextmanager
def without_dynamo_import() -> Iterator[None]:
    """Build an optimizer or read/load its state without importing torch._dynamo.

    The wrapper's only job is to stop torch.compile from tracing into the method. While
    torch._dynamo is not imported nothing can be tracing, so the method itself does
    exactly the same: the wrapper calls what the method's ``__dynamo_disable``
    attribute holds, so for the duration of the block that is the method itself. The
    compiled kernel never calls ``step`` or ``zero_grad``, so a kernel run then never
    loads torch._dynamo; autograd's first ``step`` still does. Where torch's wrapper is
    not the one expected (another version), nothing changes but the time.
    """
    if "torch._dynamo" in sys.modules:
        yield
        return
    bare = [getattr(getattr(torch.optim.Optimizer, name), "__wrapped__", None)
            for name in _DYNAMO_WRAPPED]
    bare = [fn for fn in bare if fn is not None and not hasattr(fn, "__dynamo_disable")]
    for fn in bare:
        setattr(fn, "__dynamo_disable", fn)
    try:
        yield
    finally:
        for fn in bare:
            if getattr(fn, "__dynamo_disable", None) is fn:
                delattr(fn, "__dynamo_disable")


def make_optimizer(name: str, params: Iterable[torch.nn.Parameter], lr: float,
                   weight_decay: float = NO_WEIGHT_DECAY,
                   momentum: float = NO_MOMENTUM) -> torch.optim.Optimizer:
    """SGD (with optional momentum), Adam or AdamW, with validated hyperparameters."""
    name = name.lower()
    if name not in OPTIMIZERS:
        raise unknown_name("optimizer", name, OPTIMIZERS)
    lr = LR.check("lr", lr)
    weight_decay = WEIGHT_DECAY.check("weight_decay", weight_decay)
    momentum = MOMENTUM.check("momentum", momentum)
    with without_dynamo_import():
        return OPTIMIZERS[name].build(params, lr, weight_decay, momentum)
