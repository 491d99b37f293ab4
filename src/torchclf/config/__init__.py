"""One typed config for a run: the schema (defaults, bounds, help), TOML in and out.

Front ends (CLI flags, recipe files, the playground, the estimator, sweep and tune)
build a ``RunConfig``; the library never sees an argparse namespace.
"""

from torchclf.config import profiles
from torchclf.config.files import from_dict, load, tomllib
from torchclf.config.schema import (SECTIONS, DataConfig, ModelConfig, RunConfig,
                                    TrainConfig)
from torchclf.spec import SettingError, Spec, spec_of

__all__ = ["DataConfig", "ModelConfig", "RunConfig", "SECTIONS", "SettingError", "Spec",
           "TrainConfig", "from_dict", "load", "profiles", "spec_of", "tomllib"]
