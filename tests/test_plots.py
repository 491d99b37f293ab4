"""Plots compute without matplotlib, write valid PNGs, and never touch the model."""

import json

import numpy as np
import pytest
import torch

import torchclf as tc
from torchclf.grid import View2D, decision_grid
from torchclf.plots import plot_boundary, plot_confusion, plot_curves, plot_data, save_figure


def logistic(X):
    p = 1 / (1 + np.exp(-4 * X[:, 0]))
    return np.c_[1 - p, p]


def is_png(path):
    data = path.read_bytes()
    return data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000


def test_view_is_identity_for_two_features_and_a_plane_for_more():
    X = np.random.default_rng(0).normal(size=(50, 2))
    view = View2D.fit(X, ["a", "b"])
    assert np.array_equal(view.to_2d(X), X) and view.axis_labels == ("a", "b")
    Z = np.random.default_rng(1).normal(size=(200, 5))
    pca = View2D.fit(Z, list("abcde"))
    on_plane = pca.from_2d(np.array([[1.0, 2.0], [-0.5, 0.3]]))
    assert np.allclose(pca.to_2d(on_plane), [[1.0, 2.0], [-0.5, 0.3]])
    assert pca.axis_labels[0].startswith("PC1")


def test_grid_labels_follow_the_model_and_serialise():
    X = np.random.default_rng(0).uniform(-1, 1, size=(40, 2)).astype(np.float32)
    grid = decision_grid(logistic, X, ["a", "b"], resolution=50)
    assert grid.proba.shape == (50, 50, 2)
    assert np.allclose(grid.proba.sum(-1), 1)
    assert np.array_equal(grid.labels, (grid.xx > 0).astype(int))
    data = json.loads(json.dumps(grid.to_json()))
    assert data["resolution"] == 50 and len(data["labels"]) == 50


@pytest.mark.parametrize("make", [
    lambda: tc.datasets.moons(n_samples=200),
    lambda: tc.datasets.blobs(n_samples=200, n_classes=4),
    lambda: tc.datasets.blobs(n_samples=200, n_classes=3, n_features=5),
])
def test_every_plot_writes_a_png(tmp_path, make):
    ds = make()
    train, test = ds.split(seed=0)
    model = tc.MLP(ds.n_features, (8,), ds.n_classes, seed=0)
    run = tc.fit(model, train, test, optimizer="adam", lr=0.05, epochs=30, log_every=10)
    figures = {"data": plot_data(ds), "curves": plot_curves(run.history),
               "confusion": run.plot_confusion(),
               "boundary": plot_boundary(run.predict_proba, train, test, resolution=50)}
    for name, fig in figures.items():
        assert is_png(save_figure(fig, tmp_path / f"{name}.png"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "boundary.png", "confusion.png", "curves.png", "data.png"]


def test_curves_skip_unmeasured_test_epochs(tmp_path):
    history = {"epoch": [0, 1, 2], "loss": [1.0, 0.5, 0.2], "accuracy": [0.5, 0.7, 0.9],
               "test_loss": [1.0, float("nan"), 0.3], "test_accuracy": [0.5, float("nan"), 0.8]}
    fig = plot_curves(history)
    loss_ax = fig.axes[0]
    test_line = [l for l in loss_ax.lines if "test" in l.get_label()][0]
    assert list(test_line.get_xdata()) == [0, 2]
    assert is_png(save_figure(fig, tmp_path / "c.png"))


def test_plotting_never_moves_copies_or_switches_the_model(trained_run):
    model = trained_run.model
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ids = [id(p) for p in model.parameters()]
    trained_run.plot_boundary(resolution=40)
    assert model.training
    assert [id(p) for p in model.parameters()] == ids
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert next(model.parameters()).device.type == "cpu"
    model.eval()


def test_confusion_plot_labels_classes(tmp_path):
    fig = plot_confusion(np.array([[5, 1], [0, 4]]), ("cat", "dog"))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog"]
    assert {t.get_text() for t in ax.texts} == {"5", "1", "0", "4"}
