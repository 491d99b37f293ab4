"""A trained model with everything needed to use it: a Predictor, and the Result around it.

A Predictor maps raw feature rows (as the user has them) to probabilities and labels:
it applies the recorded encoding of a table's columns and the Standardizer, and decodes
class codes. A Result adds the history,
the metrics and the config of the training that made it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from torchclf import task as tasks
from torchclf.data import summary
from torchclf.data.dataset import Dataset, Standardizer
from torchclf.data.encoding import TableEncoder
from torchclf.errors import UserError
from torchclf.metrics import classification_report

PREDICT_CHUNK = 65536
PREDICT_CHUNK_BYTES = 32 << 20  # and at most this many bytes of rows plus probabilities
FAST_PREDICT_MIN_ROWS = 4096  # below this, torch's own forward is just as quick


@dataclass
class Predictor:
    """Model + task + encoder + scaler + class names: raw rows in, probabilities out.

    ``feature_names`` are the model's inputs; with an ``encoder`` (a model trained on a
    table) rows come as the table has them, with the columns ``input_names``.
    """

    model: torch.nn.Module
    task: str
    classes: tuple
    feature_names: tuple[str, ...]
    scaler: Standardizer | None = None
    encoder: TableEncoder | None = None

    __repr__, _repr_html_ = summary.predictor_text, summary.predictor_html  # a few lines

    @property
    def input_names(self) -> tuple[str, ...]:
        """The columns a row must have."""
        return self.encoder.inputs if self.encoder is not None else tuple(self.feature_names)

    def features(self, rows, where: object = "the rows") -> np.ndarray:
        """Rows as the user has them (a DataFrame with ``input_names`` columns, or an
        array of them in that order) -> the model's float32 input features."""
        import pandas as pd
        if isinstance(rows, pd.DataFrame):
            rows = rows.rename(columns=str)
            if self.encoder is not None:
                return self.encoder.transform(rows, where)
            from torchclf.data.tabular import numeric_features
            absent = [c for c in self.feature_names if c not in rows.columns]
            if absent:
                raise UserError(f"{where} lacks the model's feature column(s) "
                                f"{', '.join(absent)}; it has {', '.join(rows.columns)}")
            return numeric_features(rows, list(self.feature_names), where)
        if self.encoder is None:
            return np.asarray(rows, dtype=np.float32)
        return self.encoder.transform_rows(rows, where)

    def predict_proba(self, X) -> np.ndarray:
        """Rows as the user has them (see ``features``) -> (n, K) probabilities."""
        return self.proba_of_features(self.features(X))

    @torch.no_grad()
    def proba_of_features(self, X: np.ndarray) -> np.ndarray:
        """(n, n_features) model input features -> (n, K) probabilities.

        Runs where the model already is, in eval mode, and leaves the model's device
        and mode exactly as they were.
        """
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != len(self.feature_names):
            raise UserError(f"expected {len(self.feature_names)} features "
                            f"({', '.join(self.feature_names)}), got shape {X.shape}")
        param = next(self.model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        dtype = param.dtype if param is not None else torch.float32
        kernel = device.type == "cpu" and len(X) >= FAST_PREDICT_MIN_ROWS
        was_training = self.model.training
        self.model.eval()
        # a chunk at a time: the scaled copy and the layers' outputs stay small, in bytes
        # too (wide rows or many classes make fewer rows per chunk)
        step = max(1, min(PREDICT_CHUNK, PREDICT_CHUNK_BYTES
                          // (4 * (X.shape[1] + len(self.classes)))))
        try:
            out = [self._proba_chunk(X[i:i + step], kernel, device, dtype)
                   for i in range(0, len(X), step)]
        finally:
            self.model.train(was_training)
        if not out:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        return np.concatenate(out) if len(out) > 1 else out[0]

    def _proba_chunk(self, X: np.ndarray, kernel: bool, device: torch.device,
                     dtype: torch.dtype) -> np.ndarray:
        if not (np.isfinite(X.min()) and np.isfinite(X.max())):  # NaN too
            raise UserError("input contains nan or inf values: clean or impute them first")
        if self.scaler is not None:
            X = self.scaler.transform(X)
        if kernel:
            from torchclf.engine.fast import predict_proba as kernel_proba
            proba = kernel_proba(self.model, X)
            if proba is not None:
                return proba
        return tasks.probabilities(self.model(torch.as_tensor(X, device=device, dtype=dtype)),
                                   self.task).float().cpu().numpy()

    def predict_codes(self, X) -> np.ndarray:
        """(n,) class codes 0..K-1 of rows as the user has them."""
        return self.predict_proba(X).argmax(axis=1)

    def predict(self, X) -> np.ndarray:
        """(n,) labels as the user gave them (strings, ints or bools)."""
        return np.asarray(self.classes, dtype=object)[self.predict_codes(X)]

    def report(self, ds: Dataset) -> dict:
        """Accuracy, macro and per-class precision/recall/F1, log loss, confusion matrix
        and rows per class on ``ds`` (whose ``X`` are model input features, as ``split``
        makes them)."""
        return classification_report(ds.y, self.proba_of_features(ds.X), self.classes)


class Metrics(dict):
    """``{"train": report, "test": report}``; a split that was not measured is a KeyError
    (a UserError too) that says how to measure it, not a bare ``KeyError: 'test'``."""

    def __missing__(self, split):
        if split == "test":
            raise NoSuchSplit("this run has no test metrics: it was trained without test "
                              "data; pass it, e.g. train, test = ds.split(); "
                              "run = tc.fit(model, train, test)")
        raise NoSuchSplit(f"this run has no metrics {split!r}: it has "
                          f"{', '.join(map(repr, self)) or 'none'}")


class NoSuchSplit(UserError, KeyError):
    """A missing split of ``Result.metrics``: a KeyError that reads as one line."""

    __str__ = UserError.__str__


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

    __repr__, _repr_html_ = summary.result_text, summary.result_html  # not 37,000 chars

    def history_frame(self):
        """The per-epoch history as a pandas DataFrame, one row per epoch (a copy:
        ``history`` itself stays the dict of lists that run files and callbacks use)."""
        import pandas as pd
        return pd.DataFrame({k: list(v) for k, v in self.history.items()})

    def __post_init__(self) -> None:
        if not isinstance(self.metrics, Metrics):
            self.metrics = Metrics(self.metrics)

    @classmethod
    def from_training(cls, model: torch.nn.Module, train: Dataset, test: Dataset | None,
                      task: str, scaler: Standardizer | None, history: dict, config: dict,
                      stop_reason: str = "") -> "Result":
        predictor = Predictor(model, task, train.classes, train.feature_names, scaler,
                              train.encoder)
        metrics = {"train": predictor.report(train)}
        if test is not None:
            metrics["test"] = predictor.report(test)
        return cls(predictor, history, metrics, config, train, test, stop_reason)

    @classmethod
    def from_outcome(cls, outcome) -> "Result":
        """From ``torchclf.engine.loop.Outcome`` (what ``fit`` trains)."""
        return cls.from_training(outcome.model, outcome.train, outcome.test, outcome.task,
                                 outcome.scaler, outcome.history, outcome.config,
                                 outcome.stop_reason)

    @property
    def model(self) -> torch.nn.Module:
        return self.predictor.model

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.predictor.predict_proba(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.predictor.predict(X)
