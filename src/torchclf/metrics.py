"""Classification metrics as pure functions of labels and probabilities.

NumPy in, floats out: they run once per evaluation, so clarity wins over device tricks.
Checked against scikit-learn in the tests.
"""

from __future__ import annotations

import numpy as np


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of labels predicted exactly, in [0, 1]."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float((y_true == y_pred).mean()) if len(y_true) else float("nan")


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(K, K) counts; row = true class, column = predicted class."""
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return m


def precision_recall_f1(y_true: np.ndarray, y_pred: np.ndarray,
                        n_classes: int) -> tuple[float, float, float]:
    """Macro-averaged precision, recall and F1; a class never predicted counts 0."""
    r = report_from_confusion(confusion_matrix(y_true, y_pred, n_classes), 0.0)
    return r["precision_macro"], r["recall_macro"], r["f1_macro"]


def log_loss(y_true: np.ndarray, proba: np.ndarray, eps: float = 1e-7) -> float:
    """Mean negative log probability of the true class (cross-entropy)."""
    proba = np.clip(np.asarray(proba, dtype=np.float64), eps, 1.0)
    picked = proba[np.arange(len(proba)), np.asarray(y_true, dtype=np.int64)]
    return float(-np.log(picked).mean())


def classification_report(y_true: np.ndarray, proba: np.ndarray,
                          classes: tuple | None = None) -> dict:
    """Every metric above for one split, as JSON-ready data; with ``classes`` (the label
    of each code) also each class's row count and precision, recall and F1."""
    n_classes = proba.shape[1]
    y_pred = proba.argmax(axis=1)
    confusion = confusion_matrix(y_true, y_pred, n_classes)
    return report_from_confusion(confusion, log_loss(y_true, proba) * len(y_true), classes)


def report_from_confusion(confusion: np.ndarray, log_loss_sum: float,
                          classes: tuple | None = None) -> dict:
    """The same report from counts alone, so shards can add theirs up first.

    ``class_counts`` and ``per_class`` are keyed by the label as text (JSON keys)."""
    confusion = np.asarray(confusion, dtype=np.int64)
    n = int(confusion.sum())
    tp = np.diag(confusion).astype(np.float64)
    predicted, actual = confusion.sum(axis=0), confusion.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(actual > 0, tp / actual, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    present = (actual + predicted) > 0
    by_class = {}
    if classes is not None:
        names = [str(c) for c in classes]
        by_class = {
            "class_counts": {c: int(n) for c, n in zip(names, actual)},
            "per_class": {c: {"precision": float(p), "recall": float(r), "f1": float(f)}
                          for c, p, r, f in zip(names, precision, recall, f1)}}
    return {
        "n_samples": n,
        "accuracy": float(tp.sum() / n) if n else float("nan"),
        "precision_macro": float(precision[present].mean()),
        "recall_macro": float(recall[present].mean()),
        "f1_macro": float(f1[present].mean()),
        "log_loss": float(log_loss_sum / n) if n else float("nan"),
        "confusion_matrix": confusion.tolist(),
        **by_class,
    }
