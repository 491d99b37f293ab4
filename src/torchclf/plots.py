"""The lesson's pictures as Figures: data, Train | Test boundaries, curves, confusion.

Object-oriented matplotlib only (``Figure``, never pyplot), so nothing global changes,
it works headless, and figures can be saved, shown in a notebook or embedded. Each
function computes first (``torchclf.grid``) and then draws; models are only called
through ``predict_proba``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap, to_rgb
from matplotlib.figure import Figure

from torchclf.data.dataset import Dataset
from torchclf.grid import ProbaFn, View2D, bounds, decision_grid

BINARY_COLORS = ("#d7301f", "#2b6cb0")  # red / blue, as the lesson's RdYlBu ends
TAB10 = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
         "#7f7f7f", "#bcbd22", "#17becf")


def class_colors(n_classes: int) -> list[str]:
    """One colour per class: red/blue for two, tab10 (cycled) for more."""
    if n_classes == 2:
        return list(BINARY_COLORS)
    return [TAB10[i % len(TAB10)] for i in range(n_classes)]


def _axes(ax: Axes | None, figsize=(6, 5)) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def _scatter(ax: Axes, P: np.ndarray, y: np.ndarray, classes: Sequence, colors: list[str],
             size: float = 18) -> None:
    for code, name in enumerate(classes):
        mask = y == code
        if mask.any():
            ax.scatter(P[mask, 0], P[mask, 1], s=size, c=colors[code], edgecolors="white",
                       linewidths=0.5, label=str(name))


def plot_data(ds: Dataset, ax: Axes | None = None, title: str | None = None) -> Figure:
    """Scatter of the dataset coloured by class (2-D view for other dimensions)."""
    fig, ax = _axes(ax)
    view = View2D.fit(ds.X, ds.feature_names)
    _scatter(ax, view.to_2d(ds.X), ds.y, ds.classes, class_colors(ds.n_classes))
    ax.set_xlabel(view.axis_labels[0])
    ax.set_ylabel(view.axis_labels[1])
    ax.set_title(title or f"{ds.name}: {len(ds)} points, {ds.n_classes} classes")
    ax.legend(loc="best", fontsize=8, title="class")
    return fig


def _shaded_image(labels: np.ndarray, confidence: np.ndarray, colors: list[str],
                  n_classes: int) -> np.ndarray:
    """RGB image: class colour blended towards white as confidence falls to chance."""
    rgb = np.array([to_rgb(c) for c in colors])[labels]
    chance = 1.0 / n_classes
    strength = np.clip((confidence - chance) / (1 - chance), 0, 1)[..., None]
    return 1 - (0.15 + 0.45 * strength) * (1 - rgb)


def plot_boundary(predict_proba: ProbaFn, train: Dataset, test: Dataset | None = None,
                  resolution: int = 200, title: str | None = None) -> Figure:
    """The lesson's picture: decision regions with Train | Test points side by side."""
    parts = [("Train", train)] + ([("Test", test)] if test is not None else [])
    X_all = np.concatenate([ds.X for _, ds in parts])
    view = View2D.fit(X_all, train.feature_names)
    box = bounds(view.to_2d(X_all))
    grid = decision_grid(predict_proba, X_all, train.feature_names, resolution, view=view,
                         box=box)
    k = train.n_classes
    colors = class_colors(k)
    image = _shaded_image(grid.labels, grid.confidence, colors, k)
    fig = Figure(figsize=(6 * len(parts), 5.2), layout="constrained")
    axes = fig.subplots(1, len(parts), squeeze=False)[0]
    for ax, (name, ds) in zip(axes, parts):
        ax.imshow(image, origin="lower", extent=box, aspect="auto", interpolation="bilinear")
        if k == 2:  # the smooth p = 0.5 line rather than the edge of the label pixels
            ax.contour(grid.xx, grid.yy, grid.proba[..., 1], levels=[0.5], colors="black",
                       linewidths=0.8)
        elif k <= 12:
            ax.contour(grid.xx, grid.yy, grid.labels, levels=np.arange(k) + 0.5,
                       colors="black", linewidths=0.8)
        _scatter(ax, view.to_2d(ds.X), ds.y, train.classes, colors)
        acc = (predict_proba(ds.X).argmax(axis=1) == ds.y).mean() if len(ds) else math.nan
        ax.set_title(f"{name} (accuracy {100 * acc:.1f}%)")
        ax.set_xlabel(view.axis_labels[0])
        ax.set_ylabel(view.axis_labels[1])
        ax.set_xlim(box[0], box[1])
        ax.set_ylim(box[2], box[3])
    axes[-1].legend(loc="upper right", fontsize=8, title="class")
    heading = title or train.name
    if view.note:
        heading += f"\n({view.note})"
    fig.suptitle(heading)
    return fig


def plot_curves(history: dict[str, list[float]]) -> Figure:
    """Loss and accuracy per epoch for train and test (test only where it was measured)."""
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    epochs = np.asarray(history.get("epoch", []), dtype=float)
    for ax, keys, label in ((loss_ax, ("loss", "test_loss", "val_loss"), "loss"),
                            (acc_ax, ("accuracy", "test_accuracy", "val_accuracy"),
                             "accuracy")):
        for key in keys:
            if key not in history:
                continue
            values = np.asarray(history[key], dtype=float)
            ok = np.isfinite(values)
            if not ok.any():
                continue
            sparse = ok.sum() < 0.5 * len(values)
            ax.plot(epochs[ok], values[ok], marker="o" if sparse else None, markersize=3,
                    label=key.replace("_", " ").replace("loss", "loss").strip())
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    loss_ax.set_title("Loss")
    acc_ax.set_title("Accuracy")
    return fig


def plot_confusion(matrix: np.ndarray, classes: Sequence, title: str | None = None,
                   ax: Axes | None = None) -> Figure:
    """Counts per (true, predicted) class pair, annotated."""
    matrix = np.asarray(matrix)
    k = len(classes)
    fig, ax = _axes(ax, figsize=(1.2 + 0.7 * max(k, 3), 1.0 + 0.6 * max(k, 3)))
    image = ax.imshow(matrix, cmap="Blues")
    names = [str(c) for c in classes]
    ax.set_xticks(range(k), names, rotation=45 if k > 4 else 0)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    threshold = matrix.max() / 2 if matrix.size else 0
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center",
                    color="white" if matrix[i, j] > threshold else "black", fontsize=9)
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_title(title or "Confusion matrix")
    return fig


def save_figure(fig: Figure, path: str | Path, dpi: int = 100) -> Path:
    """Write a PNG atomically: a crash never leaves half an image behind."""
    import io
    from torchclf.io import atomic_write_bytes
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return atomic_write_bytes(path, buffer.getvalue())
