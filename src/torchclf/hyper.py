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

MAX_EPOCHS = 10_000_000       # history and schedules grow with epochs: refuse absurd runs

# The options users expect beyond the lesson's loop (issue 14). Each makes a run train on
# autograd: the compiled kernel implements none of them.
L1 = Spec(float, "L1 penalty: l1 * sum(|W|) over the weight matrices (not the biases) is "
          "added to the training loss; the logged loss leaves it out", lo=0)
NO_L1 = 0.0
NO_SCHEDULE = "none"
LR_STEP_SIZE = Spec(int, "lr schedule 'step': epochs between two cuts of the lr by lr_gamma",
                    lo=1, hi=MAX_EPOCHS)
LR_GAMMA = Spec(float, "lr schedules 'step' and 'plateau': factor the lr is multiplied by "
                "at each cut", lo=0, hi=1, lo_open=True, hi_open=True)
LR_PATIENCE = Spec(int, "lr schedule 'plateau': epochs without a lower training loss "
                   "before the lr is cut", lo=0, hi=MAX_EPOCHS)
DEFAULT_STEP_SIZE, DEFAULT_GAMMA, DEFAULT_PATIENCE = 100, 0.5, 10
CLASS_WEIGHTS = ("none", "balanced")
CLASS_WEIGHT = Spec(str, "weight of each class in the loss: none, balanced (n_rows / "
                    "(n_classes * rows of the class), from the training rows) or a table "
                    "label = weight (a=2,b=0.5 as a flag; unlisted classes weigh 1)",
                    choices=CLASS_WEIGHTS,
                    table=Spec(float, "", lo=0, lo_open=True))
NO_CLASS_WEIGHT = CLASS_WEIGHTS[0]
