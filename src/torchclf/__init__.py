"""torchclf: neural-network classification with PyTorch, as a library, a CLI and a playground.

The public API. Names load on first use (PEP 562), so ``torchclf --help`` does not pay
for importing torch and matplotlib.
"""

from __future__ import annotations

import importlib
from typing import Any

from torchclf.version import __version__

_EXPORTS = {
    "Callback": "torchclf.engine.callbacks",
    "EarlyStopping": "torchclf.engine.callbacks",
    "BoundarySnapshots": "torchclf.animation",
    "Dataset": "torchclf.data.dataset",
    "Standardizer": "torchclf.data.dataset",
    "from_arrays": "torchclf.data.dataset",
    "load_table": "torchclf.data.tabular",
    "MLP": "torchclf.model",
    "count_parameters": "torchclf.model",
    "manual_tanh": "torchclf.model",
    "Predictor": "torchclf.run",
    "Run": "torchclf.api",
    "RunConfig": "torchclf.config",
    "load_config": "torchclf.config",
    "run_config": "torchclf.api",
    "load_run": "torchclf.api",
    "resolve_device": "torchclf.runtime",
    "seed_everything": "torchclf.runtime",
    "fit": "torchclf.api",
    "TrainingDiverged": "torchclf.engine.loop",
    "UserError": "torchclf.errors",
    "TorchClassifier": "torchclf.estimator",
    "export_onnx": "torchclf.export",
    "export_torchscript": "torchclf.export",
    "plot_decision_boundary": "torchclf.plots",
}
_MODULES = {"callbacks": "torchclf.callbacks", "datasets": "torchclf.data.synthetic", "metrics": "torchclf.metrics",
            "plots": "torchclf.plots", "recipes": "torchclf.recipes"}

__all__ = sorted([*_EXPORTS, *_MODULES, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(_MODULES[name])
    if name in _EXPORTS:
        attr = "load" if name == "load_config" else name
        value = getattr(importlib.import_module(_EXPORTS[name]), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'torchclf' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
