"""Bounds and defaults of the model's and the optimizers' hyperparameters, defined once.

``model.py`` and ``optimizers.py`` check their arguments with these Specs and the config
schema attaches the same Specs to its fields, so a direct ``MLP(...)`` call and a
``--dropout`` flag are refused in the same words. Torch-free on purpose: the schema (and
``torchclf --help``) read it without importing torch.
"""

from torchclf.spec import Spec

DEFAULT_ACTIVATION = "relu"
DROPOUT = Spec(float, "probability of zeroing a hidden unit while training", lo=0, hi=1,
               hi_open=True)
NO_DROPOUT = 0.0

MAX_LR = 1000.0
LR = Spec(float, "learning rate: the optimizer's step size", lo=0, lo_open=True, hi=MAX_LR)
MOMENTUM = Spec(float, "SGD momentum", lo=0, hi=1, hi_open=True)
WEIGHT_DECAY = Spec(float, "L2 penalty on the weights (decoupled for adamw)", lo=0)
NO_MOMENTUM = NO_WEIGHT_DECAY = 0.0   # the defaults: plain SGD, no penalty
