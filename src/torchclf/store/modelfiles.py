"""Model files without pickle: weights in safetensors, everything else in JSON.

Loading never executes code from the files: safetensors holds only tensors, and
``model.json`` is checked against the weights before they are loaded.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np
import torch

from torchclf.data.dataset import Standardizer
from torchclf.errors import UserError
from torchclf.model import MLP
from torchclf.run import Predictor
from torchclf.version import __version__

WEIGHTS, DESCRIPTION = "model.safetensors", "model.json"
FORMAT_VERSION = 1


def describe(predictor: Predictor) -> dict:
    """JSON-ready description: architecture, task, classes, features, scaler, versions."""
    model = predictor.model
    if not isinstance(model, MLP):
        raise UserError("only torchclf MLP models can be saved as model files; "
                        f"got {type(model).__name__}: save its state_dict yourself")
    return {
        "format_version": FORMAT_VERSION,
        "architecture": model.describe(),
        "task": predictor.task,
        "classes": [_plain(c) for c in predictor.classes],
        "feature_names": list(predictor.feature_names),
        "scaler": predictor.scaler.to_dict() if predictor.scaler is not None else None,
        "versions": {"torchclf": __version__, "torch": torch.__version__,
                     "python": platform.python_version()},
    }


def save_model(predictor: Predictor, directory: str | Path) -> None:
    """Write model.safetensors and model.json into an existing directory."""
    from safetensors.torch import save
    directory = Path(directory)
    info = describe(predictor)
    state = {k: v.detach().to("cpu").contiguous()
             for k, v in predictor.model.state_dict().items()}
    # save() + write_bytes, not save_file: save_file makes the file 0600 whatever the umask
    (directory / WEIGHTS).write_bytes(save(state))
    (directory / DESCRIPTION).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


def load_model(directory: str | Path, device: str | torch.device = "cpu") -> Predictor:
    """Rebuild the Predictor saved by ``save_model``; tampered files are a UserError."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    directory = Path(directory)
    info = _read_json(directory / DESCRIPTION)
    try:
        arch = info["architecture"]
        if arch.get("type") != "MLP":
            raise UserError(f"{directory / DESCRIPTION}: unknown model type {arch.get('type')!r}")
        model = MLP.from_description(arch)
        classes = tuple(info["classes"])
        feature_names = tuple(info["feature_names"])
        scaler = Standardizer.from_dict(info["scaler"]) if info.get("scaler") else None
        task = info["task"]
    except (KeyError, TypeError, ValueError) as e:
        raise UserError(f"{directory / DESCRIPTION} is incomplete or invalid ({e}): "
                        "re-save the model") from None
    if len(classes) != model.n_classes or len(feature_names) != model.spec.in_features:
        raise UserError(f"{directory / DESCRIPTION} does not match its architecture: "
                        "re-save the model")
    weights_path = directory / WEIGHTS
    if not weights_path.is_file():
        raise UserError(f"missing weights file {weights_path}")
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as e:
        raise UserError(f"cannot read weights {weights_path} (corrupt or truncated): {e}") \
            from None
    if state and all(v.dtype == torch.float64 for v in state.values()):
        model.double()  # keep a float64 model float64, so predictions stay identical
    expected = model.state_dict()
    if set(state) != set(expected) or any(state[k].shape != expected[k].shape for k in state):
        raise UserError(f"weights in {weights_path} do not match {DESCRIPTION}: "
                        "the files come from different models")
    model.load_state_dict(state)
    model.to(device).eval()
    return Predictor(model, task, classes, feature_names, scaler)


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"missing {path}: is this a torchclf run directory?") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"cannot read {path} ({e}): the file is corrupt") from None
    if not isinstance(data, dict):
        raise UserError(f"{path} is not a torchclf model description")
    return data


def _plain(value: object) -> object:
    """NumPy scalars -> Python scalars, so JSON keeps str/int/bool labels exactly."""
    return value.item() if isinstance(value, np.generic) else value
