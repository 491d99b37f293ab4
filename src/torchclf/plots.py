"""The lesson's pictures as Figures: data, Train | Test boundaries, curves, confusion.

Object-oriented matplotlib only (``matplotlib.figure.Figure``, never pyplot): no global
state changes, no GUI backend is needed, and figures can be saved, shown in a notebook
or embedded. What a boundary shows is computed by ``torchclf.grid``; models are only
ever called through the ``predict_proba`` callable they are given.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import to_hex, to_rgb
from matplotlib.figure import Figure

from torchclf.data.dataset import Dataset
from torchclf.grid import BoundaryGrid, ProbaFn, View2D, bounds, decision_grid
from torchclf.errors import UserError
from torchclf.run import Result


def class_colors(n_classes: int) -> list[str]:
    """One hex colour per class: the ends of RdYlBu for two, tab10 (cycled) for more."""
    if n_classes == 2:
        return [to_hex(colormaps["RdYlBu"](v)) for v in (0.05, 0.95)]
    tab10 = colormaps["tab10"].colors
    return [to_hex(tab10[i % len(tab10)]) for i in range(n_classes)]


class Picture(Figure):
    """A Figure that a notebook shows as an image when it is a cell's value.

    Figures made without pyplot have no display of their own in Jupyter (the cell shows
    ``<Figure size 1100x500 with 2 Axes>``); ``_repr_png_`` draws this one as PNG bytes
    (``png_bytes``), with no magic and no pyplot, so it is shown once. Everything else is
    the Figure's own: ``savefig``, ``axes``, ``suptitle``...
    """

    def _repr_png_(self) -> bytes:
        return png_bytes(self)


def _axes(ax: Axes | None, figsize: tuple[float, float] = (6, 5)) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.get_figure(), ax
    fig = Picture(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


LEGEND_CLASSES = 20  # classes up to which a scatter is labelled per class (a legend)


def _panels(axes, n: int, figsize: tuple[float, float]) -> tuple[Figure, list[Axes], bool]:
    """(figure, n Axes, whether they are the caller's): the caller's ``axes`` (an Axes or a
    sequence of n), or a new Picture with n panels side by side."""
    if axes is None:
        fig = Picture(figsize=figsize, layout="constrained")
        return fig, list(fig.subplots(1, n, squeeze=False)[0]), False
    given = [axes] if isinstance(axes, Axes) else list(np.ravel(np.asarray(axes, dtype=object)))
    if len(given) != n or not all(isinstance(a, Axes) for a in given):
        raise UserError(f"this plot draws {n} panel{'s' if n > 1 else ''}, got axes="
                        f"{len(given)} item(s): pass {n} Axes, e.g. fig, axes = "
                        f"plt.subplots(1, {n})")
    return given[0].get_figure(), given, True


def _scatter(ax: Axes, P: np.ndarray, y: np.ndarray, classes: Sequence, colors: list[str],
             size: float = 18) -> None:
    """(n, 2) points, one labelled scatter per class present; for more than
    LEGEND_CLASSES classes one unlabelled scatter coloured per point (no legend)."""
    if len(classes) > LEGEND_CLASSES:
        if len(y):
            ax.scatter(P[:, 0], P[:, 1], s=size, c=np.asarray(colors)[y],
                       edgecolors="#222222", linewidths=0.4, zorder=3)
        return
    for code, name in enumerate(classes):
        mask = y == code
        if mask.any():
            ax.scatter(P[mask, 0], P[mask, 1], s=size, c=colors[code], edgecolors="#222222",
                       linewidths=0.4, label=str(name), zorder=3)


def _label_axes(ax: Axes, view: View2D) -> None:
    ax.set_xlabel(view.axis_labels[0])
    ax.set_ylabel(view.axis_labels[1])
    if view.kind == "pad":
        ax.set_yticks([])


DRAWN_POINTS = 10_000  # points a scatter (a panel) draws at most


def shown_points(ds: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) of the rows a panel draws and fits its 2-D view on: every row, or
    DRAWN_POINTS rows drawn at random (seed 0, in their order) from more. A million
    points draw as one blot, and fitting the view and drawing them took a GB."""
    if len(ds) <= DRAWN_POINTS:
        return ds.X, ds.y
    rows = np.sort(np.random.default_rng(0).choice(len(ds), DRAWN_POINTS, replace=False))
    return ds.X[rows], ds.y[rows]


def plot_data(ds: Dataset, ax: Axes | None = None, title: str | None = None) -> Figure:
    """Scatter of ``ds`` coloured by class, on its 2-D view (PCA for > 2 features);
    of a sample of its points beyond ``DRAWN_POINTS`` (``shown_points``)."""
    fig, ax = _axes(ax)
    X, y = shown_points(ds)
    view = View2D.fit(X, ds.feature_names)
    _scatter(ax, view.to_2d(X), y, ds.classes, class_colors(ds.n_classes))
    _label_axes(ax, view)
    heading = title or f"{ds.name}: {len(ds)} points, {ds.n_classes} classes" + (
        f" ({len(X):,} drawn)" if len(X) < len(ds) else "")
    ax.set_title(heading + ("\n(PCA projection)" if view.kind == "pca" else ""))
    if len(ds) and ds.n_classes <= LEGEND_CLASSES:
        ax.legend(loc="best", fontsize=8, title="class")
    return fig


def _shaded_image(labels: np.ndarray, confidence: np.ndarray, colors: list[str],
                  n_classes: int) -> np.ndarray:
    """(r, r, 3) RGB: the class colour, blended towards white as confidence nears chance."""
    rgb = np.array([to_rgb(c) for c in colors])[labels]
    chance = 1.0 / n_classes
    strength = np.clip((confidence - chance) / (1 - chance), 0, 1)[..., None]
    return 1 - (0.1 + 0.4 * strength) * (1 - rgb)


CONTOUR_CLASSES = 30  # classes winning somewhere up to which boundaries are contours


def _draw_boundary(ax: Axes, grid: BoundaryGrid) -> None:
    """Black line where the predicted class changes: contours of the smooth
    probabilities, or for more classes (or no probabilities kept) the edges between
    grid cells of different predicted classes."""
    style = dict(colors="black", linewidths=0.8)
    proba, labels, winners = grid.proba, grid.labels, np.unique(grid.labels)
    if proba is None or len(winners) > CONTOUR_CLASSES:
        edges = np.zeros(labels.shape, dtype=bool)
        edges[:, 1:] |= labels[:, 1:] != labels[:, :-1]
        edges[1:, :] |= labels[1:, :] != labels[:-1, :]
        if edges.any():
            overlay = np.zeros(labels.shape + (4,))
            overlay[..., 3] = edges * 0.8
            ax.imshow(overlay, origin="lower", extent=grid.box, aspect="auto",
                      interpolation="nearest", zorder=2)
        return
    if proba.shape[-1] == 2:
        field = proba[..., 1] - proba[..., 0]
        if field.min() < 0 < field.max():
            ax.contour(grid.xx, grid.yy, field, levels=[0.0], **style)
        return
    # class c wins where p_c - max(other p) > 0; the largest other p is the runner-up
    # where c wins, else the winner's: no (r, r, K) copy per class. A class winning
    # nowhere has no line (its field is <= 0 everywhere).
    runner_up = np.partition(proba, -2, axis=-1)[..., -2]
    for c in winners:
        field = proba[..., c] - np.where(labels == c, runner_up, grid.confidence)
        if field.min() < 0 < field.max():
            ax.contour(grid.xx, grid.yy, field, levels=[0.0], **style)


def plot_boundary(predict_proba: ProbaFn, train: Dataset, test: Dataset | None = None,
                  resolution: int = 200, title: str | None = None, axes=None) -> Figure:
    """Decision regions with the Train | Test points side by side (one panel without test).

    Both panels share one view and grid fitted on the train + test points drawn (all of
    them, or ``DRAWN_POINTS`` per panel of a bigger set: ``shown_points``). Region colour
    is the predicted class and its shade the confidence; the black line is the boundary.
    With more than 2 features the regions are the model on the PCA plane through the
    mean (see ``torchclf.grid.View2D``), which the figure's subtitle says.

    ``axes`` draws into the caller's own Axes (two with test data, one without) and
    leaves their figure's title alone.
    """
    parts = [("Train", train)] + ([("Test", test)] if test is not None else [])
    for _, ds in parts[1:]:
        if ds.n_features != train.n_features:
            raise ValueError(f"test has {ds.n_features} features, train {train.n_features}")
    shown = [shown_points(ds) for _, ds in parts]
    X_all = np.concatenate([X for X, _ in shown])
    view = View2D.fit(X_all, train.feature_names)
    box = bounds(view.to_2d(X_all))
    grid = decision_grid(predict_proba, X_all, train.feature_names, resolution,
                         view=view, box=box)
    k = grid.n_classes
    colors = class_colors(max(k, train.n_classes))
    image = _shaded_image(grid.labels, grid.confidence, colors, k)
    fig, axes, given = _panels(axes, len(parts), (5.5 * len(parts), 5))
    for ax, (name, ds), (X, y) in zip(axes, parts, shown):
        ax.imshow(image, origin="lower", extent=box, aspect="auto", interpolation="bilinear")
        _draw_boundary(ax, grid)
        _scatter(ax, view.to_2d(X), y, train.classes, colors)
        if len(ds):  # the accuracy of every row, drawn or not
            acc = float((np.asarray(predict_proba(ds.X)).argmax(axis=1) == ds.y).mean())
            sample = f"\n{len(X):,} of {len(ds):,} points drawn" if len(X) < len(ds) else ""
            ax.set_title(f"{name} (accuracy {100 * acc:.1f}%){sample}")
        else:
            ax.set_title(name)
        _label_axes(ax, view)
        ax.set_xlim(box[0], box[1])
        ax.set_ylim(box[2], box[3])
    if len(train.classes) <= LEGEND_CLASSES:
        axes[-1].legend(loc="best", fontsize=8, title="class", framealpha=0.8)
    if given:
        return fig
    heading = title or train.name
    fig.suptitle(heading + (f"\n{view.note}" if view.note else ""),
                 fontsize=11 if view.note else 12)
    return fig


def plot_curves(history: dict[str, list[float]], axes=None) -> Figure:
    """Loss and accuracy vs epoch, train and test, in two panels.

    Missing keys are skipped; NaN/inf values (epochs where test was not evaluated) are
    left out, so only measured points are drawn. Without "epoch", epochs are 0, 1, ...
    ``axes`` draws into the caller's own two Axes (loss, accuracy).
    """
    fig, (loss_ax, acc_ax), _ = _panels(axes, 2, (11, 4.2))
    for ax, metric in ((loss_ax, "loss"), (acc_ax, "accuracy")):
        for key, label in ((metric, "train"), (f"test_{metric}", "test")):
            values = np.asarray(history.get(key, []), dtype=float).ravel()
            epochs = np.asarray(history.get("epoch", np.arange(len(values))), dtype=float)
            n = min(len(values), len(epochs))
            values, epochs = values[:n], epochs[:n]
            ok = np.isfinite(values) & np.isfinite(epochs)
            if not ok.any():
                continue
            sparse = ok.sum() < 0.5 * n or ok.sum() < 20
            ax.plot(epochs[ok], values[ok], marker="o" if sparse else None, markersize=3,
                    label=f"{label} {metric}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(metric.capitalize())
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    return fig


ANNOTATED_CLASSES = 30  # classes up to which a confusion heat map has names and counts


def plot_confusion(matrix: np.ndarray, classes: Sequence, title: str | None = None,
                   ax: Axes | None = None) -> Figure:
    """(K, K) matrix as an annotated heat map: true class on y, predicted on x. Beyond
    ANNOTATED_CLASSES classes the map has no names or counts (and no bigger figure)."""
    matrix = np.asarray(matrix)
    k = len(classes)
    if matrix.shape != (k, k):
        raise ValueError(f"expected a ({k}, {k}) matrix for {k} classes, got {matrix.shape}")
    side = min(max(k, 3), ANNOTATED_CLASSES)
    fig, ax = _axes(ax, figsize=(1.6 + 0.7 * side, 1.2 + 0.6 * side))
    image = ax.imshow(matrix, cmap="Blues", vmin=0, interpolation="nearest")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_title(title or "Confusion matrix")
    if k > ANNOTATED_CLASSES:
        return fig
    names = [str(c) for c in classes]
    ax.set_xticks(range(k), names, rotation=45 if k > 4 else 0,
                  ha="right" if k > 4 else "center")
    ax.set_yticks(range(k), names)
    threshold = float(matrix.max()) / 2 if matrix.size else 0.0
    integral = np.issubdtype(matrix.dtype, np.integer) or np.all(np.mod(matrix, 1) == 0)
    for i in range(k):
        for j in range(k):
            v = matrix[i, j]
            ax.text(j, i, str(int(v)) if integral else f"{v:.2f}", ha="center", va="center",
                    color="white" if v > threshold else "black", fontsize=9)
    return fig


def plot_top_confusions(report: dict, title: str | None = None,
                        ax: Axes | None = None) -> Figure:
    """A report of many classes (no matrix kept, ``torchclf.metrics``): its most frequent
    mistakes as bars, true -> predicted, most frequent on top."""
    pairs = report.get("top_confusions", [])
    fig, ax = _axes(ax, figsize=(7, 1.6 + 0.3 * max(len(pairs), 3)))
    labels = [f"{p['true']} -> {p['predicted']}" for p in pairs][::-1]
    ax.barh(range(len(pairs)), [p["count"] for p in pairs][::-1], color="#4a7ab5")
    ax.set_yticks(range(len(pairs)), labels, fontsize=8)
    ax.set_xlabel("rows (true -> predicted)")
    if not pairs:
        ax.text(0.5, 0.5, "no mistakes", ha="center", va="center", transform=ax.transAxes)
    k = report.get("n_classes", "many")
    ax.set_title((title or "Most frequent mistakes") +
                 f"\n{k} classes: too many for a matrix; accuracy "
                 f"{100 * report.get('accuracy', float('nan')):.1f}%", fontsize=10)
    return fig


def save_figure(fig: Figure, path: str | Path, dpi: int = 100) -> Path:
    """Write ``fig`` as a PNG at ``path`` atomically; returns the path.

    The image is rendered in memory, written to a temp file in the same folder and
    renamed over ``path`` (``os.replace``), so an error never leaves a partial file.
    """
    from torchclf.atomic import atomic_write_bytes
    return atomic_write_bytes(path, png_bytes(fig, dpi))


def png_bytes(fig: Figure, dpi: int = 100) -> bytes:
    """``fig`` as PNG bytes, drawn once on an Agg canvas.

    The same pixels as ``fig.savefig(format="png", dpi=dpi)``, which draws a layout
    figure twice (once to lay it out, once to render); no pyplot, no backend lookup.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    buffer, old_dpi, old_canvas = io.BytesIO(), fig.dpi, fig.canvas
    fig.set_dpi(dpi)
    try:
        FigureCanvasAgg(fig).print_png(buffer)
    finally:  # the figure as it was: its dpi, and the canvas a notebook may show it on
        fig.set_dpi(old_dpi)
        fig.set_canvas(old_canvas)
    return buffer.getvalue()



# -- the three figures of a training result (run directories, notebooks, the CLI) ------

def boundary_figure(result: Result, resolution: int = 200, axes=None) -> Figure:
    """Train | Test decision boundaries of ``result``, titled with the run's name."""
    if result.train is None:
        raise UserError("this run has no train data to plot: load it with with_data=True")
    return plot_boundary(result.predictor.proba_of_features, result.train, result.test,
                         resolution=resolution, title=result.config.get("name"), axes=axes)


def curves_figure(result: Result, axes=None) -> Figure:
    """Loss and accuracy per epoch of ``result``, train and test."""
    return plot_curves(result.history, axes)


def confusion_figure(result: Result, split: str = "test", ax: Axes | None = None) -> Figure:
    """The confusion matrix of ``result`` on ``split`` ("train" or "test"); for a report
    of too many classes to keep one, its most frequent mistakes."""
    if "confusion_matrix" not in result.metrics[split]:
        return plot_top_confusions(result.metrics[split],
                                   title=f"Most frequent mistakes ({split})", ax=ax)
    return plot_confusion(np.asarray(result.metrics[split]["confusion_matrix"]),
                          result.predictor.classes, title=f"Confusion matrix ({split})",
                          ax=ax)


def run_figures(result: Result, resolution: int = 200) -> dict[str, Figure]:
    """File name -> figure, as a run directory holds them (no boundary without data)."""
    split = "test" if "test" in result.metrics else "train"
    figures = {"boundary.png": boundary_figure(result, resolution)} \
        if result.train is not None else {}
    figures.update({"curves.png": curves_figure(result),
                    "confusion.png": confusion_figure(result, split)})
    return figures


def plot_decision_boundary(model, X, y, ax: Axes | None = None, resolution: int = 200
                           ) -> Figure:
    """The lesson's helper done right: ``model``'s decision regions over the points
    ``X`` (arrays or tensors, on any device), coloured by their labels ``y``.

    The model is called where it is, in eval mode, under ``torch.no_grad``, and is left
    on its device, in its mode, with its parameters untouched; ``X`` and ``y`` are not
    changed. One output is a binary logit; K outputs are K classes' logits.
    """
    import torch
    from torchclf.data.dataset import from_arrays

    data = from_arrays(X, y, name="decision boundary")
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None else torch.float32

    @torch.no_grad()
    def proba(rows: np.ndarray) -> np.ndarray:
        was_training = model.training
        model.eval()
        try:
            logits = model(torch.as_tensor(np.asarray(rows, dtype=np.float32),
                                           device=device, dtype=dtype))
        finally:
            model.train(was_training)
        logits = logits.float().cpu().reshape(len(rows), -1)
        if logits.shape[1] == 1:
            p = torch.sigmoid(logits[:, 0])
            return torch.stack([1 - p, p], dim=1).numpy()
        return torch.softmax(logits, dim=1).numpy()

    return plot_boundary(proba, data, resolution=resolution, axes=ax,
                         title=type(model).__name__)
