"""Short displays: the few lines a notebook shows for a Dataset, a Standardizer, a
Predictor, a run or an estimator, as text (``__repr__``) and as an HTML table
(``_repr_html_``). Never the arrays: a shape, the classes with their counts, the
architecture, the final metrics.
"""

from __future__ import annotations

import html
from typing import Iterable, Sequence

import numpy as np

SHOWN = 6  # items of a list shown before "..."


def listed(items: Sequence, shown: int = SHOWN) -> str:
    """``a, b, c, ... (12 in all)``: the first few items as text."""
    items = [str(i) for i in items]
    if len(items) <= shown:
        return ", ".join(items)
    return ", ".join(items[:shown]) + f", ... ({len(items)} in all)"


def class_counts(classes: Sequence, codes: np.ndarray) -> str:
    """``'a': 50, 'b': 50``: each class (the first few) with its number of rows."""
    counts = np.bincount(np.asarray(codes, dtype=np.int64), minlength=len(classes))
    return listed([f"{c!r}: {int(n)}" for c, n in zip(classes, counts)])


def numbers(values, shown: int = 4) -> str:
    """``[0.12, -3.4, ...]``: the first few numbers of an array, 3 significant digits."""
    values = np.ravel(np.asarray(values, dtype=float))
    text = ", ".join(f"{v:.3g}" for v in values[:shown])
    return f"[{text}{', ...' if len(values) > shown else ''}]"


def table(title: str, rows: Iterable[tuple[str, str]]) -> str:
    """An HTML table of (name, value) rows under a bold title, every text escaped."""
    body = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
                   f"<td style='text-align:left'>{html.escape(v)}</td></tr>"
                   for k, v in rows)
    return f"<div><b>{html.escape(title)}</b><table>{body}</table></div>"


def architecture(model) -> str:
    """``MLP 2 → 8 → 8 → 1 (relu)`` for an MLP; the class and parameter count otherwise."""
    spec = getattr(model, "spec", None)
    if spec is not None and hasattr(spec, "hidden"):
        sizes = " → ".join(map(str, [spec.in_features, *spec.hidden, spec.out_features]))
        extra = f", dropout {spec.dropout:g}" if getattr(spec, "dropout", 0) else ""
        return f"{type(model).__name__} {sizes} ({spec.activation}{extra})"
    n = sum(p.numel() for p in model.parameters()) if hasattr(model, "parameters") else 0
    return f"{type(model).__name__} ({n:,} parameters)"


def scores(report: dict) -> str:
    """``accuracy 0.950, loss 0.123`` of a ``classification_report``."""
    parts = []
    if "accuracy" in report:
        parts.append(f"accuracy {report['accuracy']:.3f}")
    if "log_loss" in report:
        parts.append(f"loss {report['log_loss']:.3g}")
    return ", ".join(parts)


# -- the data layer's own: a Dataset and a Standardizer ---------------------------------

def _dataset_rows(ds) -> list[tuple[str, str]]:
    return [("rows × features", f"{len(ds):,} × {ds.n_features}"),
            ("features", listed(ds.feature_names)),
            (f"classes ({ds.n_classes})", class_counts(ds.classes, ds.y))]


def dataset_text(ds) -> str:
    shape, features, classes = (v for _, v in _dataset_rows(ds))
    return (f"Dataset({ds.name!r}: {shape.replace(' × ', ' rows × ')} features "
            f"[{features}], {ds.n_classes} classes {{{classes}}})")


def dataset_html(ds) -> str:
    return table(f"Dataset {ds.name!r}", _dataset_rows(ds))


def _scaler_rows(scaler) -> list[tuple[str, str]]:
    if scaler.mean_ is None:
        return [("state", "not fitted: call fit(X_train)")]
    return [("features", str(len(scaler.mean_))), ("mean", numbers(scaler.mean_)),
            ("scale", numbers(scaler.scale_))]


def scaler_text(scaler) -> str:
    if scaler.mean_ is None:
        return "Standardizer(not fitted)"
    return "Standardizer(" + ", ".join(f"{k} {v}" for k, v in _scaler_rows(scaler)) + ")"


def scaler_html(scaler) -> str:
    return table("Standardizer", _scaler_rows(scaler))


# -- a trained model (Predictor) and its run (Result), read without importing them ------

def _predictor_rows(p) -> list[tuple[str, str]]:
    rows = [("model", architecture(p.model)), ("task", p.task),
            (f"classes ({len(p.classes)})", listed(map(repr, p.classes))),
            ("inputs", listed(p.input_names))]
    if p.scaler is not None:
        rows.append(("standardized", "yes"))
    return rows


def predictor_text(p) -> str:
    rows = dict(_predictor_rows(p))
    return (f"Predictor({rows['model']}, {p.task}, classes [{listed(map(repr, p.classes))}]"
            f", inputs [{rows['inputs']}])")


def predictor_html(p) -> str:
    return table("Predictor", _predictor_rows(p))


def _result_rows(r) -> list[tuple[str, str]]:
    epochs = len(next(iter(r.history.values()), []))
    rows = [("model", architecture(r.model)), ("epochs", str(epochs))]
    rows += [(split, scores(r.metrics[split])) for split in ("train", "test")
             if split in r.metrics]
    for split, ds in (("train data", r.train), ("test data", r.test)):
        if ds is not None:
            rows.append((split, f"{len(ds):,} rows, {class_counts(ds.classes, ds.y)}"))
    if r.stop_reason:
        rows.append(("stopped", r.stop_reason))
    return rows


def result_text(r) -> str:
    name = r.config.get("name", "") if isinstance(r.config, dict) else ""
    rows = dict(_result_rows(r))  # the model, its epochs and its final scores
    shown = [rows["model"], f"epochs {rows['epochs']}"] + [
        f"{split}: {rows[split]}" for split in ("train", "test") if split in rows]
    return f"{type(r).__name__}({name!r}: " + "; ".join(shown) + ")"


def result_html(r) -> str:
    name = r.config.get("name", "") if isinstance(r.config, dict) else ""
    return table(f"{type(r).__name__} {name!r}".strip(), _result_rows(r))
