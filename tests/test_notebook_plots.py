"""Pictures in a notebook: figures that show themselves as PNG, drawn into the learner's
own Axes when given, and ``tc.plot_decision_boundary`` with no side effects."""

import pytest
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

import torchclf as tc

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run():
    train, test = tc.datasets.moons(120).split()
    return tc.fit(tc.MLP(2, (8,), seed=0), train, test, lr=0.5, epochs=20)


@pytest.mark.parametrize("draw", [lambda r: r.plot_boundary(resolution=30),
                                  lambda r: r.plot_curves(), lambda r: r.plot_confusion()])
def test_run_figures_show_as_png_and_stay_figures(run, draw, tmp_path):
    fig = draw(run)
    assert isinstance(fig, Figure) and fig.axes
    assert fig._repr_png_().startswith(PNG)
    fig.savefig(tmp_path / "f.png")
    assert (tmp_path / "f.png").read_bytes().startswith(PNG)


def test_plots_draw_into_the_given_axes(run):
    fig = Figure()
    a, b, c, d, e = fig.subplots(1, 5)
    assert run.plot_boundary(resolution=20, axes=[a, b]) is fig
    assert run.plot_curves(axes=(c, d)) is fig
    assert run.plot_confusion(ax=e) is fig
    assert all(ax.has_data() for ax in (a, b, c, d, e))
    assert len(fig.axes) == 6  # the five, and the confusion matrix's colour bar
    with pytest.raises(tc.UserError, match=r"draws 2 panels.*plt.subplots\(1, 2\)"):
        run.plot_boundary(axes=a)


def test_plot_decision_boundary_leaves_model_and_data_untouched():
    ds = tc.datasets.circles(100)
    model = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(),
                                torch.nn.Dropout(0.5), torch.nn.Linear(8, 1))
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    X, y = torch.as_tensor(ds.X), torch.as_tensor(ds.y)
    X0, y0 = X.clone(), y.clone()
    fig = tc.plot_decision_boundary(model, X, y, resolution=30)
    assert fig._repr_png_().startswith(PNG)
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert torch.equal(X, X0) and torch.equal(y, y0)
    ax = Figure().add_subplot()
    assert tc.plot_decision_boundary(model, ds.X, ds.y, ax=ax, resolution=20) is ax.figure
    assert ax.has_data() and isinstance(ax, Axes)


def test_plot_decision_boundary_of_a_multiclass_model():
    ds = tc.datasets.blobs(90, n_classes=3)
    model = tc.MLP(2, 8, n_classes=3, seed=0).eval()
    fig = tc.plot_decision_boundary(model, ds.X, ds.y, resolution=20)
    assert not model.training and fig.axes[0].has_data()
