"""Optimizers by name: kept for older imports; the registry is ``train.optimizers``."""

from torchclf.train.optimizers import OPTIMIZERS, make_optimizer

__all__ = ["OPTIMIZERS", "make_optimizer"]
