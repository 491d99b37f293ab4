"""The schema's settings under scikit-learn's parameter names, refused as scikit-learn does.

``TorchClassifier`` keeps scikit-learn's names (``alpha``, ``max_iter``, ...) and its own
profile of defaults (``profiles.ESTIMATOR``); its values are checked here, by the same
specs as every other front end, and a bad one is a ValueError naming the parameter.
"""

from __future__ import annotations

from typing import Any

from torchclf.config.schema import SECTIONS
from torchclf.spec import spec_of

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
}

# Values scikit-learn allows beyond the setting's own (the estimator resolves them).
EXTRA = {"batch_size": ("'auto'", lambda v: isinstance(v, str) and v == "auto"),
         "random_state": ("None or a numpy RandomState",
                          lambda v: v is None or type(v).__name__ == "RandomState")}


def check_params(params: dict[str, Any], owner: str) -> None:
    """A ValueError naming the first parameter whose value the schema refuses."""
    for param, (section, name) in SKLEARN_NAMES.items():
        if param not in params:
            continue
        value = params[param]
        spec = spec_of(SECTIONS[section], name)
        extra, allowed = EXTRA.get(param, ("", lambda v: False))
        if allowed(value):
            continue
        if spec.kind is tuple and hasattr(value, "tolist") and not isinstance(value, str):
            value = value.tolist()  # a NumPy array of sizes
        try:
            spec.check(name, value)
        except ValueError:
            expected = spec.describe().replace(" (or unset)", "")
            if name == "hidden":
                expected = f"a tuple of layer sizes such as (100,), each {spec.requirement()}"
            raise ValueError(f"The {param!r} parameter of {owner} must be "
                             f"{extra + ' or ' if extra else ''}{expected}. "
                             f"Got {params[param]!r:.60} instead.") from None
