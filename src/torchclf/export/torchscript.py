"""A Predictor's network as TorchScript: encoded features in, probabilities out.

TorchScript runs tensors only, so the file starts after the encoder: its input is what
``Predictor.features(rows)`` returns, a float32 (N, n_features) tensor whose columns are
the ``feature_names`` recorded in the file's extra file ``torchclf.json`` (with the
classes and the task). Inside are the Standardizer, the MLP and sigmoid or softmax,
giving (N, K) float32 probabilities, columns in the order of the classes. Load it with
``torch.jit.load(path)`` in Python or ``torch::jit::load`` in C++ (libtorch).

``torch.jit`` is deprecated in recent torch releases (it warns) but still works; the
warnings are silenced here because the user asked for this format.
"""

from __future__ import annotations

import copy
import io
import json
import warnings

import numpy as np
import torch
from torch import nn

from torchclf import task as tasks
from torchclf.export import EXTRA_FILE
from torchclf.version import __version__


class ScriptedPredictor(nn.Module):
    """Standardizer + model + probabilities, on the model's input features."""

    def __init__(self, model: nn.Module, task: str, mean: np.ndarray, scale: np.ndarray) -> None:
        super().__init__()
        self.model = copy.deepcopy(model).to("cpu").eval().requires_grad_(False)
        self.task = task
        self.dtype = next(self.model.parameters()).dtype
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, n_features) features -> (N, K) float32 probabilities."""
        x = (x.to(torch.float32) - self.mean) / self.scale
        logits = self.model(x.to(self.dtype))
        return tasks.probabilities(logits, self.task).to(torch.float32)


def torchscript_bytes(predictor) -> bytes:
    """The TorchScript archive of ``predictor``'s scaler, model and probabilities."""
    n = len(predictor.feature_names)
    scaler = predictor.scaler
    mean = scaler.mean_ if scaler is not None else np.zeros(n, np.float32)
    scale = scaler.scale_ if scaler is not None else np.ones(n, np.float32)
    module = ScriptedPredictor(predictor.model, predictor.task, mean, scale)
    from torchclf.data.dataset import plain_label
    info = {"format": "torchscript", "torchclf": __version__, "task": predictor.task,
            "classes": [plain_label(c) for c in predictor.classes],
            "feature_names": list(predictor.feature_names),
            "input": "float32 (N, n_features): the encoded features, "
                     "as torchclf's Predictor.features(rows) returns them"}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.script(module)
        torch.jit.save(scripted, buffer, _extra_files={EXTRA_FILE: json.dumps(info)})
    return buffer.getvalue()
