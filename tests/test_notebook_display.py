"""What a notebook shows: a few lines for a run, a Dataset, a Predictor, a Standardizer
and a TorchClassifier (text and HTML, never arrays), the history as a DataFrame, and a
real kernel showing ``run.plot_boundary()`` as a PNG image."""

import os
import warnings
from pathlib import Path

import pytest
from IPython.core.formatters import DisplayFormatter

import torchclf as tc


def shown(obj) -> dict:
    """The mime bundle Jupyter displays for ``obj``, as IPython formats it."""
    return DisplayFormatter().format(obj)[0]


@pytest.fixture(scope="module")
def run():
    train, test = tc.datasets.circles(300).split()
    return tc.fit(tc.MLP(2, (8, 8), seed=0), train, test, lr=0.5, epochs=30, standardize=True)


def test_a_run_shows_a_few_lines(run):
    bundle = shown(run)
    assert len(bundle["text/plain"]) < 300 and len(bundle["text/html"]) < 3000
    text = bundle["text/plain"]
    assert "MLP 2 → 8 → 8 → 1 (relu)" in text and "epochs 30" in text
    assert f"test: accuracy {run.metrics['test']['accuracy']:.3f}" in text
    assert "240 rows" in bundle["text/html"]  # the train data and its classes


def test_data_scaler_predictor_show_shape_classes_and_state(run):
    ds = tc.datasets.blobs(1000, n_classes=3)
    assert repr(ds) == ("Dataset('blobs': 1,000 rows × 2 features [x1, x2], "
                        "3 classes {0: 334, 1: 333, 2: 333})")
    assert len(shown(ds)["text/html"]) < 1000
    assert repr(tc.Standardizer()) == "Standardizer(not fitted)"
    assert repr(run.predictor.scaler).startswith("Standardizer(features 2, mean [")
    assert repr(run.predictor) == ("Predictor(MLP 2 → 8 → 8 → 1 (relu), binary, "
                                   "classes [0, 1], inputs [x1, x2])")
    for obj in (run.predictor, run.predictor.scaler):
        assert len(shown(obj)["text/html"]) < 1000


def test_an_estimator_shows_a_small_table_not_the_diagram():
    clf = tc.TorchClassifier(max_iter=3)
    assert "not fitted" in shown(clf)["text/html"]
    ds = tc.datasets.circles(100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(ds.X, ds.y)
    html = shown(clf)["text/html"]
    assert len(html) < 1000 and "max_iter=3" in html and "MLP 2 → 100 → 1" in html
    assert shown(clf)["text/plain"] == "TorchClassifier(max_iter=3)"


def test_history_frame_is_the_history_as_columns(run):
    frame = run.history_frame()
    assert list(frame.columns) == list(run.history)
    assert len(frame) == 30 and frame["loss"].tolist() == run.history["loss"]
    assert isinstance(run.history, dict)  # run files and callbacks keep the dict


NOTEBOOK_CELLS = [
    "import torchclf as tc\n"
    "train, test = tc.datasets.moons(100).split()\n"
    "run = tc.fit(tc.MLP(2, 8, seed=0), train, test, epochs=10)",
    "run.plot_boundary(resolution=30)",
    "run",
]


def test_a_real_kernel_shows_the_boundary_as_an_image_and_the_run_briefly(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in NOTEBOOK_CELLS])
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {"PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel imports this checkout's torchclf
    try:
        client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                         resources={"metadata": {"path": str(tmp_path)}})
        client.execute()
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    boundary, run_cell = nb.cells[1].outputs, nb.cells[2].outputs
    results = [o for o in boundary if o.output_type == "execute_result"]
    assert len(results) == 1 and "image/png" in results[0].data
    assert not [o for o in boundary if o.output_type == "display_data"]  # no second picture
    text = [o for o in run_cell if o.output_type == "execute_result"][0].data["text/plain"]
    assert text.startswith("Run(") and len(text) < 3000


def test_a_run_without_test_data_shows_train_scores_only():
    train = tc.datasets.circles(100)
    run = tc.fit(tc.MLP(2, 4, seed=0), train, epochs=3)
    text = repr(run)
    assert text.startswith("Run('circles': MLP 2 → 4 → 1 (relu); epochs 3; train: accuracy ")
    assert "test" not in text
