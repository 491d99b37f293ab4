"""Activations by name: one entry each, with every form a training backend needs.

An entry carries the torch module that autograd trains, the code of the same function
in the compiled kernels (``engine/kernels/train.c`` and ``predict.c``), and the stacked
form (forward and derivative on whole tensors) that ``engine.batched`` uses, and the
ONNX operator (name and attributes) that ``torchclf.export`` writes. A backend
that finds ``None`` in its slot declines the activation, so nothing is ever silently
replaced by a look-alike; ``tests/test_registries.py`` trains every entry on every
backend and compares with autograd.

``manual_tanh`` is the lesson's hand-written tanh. Its kernel and stacked forms compute
the same formula (``sign(x) * -expm1(-2|x|) / (1 + exp(-2|x|))``) and autograd's
derivative of it (``manual_tanh_derivative``), rather than ``tanhf`` and ``1 - h^2``, so
every backend trains the function the user chose and matches autograd to rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

Tensor = torch.Tensor


def manual_tanh(x: Tensor) -> Tensor:
    """tanh written by hand, stable for any input.

    The textbook ``(e^x - e^-x) / (e^x + e^-x)`` overflows to nan beyond |x| ~ 89 in
    float32. Using only ``e^(-2|x|)``, which lies in (0, 1], never overflows, and
    ``expm1`` keeps precision near zero where ``1 - e^(-2|x|)`` would cancel.
    """
    e = torch.exp(-2.0 * x.abs())
    return torch.sign(x) * (-torch.expm1(-2.0 * x.abs())) / (1.0 + e)


def manual_tanh_derivative(x: Tensor) -> Tensor:
    """d manual_tanh / dx as autograd computes it from the formula, term by term, so the
    other backends agree with autograd to rounding: ``2 ((1 + expm1(t)) / d - expm1(t) e
    / d^2)`` with t = -2|x|, e = exp(t), d = 1 + e; and 0 at exactly x = 0, where the
    gradient of ``sign`` and ``abs`` is 0 in torch."""
    t = -2.0 * x.abs()
    em1, e = torch.expm1(t), torch.exp(t)
    d = 1.0 + e
    s = torch.sign(x)
    return s * s * 2.0 * ((em1 + 1.0) / d - em1 * e / (d * d))


class ManualTanh(nn.Module):
    """``manual_tanh`` as a layer, so it can stand in an ``nn.Sequential``."""

    def forward(self, x: Tensor) -> Tensor:
        return manual_tanh(x)


def _gelu_derivative(z: Tensor) -> Tensor:
    """Of the exact (erf) GELU that ``nn.GELU()`` computes: Phi(z) + z phi(z)."""
    return (0.5 * (1 + torch.erf(z / math.sqrt(2)))
            + z * torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi))


@dataclass(frozen=True)
class Activation:
    """One activation in every backend's form; ``None`` where a backend cannot compute
    it as torch does (that backend then declines it)."""

    name: str
    description: str                     # one line, for help text and the playground
    module: Callable[[], nn.Module]      # autograd: a fresh layer for nn.Sequential
    kernel_code: int | None              # ACT_* in kernels/train.c and predict.c
    forward: Callable[[Tensor], Tensor] | None = None             # stacked: h = f(z)
    derivative: Callable[[Tensor, Tensor], Tensor] | None = None  # stacked: f'(z), given z, h
    onnx: tuple[str, dict] | None = None  # ONNX operator and its attributes, for export

    @property
    def stacked(self) -> bool:
        return self.forward is not None and self.derivative is not None


ACTIVATIONS: dict[str, Activation] = {a.name: a for a in [
    Activation("relu", "max(0, x)", nn.ReLU, 1,
               torch.relu, lambda z, h: (z > 0).to(z.dtype), ("Relu", {})),
    Activation("tanh", "torch.tanh", nn.Tanh, 2,
               torch.tanh, lambda z, h: 1 - h * h, ("Tanh", {})),
    Activation("manual_tanh", "the lesson's hand-written tanh, stable for any input",
               ManualTanh, 6, manual_tanh, lambda z, h: manual_tanh_derivative(z),
               ("Tanh", {})),  # the same function; ONNX has no expm1 to spell the formula
    Activation("sigmoid", "1 / (1 + exp(-x))", nn.Sigmoid, 3,
               torch.sigmoid, lambda z, h: h * (1 - h), ("Sigmoid", {})),
    Activation("gelu", "x * Phi(x), the exact (erf) form", nn.GELU, 5,
               nn.functional.gelu, lambda z, h: _gelu_derivative(z), ("Gelu", {})),
    Activation("leaky_relu", "x, or 0.01 x below zero", nn.LeakyReLU, 4,
               nn.functional.leaky_relu,
               lambda z, h: torch.where(z > 0, 1.0, 0.01).to(z.dtype),
               ("LeakyRelu", {"alpha": 0.01})),
    Activation("identity", "x: no non-linearity (a linear model however deep)",
               nn.Identity, 0, lambda z: z, lambda z, h: torch.ones_like(z), ("Identity", {})),
]}


def descriptions() -> dict[str, str]:
    """name -> one-line description, for help text and choice lists."""
    return {name: a.description for name, a in ACTIVATIONS.items()}
