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
    """Mean negative log probability of the true class (cross-entropy). Only the true
    class's column is converted: a float64 copy of (n, K) was GBs for many classes."""
    proba = np.asarray(proba)
    picked = proba[np.arange(len(proba)), np.asarray(y_true, dtype=np.int64)]
    return float(-np.log(np.clip(picked.astype(np.float64), eps, 1.0)).mean())


MAX_CONFUSION_CLASSES = 30  # classes up to which a report keeps every class in full
LISTED_CLASSES = 20  # beyond: the classes with the worst F1 listed, and the top pairs


def classification_report(y_true: np.ndarray, proba: np.ndarray,
                          classes: tuple | None = None) -> dict:
    """Every metric above for one split, as JSON-ready data; with ``classes`` (the label
    of each code) also each class's row count and precision, recall and F1.

    The counts are taken from the (true, predicted) pairs that occur, never a K x K
    array, so many classes cost memory by rows, not K squared."""
    n_classes = proba.shape[1]
    y_pred = np.asarray(proba).argmax(axis=1)
    pairs, counts = _pairs(y_true, y_pred, n_classes)
    return _report(pairs, counts, n_classes, log_loss(y_true, proba) * len(y_true), classes)


def report_from_confusion(confusion: np.ndarray, log_loss_sum: float,
                          classes: tuple | None = None) -> dict:
    """The same report from counts alone, so shards can add theirs up first."""
    confusion = np.asarray(confusion, dtype=np.int64)
    true, pred = np.nonzero(confusion)
    return _report(np.c_[true, pred], confusion[true, pred], len(confusion),
                   log_loss_sum, classes)


def _pairs(y_true, y_pred, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(m, 2) distinct (true, predicted) codes and (m,) how often each occurs."""
    codes = np.asarray(y_true, dtype=np.int64) * k + np.asarray(y_pred, dtype=np.int64)
    unique, counts = np.unique(codes, return_counts=True)
    return np.c_[unique // k, unique % k], counts


def _report(pairs: np.ndarray, counts: np.ndarray, k: int, log_loss_sum: float,
            classes: tuple | None) -> dict:
    """The report of the (true, predicted) ``pairs`` seen ``counts`` times, K = ``k``.

    Up to MAX_CONFUSION_CLASSES classes it has the whole ``confusion_matrix`` and every
    class in ``class_counts`` and ``per_class`` (keyed by the label as text, for JSON).
    Beyond, its size does not grow with K: no matrix, ``top_confusions`` (the
    LISTED_CLASSES most frequent true -> predicted mistakes), and ``class_counts`` and
    ``per_class`` for the LISTED_CLASSES classes of lowest F1 only (then most rows),
    which ``classes_listed`` says."""
    pairs, counts = np.asarray(pairs, dtype=np.int64).reshape(-1, 2), np.asarray(counts)
    true, pred = pairs[:, 0], pairs[:, 1]
    n = int(counts.sum())
    tp = np.bincount(true[true == pred], counts[true == pred], minlength=k)
    predicted = np.bincount(pred, counts, minlength=k)
    actual = np.bincount(true, counts, minlength=k)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(actual > 0, tp / actual, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    present = (actual + predicted) > 0
    names = [str(c) for c in classes] if classes is not None else [str(i) for i in range(k)]
    out = {
        "n_samples": n,
        "accuracy": float(tp.sum() / n) if n else float("nan"),
        "precision_macro": float(precision[present].mean()),
        "recall_macro": float(recall[present].mean()),
        "f1_macro": float(f1[present].mean()),
        "log_loss": float(log_loss_sum / n) if n else float("nan"),
    }
    if k <= MAX_CONFUSION_CLASSES:
        matrix = np.zeros((k, k), dtype=np.int64)
        matrix[true, pred] = counts
        out["confusion_matrix"] = matrix.tolist()
        listed = np.arange(k)
    else:
        wrong = np.flatnonzero(true != pred)
        top = wrong[np.lexsort((pred[wrong], true[wrong], -counts[wrong]))][:LISTED_CLASSES]
        out["n_classes"] = k
        out["top_confusions"] = [{"true": names[true[i]], "predicted": names[pred[i]],
                                  "count": int(counts[i])} for i in top]
        listed = np.lexsort((np.arange(k), -actual, f1))[:LISTED_CLASSES]
        out["classes_listed"] = f"the {len(listed)} of {k} classes with the lowest F1"
    if classes is not None:
        out["class_counts"] = {names[c]: int(actual[c]) for c in listed}
        out["per_class"] = {names[c]: {"precision": float(precision[c]),
                                       "recall": float(recall[c]), "f1": float(f1[c])}
                            for c in listed}
    return out
