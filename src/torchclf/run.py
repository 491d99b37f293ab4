"""A trained model with everything needed to use it: a Predictor, and the Result around it.

A Predictor maps raw feature rows (as the user has them) to probabilities and labels:
it applies the recorded Standardizer and decodes class codes. A Result adds the history,
the metrics and the config of the training that made it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from torchclf import task as tasks
from torchclf.data.dataset import Dataset, Standardizer
from torchclf.errors import UserError
from torchclf.metrics import classification_report

PREDICT_CHUNK = 65536
FAST_PREDICT_MIN_ROWS = 4096  # below this, torch's own forward is just as quick


@dataclass
class Predictor:
    """Model + task + scaler + class names: raw rows in, probabilities out."""

    model: torch.nn.Module
    task: str
    classes: tuple
    feature_names: tuple[str, ...]
    scaler: Standardizer | None = None

    @torch.no_grad()
    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(n, n_features) raw features -> (n, K) probabilities.

        Runs where the model already is, in eval mode, and leaves the model's device
        and mode exactly as they were.
        """
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != len(self.feature_names):
            raise UserError(f"expected {len(self.feature_names)} features "
                            f"({', '.join(self.feature_names)}), got shape {X.shape}")
        if not np.isfinite(X).all():
            raise UserError("input contains nan or inf values: clean or impute them first")
        if self.scaler is not None:
            X = self.scaler.transform(X)
        param = next(self.model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        dtype = param.dtype if param is not None else torch.float32
        if device.type == "cpu" and len(X) >= FAST_PREDICT_MIN_ROWS:
            from torchclf.engine.fast import predict_proba as kernel_proba
            proba = kernel_proba(self.model, X)
            if proba is not None:
                return proba
        was_training = self.model.training
        self.model.eval()
        try:
            out = [tasks.probabilities(self.model(torch.as_tensor(
                       X[i:i + PREDICT_CHUNK], device=device, dtype=dtype)), self.task)
                   for i in range(0, len(X), PREDICT_CHUNK)]
        finally:
            self.model.train(was_training)
        if not out:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        return torch.cat(out).float().cpu().numpy()

    def predict_codes(self, X: np.ndarray) -> np.ndarray:
        """(n,) class codes 0..K-1."""
        return self.predict_proba(X).argmax(axis=1)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """(n,) labels as the user gave them (strings, ints or bools)."""
        return np.asarray(self.classes, dtype=object)[self.predict_codes(X)]

    def report(self, ds: Dataset) -> dict:
        """Accuracy, macro precision/recall/F1, log loss and confusion matrix on ``ds``."""
        return classification_report(ds.y, self.predict_proba(ds.X))


@dataclass
class Result:
    """What training produced: predictor, per-epoch history, metrics and config.

    Pure: no files, no figures. ``torchclf.api.Run`` (what ``fit`` returns) adds the
    notebook's ``plot_*`` and ``save``.
    """

    predictor: Predictor
    history: dict[str, list[float]]
    metrics: dict[str, Any]
    config: dict = field(default_factory=dict)
    train: Dataset | None = None
    test: Dataset | None = None
    stop_reason: str = ""

    @classmethod
    def from_training(cls, model: torch.nn.Module, train: Dataset, test: Dataset | None,
                      task: str, scaler: Standardizer | None, history: dict, config: dict,
                      stop_reason: str = "") -> "Result":
        predictor = Predictor(model, task, train.classes, train.feature_names, scaler)
        metrics = {"train": predictor.report(train)}
        if test is not None:
            metrics["test"] = predictor.report(test)
        return cls(predictor, history, metrics, config, train, test, stop_reason)

    @property
    def model(self) -> torch.nn.Module:
        return self.predictor.model

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.predictor.predict_proba(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.predictor.predict(X)
