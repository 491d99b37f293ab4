"""The schema's settings under scikit-learn's parameter names, refused as scikit-learn does.

``TorchClassifier`` keeps scikit-learn's names (``alpha``, ``max_iter``, ...) and its own
profile of defaults (``profiles.ESTIMATOR``); its values are checked here, by the same
specs as every other front end, and a bad one is a ValueError naming the parameter.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from torchclf.config.schema import ESTIMATOR_PARAMS, SECTIONS
from torchclf.spec import Spec, spec_of

# scikit-learn parameter -> (config section, setting)
SKLEARN_NAMES = {
    "hidden_layer_sizes": ("model", "hidden"),
    "activation": ("model", "activation"),
    "optimizer": ("train", "optimizer"),
    "learning_rate_init": ("train", "lr"),
    "alpha": ("train", "weight_decay"),
    "max_iter": ("train", "epochs"),
    "batch_size": ("train", "batch_size"),
    "random_state": ("train", "seed"),
    "device": ("train", "device"),
    "validation_fraction": ("data", "test_size"),  # a fraction held out, as test_size
    "n_iter_no_change": ("train", "early_stopping"),  # a patience in epochs
    "standardize": ("data", "standardize"),
    **{name: ("train", name) for name in ("l1", "lr_schedule", "lr_step_size", "lr_gamma",
                                          "lr_patience", "class_weight")},  # torchclf's own
}

# Values scikit-learn allows beyond the setting's own (the estimator resolves them).
EXTRA = {"batch_size": ("'auto'", lambda v: isinstance(v, str) and v == "auto"),
         "random_state": ("None or a numpy RandomState",
                          lambda v: v is None or type(v).__name__ == "RandomState")}


def layer_sizes(value: Any) -> Any:
    """``hidden_layer_sizes`` as a tuple: an integer n is one layer (n,), as in
    scikit-learn, and a NumPy array its items; anything else is left for the check."""
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        return (int(value),)
    if hasattr(value, "tolist") and not isinstance(value, str):
        return tuple(value.tolist())
    return tuple(value) if isinstance(value, list) else value


def _specs():
    """(parameter, setting name, Spec) for every parameter the schema bounds."""
    for param, (section, name) in SKLEARN_NAMES.items():
        yield param, name, spec_of(SECTIONS[section], name)
    for param, spec in ESTIMATOR_PARAMS.items():
        yield param, param, spec


def check_params(params: dict[str, Any], owner: str) -> None:
    """A ValueError naming the first parameter whose value the schema refuses."""
    for param, name, spec in _specs():
        if param not in params:
            continue
        value = params[param]
        extra, allowed = EXTRA.get(param, ("", lambda v: False))
        if allowed(value):
            continue
        if name == "hidden":
            value = layer_sizes(value)
        elif isinstance(value, np.generic):
            value = value.item()  # np.True_, np.float64(0.1): as scikit-learn allows
        try:
            spec.check(name, value)
        except ValueError:
            raise ValueError(f"The {param!r} parameter of {owner} must be "
                             f"{extra + ' or ' if extra else ''}{_expected(name, spec)}. "
                             f"Got {params[param]!r:.60} instead.") from None


def _expected(name: str, spec: Spec) -> str:
    if name == "hidden":
        return f"an integer or a tuple of layer sizes such as (100,), each {spec.requirement()}"
    return spec.describe().replace(" (or unset)", "")
