"""Named sets of defaults for front ends whose starting point is not a plain run's.

Each profile is the changes it makes to ``RunConfig()``, section by section; values are
checked by the schema when a profile is applied (``test_config`` applies every one).
"""

from __future__ import annotations

from torchclf.config.schema import RunConfig

# TorchClassifier starts where scikit-learn's MLPClassifier does.
ESTIMATOR = {"model": {"hidden": (100,)},
             "train": {"optimizer": "adam", "lr": 0.001, "weight_decay": 1e-4,
                       "epochs": 200, "device": "cpu"}}

# A tune trial is short and uses Adam; trial n is seeded ``seed + n``.
TUNE = {"train": {"epochs": 300, "log_every": 25, "optimizer": "adam", "seed": 0}}

# The playground starts small and runs until Play stops at ``epochs``.
PLAYGROUND = {"data": {"params": {"n_samples": 400, "noise": 0.1, "n_classes": 3}},
              "train": {"epochs": 5000, "seed": 0}}

# torchclf.fit from a notebook: the lesson's loop, 100 epochs unless asked for more.
FIT = {"train": {"epochs": 100}}

# Many models at once (train_many's ModelSpec): seeds count from 0.
MANY = {"train": {"seed": 0}}

PROFILES = {"estimator": ESTIMATOR, "tune": TUNE, "playground": PLAYGROUND, "fit": FIT,
            "many": MANY}


def defaults(profile: dict, section: str):
    """``name -> default`` of a profile's section, for keyword defaults of a function."""
    return lambda name: value(profile, section, name)


def value(profile: dict, section: str, name: str):
    """The profile's value of a setting, or the schema's default."""
    from torchclf.spec import default_of
    from torchclf.config.schema import SECTIONS
    return profile.get(section, {}).get(name, default_of(SECTIONS[section], name))


def apply(profile: dict, config: RunConfig | None = None) -> RunConfig:
    """``config`` (default: a plain run) with the profile's changes."""
    config = config if config is not None else RunConfig()
    for section, changes in profile.items():
        config = config.replace(section, **changes)
    return config
