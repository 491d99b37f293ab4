"""Optimizers by name: kept for older imports; the registry is ``engine.optimizers``."""

from torchclf.engine.optimizers import OPTIMIZERS, make_optimizer

__all__ = ["OPTIMIZERS", "make_optimizer"]
