"""Model files without pickle: weights in safetensors, everything else in JSON.

Loading never executes code from the files: safetensors holds only tensors, and
``model.json`` is checked against the weights before they are loaded.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import torch

from torchclf.data.dataset import Standardizer, plain_label
from torchclf.data.encoding import TableEncoder
from torchclf.errors import UserError
from torchclf.model import MLP
from torchclf.run import Predictor
from torchclf.store.modelcheck import (FORMAT_VERSION, check_description, check_finite,
                                       expected_shapes)
from torchclf.version import __version__

WEIGHTS, DESCRIPTION = "model.safetensors", "model.json"


def describe(predictor: Predictor) -> dict:
    """JSON-ready description: architecture, task, classes, features, encoder, scaler,
    versions."""
    model = predictor.model
    if not isinstance(model, MLP):
        raise UserError("only torchclf MLP models can be saved as model files; "
                        f"got {type(model).__name__}: save its state_dict yourself")
    return {
        "format_version": FORMAT_VERSION,
        "architecture": model.describe(),
        "task": predictor.task,
        "classes": [plain_label(c) for c in predictor.classes],
        "feature_names": list(predictor.feature_names),
        "scaler": predictor.scaler.to_dict() if predictor.scaler is not None else None,
        "encoder": predictor.encoder.to_dict() if predictor.encoder is not None else None,
        "versions": {"torchclf": __version__, "torch": torch.__version__,
                     "python": platform.python_version()},
    }


def save_model(predictor: Predictor, directory: str | Path,
               estimator: dict | None = None) -> None:
    """Write model.safetensors and model.json into an existing directory; ``estimator``
    (a TorchClassifier's hyperparameters, plain JSON values) goes into model.json too."""
    from safetensors.torch import save
    directory = Path(directory)
    info = describe(predictor)
    if estimator is not None:
        info["estimator"] = estimator
    state = {k: v.detach().to("cpu").contiguous()
             for k, v in predictor.model.state_dict().items()}
    # save() + write_bytes, not save_file: save_file makes the file 0600 whatever the umask
    (directory / WEIGHTS).write_bytes(save(state))
    (directory / DESCRIPTION).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


def load_model(directory: str | Path, device: str | torch.device = "cpu") -> Predictor:
    """Rebuild the Predictor saved by ``save_model``; tampered files are a UserError.

    model.json is checked key by key (``store.modelcheck``) and the weights file's header
    against it, so a hand-edited file is refused before any weights are allocated.
    Both files come from one save, even while another process re-saves the folder.
    """
    from torchclf.store.snapshot import read_consistent
    return read_consistent(directory, lambda: _load_model(Path(directory), device))


def _load_model(directory: Path, device: str | torch.device) -> Predictor:
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    d = check_description(_read_json(directory / DESCRIPTION), directory / DESCRIPTION)
    weights_path = directory / WEIGHTS
    float64 = _check_weights(weights_path, d)
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as e:
        raise UserError(f"cannot read weights {weights_path} (corrupt or truncated): {e}") \
            from None
    check_finite(state, weights_path)
    model = MLP(d["in_features"], d["hidden"], d["n_classes"], d["activation"], d["dropout"],
                d["task"])
    if float64:
        model.double()  # keep a float64 model float64, so predictions stay identical
    model.load_state_dict(state)
    model.to(device).eval()
    scaler = Standardizer.from_dict(d["scaler"]) if d["scaler"] is not None else None
    encoder = TableEncoder.from_dict(d["encoder"]) if d["encoder"] is not None else None
    return Predictor(model, d["task"], d["classes"], d["feature_names"], scaler, encoder)


def _check_weights(path: Path, d: dict) -> bool:
    """The weights file holds exactly the tensors ``d`` needs (read from its header
    alone); returns whether they are float64."""
    from safetensors import SafetensorError, safe_open
    if not path.is_file():
        raise UserError(f"missing weights file {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            found = {k: (tuple(f.get_slice(k).get_shape()), f.get_slice(k).get_dtype())
                     for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise UserError(f"cannot read weights {path} (corrupt or truncated): {e}") from None
    expected = expected_shapes(d)
    if {k: shape for k, (shape, _) in found.items()} != expected:
        raise UserError(f"weights in {path} do not match {DESCRIPTION}: "
                        "the files come from different models")
    dtypes = {dtype for _, dtype in found.values()}
    if not dtypes <= {"F32"} and dtypes != {"F64"}:
        raise UserError(f"weights in {path} are {', '.join(sorted(dtypes))}, not float32 or "
                        "float64: re-save the run")
    return dtypes == {"F64"}


def read_description(directory: str | Path) -> dict:
    """model.json of a saved model, as written (``load_model`` checks it)."""
    return _read_json(Path(directory) / DESCRIPTION)


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
