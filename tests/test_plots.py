"""The boundary grid (NumPy only) and the figures: right numbers, valid PNGs, no side effects.

Self-contained: datasets are built with NumPy and models are plain NumPy callables, so
these tests need nothing from torchclf but the Dataset, grid and plots modules.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from torchclf.data.dataset import Dataset
from torchclf.grid import CHUNK, View2D, decision_grid
from torchclf.plots import (plot_boundary, plot_confusion, plot_curves, plot_data, png_bytes,
                            save_figure)

RES = 50


def blobs(n_classes: int, n_features: int, n: int = 120, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(n_classes, n_features))
    y = np.arange(n) % n_classes
    X = centers[y] + rng.normal(size=(n, n_features))
    return Dataset(X, y, tuple(f"class {c}" for c in range(n_classes)),
                   tuple(f"f{i}" for i in range(n_features)), f"blobs{n_classes}x{n_features}")


class LinearSoftmax:
    """A stand-in model: softmax(X @ W + b), with weights we can check stay untouched."""

    def __init__(self, ds: Dataset) -> None:
        means = np.stack([ds.X[ds.y == c].mean(axis=0) for c in range(ds.n_classes)])
        self.W = means.T.astype(np.float64)            # nearest-mean-like scores
        self.b = -0.5 * (means ** 2).sum(axis=1)
        self.calls: list[tuple[tuple[int, ...], np.dtype]] = []

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        self.calls.append((X.shape, X.dtype))
        z = X @ self.W + self.b
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)


def logistic(X: np.ndarray) -> np.ndarray:
    """Class 1 where x0 > 0."""
    p = 1 / (1 + np.exp(-4 * X[:, 0].astype(np.float64)))
    return np.c_[1 - p, p]


def is_png(path) -> bool:
    data = path.read_bytes()
    return data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000


DATASETS = {"binary-2d": (2, 2), "four-classes-2d": (4, 2), "three-classes-5d": (3, 5)}


# -- (a) the 2-D view ------------------------------------------------------------------------
def test_view_is_identity_for_two_features():
    X = np.random.default_rng(0).normal(size=(50, 2))
    view = View2D.fit(X, ["a", "b"])
    assert view.kind == "identity" and view.axis_labels == ("a", "b") and view.note == ""
    assert np.array_equal(view.to_2d(X), X) and np.array_equal(view.from_2d(X), X)


def test_pca_view_round_trips_points_on_its_plane():
    rng = np.random.default_rng(1)
    Z = rng.normal(size=(200, 5)) * [5, 3, 1, 0.5, 0.1] + [1, 2, 3, 4, 5]
    view = View2D.fit(Z, list("abcde"))
    assert view.kind == "pca" and "mean" in view.note
    assert view.axis_labels[0].startswith("PC1 (") and view.axis_labels[1].startswith("PC2 (")
    assert np.allclose(view.axes @ view.axes.T, np.eye(2))
    P = rng.normal(size=(30, 2)) * 4
    on_plane = view.from_2d(P)
    assert on_plane.shape == (30, 5)
    assert np.allclose(view.to_2d(on_plane), P)
    assert np.allclose(view.from_2d(view.to_2d(on_plane)), on_plane)
    assert np.allclose(view.from_2d(np.zeros((1, 2))), Z.mean(axis=0))  # plane through the mean


def test_pca_view_is_not_ruled_by_a_column_in_large_units():
    rng = np.random.default_rng(2)
    signal = rng.normal(size=200)
    Z = np.c_[signal, signal + 0.1 * rng.normal(size=200), rng.normal(size=200) * 1000]
    first = View2D.fit(Z, list("abc")).axes[0]
    assert abs(first[0]) > 0.6 and abs(first[1]) > 0.6 and abs(first[2]) < 0.2


def test_one_feature_view_puts_points_on_the_x_axis():
    X = np.array([[1.0], [2.0], [5.0]])
    view = View2D.fit(X, ["only"])
    assert np.array_equal(view.to_2d(X), [[1, 0], [2, 0], [5, 0]])
    assert np.array_equal(view.from_2d([[3.0, 7.0]]), [[3.0]])
    grid = decision_grid(logistic, X, ["only"], resolution=RES)
    assert grid.yy.min() < 0 < grid.yy.max()  # the zero-width y axis still gets a box


# -- (b) the grid ----------------------------------------------------------------------------
def test_grid_labels_follow_the_model_and_serialise():
    X = np.random.default_rng(0).uniform(-1, 1, size=(40, 2)).astype(np.float32)
    grid = decision_grid(logistic, X, ["a", "b"], resolution=RES)
    assert grid.xx.shape == grid.yy.shape == grid.labels.shape == (RES, RES)
    assert grid.proba.shape == (RES, RES, 2)
    assert np.allclose(grid.proba.sum(axis=-1), 1)
    assert np.array_equal(grid.labels, (grid.xx > 0).astype(int))
    assert np.allclose(grid.confidence, grid.proba.max(axis=-1))
    x0, x1, y0, y1 = grid.box  # data range plus 10 % each side
    assert x0 < X[:, 0].min() and x1 > X[:, 0].max() and y0 < X[:, 1].min()
    data = json.loads(json.dumps(grid.to_json(with_proba=True)))
    assert data["resolution"] == RES and len(data["labels"]) == RES == len(data["labels"][0])
    assert len(data["x"]) == RES and data["axis_labels"] == ["a", "b"]
    assert np.array(data["proba"]).shape == (RES, RES, 2)
    assert all(c == round(c, 4) for row in data["confidence"] for c in row)
    assert "proba" not in grid.to_json()


def test_grid_calls_the_model_in_float32_chunks():
    ds = blobs(3, 5)
    model = LinearSoftmax(ds)
    resolution = 300  # 90 000 rows: more than one chunk
    grid = decision_grid(model.predict_proba, ds.X, ds.feature_names, resolution=resolution)
    assert grid.proba.shape == (resolution, resolution, 3)
    # the first chunk is one grid row (it tells K), then chunks of up to CHUNK rows
    assert len(model.calls) == 3 and sum(s[0] for s, _ in model.calls) == resolution ** 2
    assert all(s[0] <= CHUNK and s[1] == 5 and dt == np.float32 for s, dt in model.calls)


@pytest.mark.parametrize("n_features", [1, 2, 5])
def test_grid_rows_are_the_view_of_every_grid_point(n_features):
    ds = blobs(3, n_features)
    view = View2D.fit(ds.X, ds.feature_names)
    xs, ys = np.linspace(-2, 3, 7), np.linspace(-1, 1, 4)
    xx, yy = np.meshgrid(xs, ys)
    expected = view.from_2d(np.c_[xx.ravel(), yy.ravel()])
    assert np.array_equal(view.grid_rows(xs, ys), expected)
    rows32 = view.grid_rows(xs, ys, dtype=np.float32)
    assert rows32.dtype == np.float32 and np.array_equal(rows32, expected.astype(np.float32))


def test_grid_labels_and_confidence_are_argmax_and_max_with_ties_to_the_first_class():
    def ties(X):  # four classes: all tie in the middle, classes 1 and 2 tie on the right
        p = np.full((len(X), 4), 0.25)
        p[X[:, 0] > 0.3] = [0.1, 0.4, 0.4, 0.1]
        p[X[:, 0] < -0.3] = [0.1, 0.2, 0.3, 0.4]
        return p

    X = np.array([[-1.0, -1.0], [1.0, 1.0]])
    grid = decision_grid(ties, X, ["a", "b"], resolution=RES)
    assert np.array_equal(grid.labels, grid.proba.argmax(axis=-1))
    assert np.array_equal(grid.confidence, grid.proba.max(axis=-1))
    assert set(np.unique(grid.labels)) == {0, 1, 3}
    assert grid.labels.dtype == np.int8  # compact: a 1000x1000 grid's labels take 1 MB
    many = decision_grid(lambda A: np.full((len(A), 200), 1 / 200), X, ["a", "b"], resolution=4)
    assert many.labels.dtype == np.intp and (many.labels == 0).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_grid_keeps_the_models_precision(dtype):
    X = np.random.default_rng(0).uniform(-1, 1, size=(40, 2))
    grid = decision_grid(lambda A: logistic(A).astype(dtype), X, ["a", "b"], resolution=RES)
    assert grid.proba.dtype == grid.confidence.dtype == dtype


def test_grid_rejects_a_model_that_does_not_return_probabilities():
    X = np.zeros((4, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="predict_proba"):
        decision_grid(lambda A: A[:, 0], X, ["a", "b"], resolution=RES)


# -- (c) every figure ------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(DATASETS))
def test_every_plot_writes_a_png(tmp_path, name):
    ds = blobs(*DATASETS[name])
    order = np.random.default_rng(0).permutation(len(ds))
    train, test = ds.subset(order[:90], "train"), ds.subset(order[90:], "test")
    model = LinearSoftmax(ds)
    W = model.W.copy()
    history = {"epoch": [0, 1, 2, 3], "loss": [1.2, 0.8, 0.5, 0.4],
               "accuracy": [0.4, 0.6, 0.8, 0.9], "test_loss": [1.3, 0.9, 0.6, 0.5],
               "test_accuracy": [0.4, 0.5, 0.7, 0.8]}
    matrix = np.bincount(ds.y * ds.n_classes + model.predict_proba(ds.X).argmax(axis=1),
                         minlength=ds.n_classes ** 2).reshape(ds.n_classes, ds.n_classes)
    boundary = plot_boundary(model.predict_proba, train, test, resolution=RES, title=name)
    titles = [ax.get_title() for ax in boundary.axes]
    assert titles[0].startswith("Train") and titles[1].startswith("Test")
    assert ("PCA" in boundary.get_suptitle()) == (ds.n_features > 2)
    figures = {"data": plot_data(ds), "curves": plot_curves(history),
               "confusion": plot_confusion(matrix, ds.classes), "boundary": boundary,
               "train-only": plot_boundary(model.predict_proba, train, resolution=RES)}
    assert len(figures["train-only"].axes) == 1
    for fig_name, fig in figures.items():
        assert is_png(save_figure(fig, tmp_path / f"{fig_name}.png"))
    assert np.array_equal(model.W, W)  # plotting only calls the model
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.png" for n in figures)


def test_plots_draw_on_a_given_axes():
    from matplotlib.figure import Figure
    fig = Figure()
    left, right = fig.subplots(1, 2)
    assert plot_data(blobs(2, 2), ax=left) is fig
    assert plot_confusion(np.array([[5, 1], [0, 4]]), ("cat", "dog"), ax=right) is fig
    assert [t.get_text() for t in right.get_xticklabels()] == ["cat", "dog"]
    assert {t.get_text() for t in right.texts} == {"5", "1", "0", "4"}
    assert right.get_xlabel() == "predicted" and right.get_ylabel() == "true"
    assert {t.get_text() for t in left.get_legend().get_texts()} == {"class 0", "class 1"}


# -- (d) curves with unmeasured test epochs --------------------------------------------------
def test_curves_skip_unmeasured_test_epochs(tmp_path):
    nan = float("nan")
    history = {"epoch": [0, 1, 2, 3], "loss": [1.0, 0.5, 0.3, 0.2],
               "accuracy": [0.5, 0.7, 0.8, 0.9],
               "test_loss": [1.0, nan, nan, 0.3], "test_accuracy": [0.5, nan, nan, 0.8]}
    fig = plot_curves(history)
    loss_ax, acc_ax = fig.axes
    test_line = next(line for line in loss_ax.lines if "test" in line.get_label())
    assert list(test_line.get_xdata()) == [0, 3] and list(test_line.get_ydata()) == [1.0, 0.3]
    assert len(acc_ax.lines) == 2
    assert is_png(save_figure(fig, tmp_path / "curves.png"))
    only_train = plot_curves({"epoch": [0, 1], "loss": [1.0, 0.5], "test_loss": [nan, nan]})
    assert [len(ax.lines) for ax in only_train.axes] == [1, 0]


# -- (e) atomic saving -----------------------------------------------------------------------
def test_save_figure_leaves_no_temp_files(tmp_path):
    path = tmp_path / "data.png"
    fig = plot_data(blobs(2, 2))
    save_figure(fig, path)
    save_figure(fig, path)  # overwriting is atomic too
    assert [p.name for p in tmp_path.iterdir()] == ["data.png"] and is_png(path)


def test_a_failed_save_keeps_the_old_file_and_leaves_nothing_behind(tmp_path):
    path = tmp_path / "data.png"
    save_figure(plot_data(blobs(2, 2)), path)
    before = path.read_bytes()
    broken = plot_data(blobs(2, 2))

    def fail(*args, **kwargs):
        raise RuntimeError("disk on fire")

    broken.draw = fail  # rendering fails, however the figure is drawn
    with pytest.raises(RuntimeError):
        save_figure(broken, path)
    with pytest.raises(RuntimeError):
        save_figure(broken, tmp_path / "new.png")
    assert [p.name for p in tmp_path.iterdir()] == ["data.png"]
    assert path.read_bytes() == before


def test_png_bytes_are_savefigs_pixels_drawn_once_and_leave_the_figure_as_it_was():
    """The run's pictures are drawn on an Agg canvas directly (savefig lays a
    constrained-layout figure out in a second full draw): the pixels savefig gives a
    new figure, and the figure keeps its dpi and canvas, so a notebook still shows it."""
    import io

    from PIL import Image
    ds = blobs(3, 2)
    model = LinearSoftmax(ds)
    for make in (lambda: plot_boundary(model.predict_proba, ds, ds, resolution=RES),
                 lambda: plot_confusion(np.array([[5, 1], [0, 4]]), ("cat", "dog"))):
        fig, twin = make(), make()
        fig.set_dpi(72)
        canvas = fig.canvas
        ours = png_bytes(fig, dpi=100)
        assert fig.dpi == 72 and fig.canvas is canvas
        theirs = io.BytesIO()
        twin.savefig(theirs, format="png", dpi=100)
        a, b = (np.asarray(Image.open(io.BytesIO(data))) for data in (ours, theirs.getvalue()))
        assert a.shape == b.shape and np.array_equal(a, b)


def test_a_big_boundary_panel_draws_a_sample_and_says_so_with_every_rows_accuracy(
        monkeypatch):
    from torchclf import plots
    monkeypatch.setattr(plots, "DRAWN_POINTS", 100)
    train, test = blobs(3, 5, n=400), blobs(3, 5, n=100, seed=1)
    model = LinearSoftmax(train)
    fig = plot_boundary(model.predict_proba, train, test, resolution=RES)
    drawn = [sum(len(c.get_offsets()) for c in ax.collections if hasattr(c, "get_sizes")
                 and len(c.get_sizes())) for ax in fig.axes[:2]]
    assert drawn == [100, 100]  # train sampled; test (100 rows) drawn whole
    train_title, test_title = (ax.get_title() for ax in fig.axes[:2])
    accuracy = (model.predict_proba(train.X).argmax(axis=1) == train.y).mean()
    assert train_title == f"Train (accuracy {100 * accuracy:.1f}%)\n100 of 400 points drawn"
    assert "drawn" not in test_title
    again = plot_boundary(model.predict_proba, train, test, resolution=RES)
    assert png_bytes(again) == png_bytes(fig)  # the same sample every time
    data = plot_data(train)
    assert len(data.axes[0].collections[0].get_offsets()) <= 100
    assert data.axes[0].get_title().startswith(f"{train.name}: 400 points, 3 classes (100 drawn)")
