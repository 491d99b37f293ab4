"""Exported models give the Predictor's probabilities: ONNX run by onnxruntime on raw rows
(text, gaps and values never seen included), TorchScript on the encoded features.

Real runs trained by the CLI (moons, iris, the penguins CSV), an estimator saved in
float64, every activation of the registry, and ``torchclf export`` refusing what it
must refuse with one line.
"""

import contextlib
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from torchclf.activations import ACTIVATIONS, Activation
from torchclf.api import load_run
from torchclf.cli.main import main
from torchclf.data.dataset import Standardizer
from torchclf.data.encoding import MAX_LEVELS, TableEncoder
from torchclf.errors import UserError
from torchclf.export import export_onnx, export_torchscript
from torchclf.model import MLP
from torchclf.run import Predictor
from torchclf.store.modelfiles import load_model
from torchclf.store.owned import foreign_content

ort = pytest.importorskip("onnxruntime")
PENGUINS = Path(pytest.importorskip("palmerpenguins").__file__).parent / "data" / "penguins.csv"
QUICK = ["--no-plots", "-q", "--no-progress", "--epochs", "30"]
TOL = 1e-5
pytestmark = pytest.mark.filterwarnings("ignore:.*torch.jit.*:DeprecationWarning")


def cli(argv):
    """(exit code, stdout, stderr) of the CLI run in-process, argparse's own exits too."""
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([str(a) for a in argv], out=out, err=err)
    except SystemExit as e:
        code = e.code
    return code, out.getvalue(), err.getvalue()


def train(folder, *args):
    code, _, err = cli(["train", *args, *QUICK, "--out", folder])
    assert code == 0, err
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    return {"moons": train(root / "moons", "moons", "--n-samples", "200"),
            "iris": train(root / "iris", "iris"),
            "penguins": train(root / "penguins", str(PENGUINS), "--target", "species")}


def onnx_feeds(session, rows: pd.DataFrame) -> dict:
    """What a server feeds the ONNX file: one (N, 1) array per column, NaN or ""
    for a missing cell."""
    feeds = {}
    for i in session.get_inputs():
        cells = rows[i.name]
        if i.type == "tensor(string)":
            text = cells.map(lambda v: "" if pd.isna(v) else str(v))
            feeds[i.name] = text.to_numpy(dtype=object).reshape(-1, 1)
        else:
            feeds[i.name] = cells.to_numpy(dtype=np.float32).reshape(-1, 1)
    return feeds


def run_onnx(path, rows: pd.DataFrame):
    session = ort.InferenceSession(str(path))
    proba, label = session.run(["probabilities", "label"], onnx_feeds(session, rows))
    return proba, label, session


def assert_same(predictor, path, rows: pd.DataFrame):
    proba, label, session = run_onnx(path, rows)
    expected = predictor.predict_proba(rows)
    assert proba.dtype == np.float32 and proba.shape == expected.shape
    np.testing.assert_allclose(proba, expected, atol=TOL, rtol=0)
    assert list(label) == list(predictor.predict(rows))
    return session


def test_table_with_text_and_gaps_unseen_values_and_missing_cells(runs, tmp_path):
    predictor = load_model(runs["penguins"])
    rows = load_run(runs["penguins"], with_data=True).test.raw.copy()
    odd = rows.iloc[:4].copy()
    odd.loc[odd.index[0], "island"] = "Atlantis"        # never seen in training
    odd.loc[odd.index[1], ["sex", "bill_length_mm"]] = [None, np.nan]
    odd.loc[odd.index[2], ["island", "body_mass_g"]] = [None, np.nan]
    odd.loc[odd.index[3], list(predictor.input_names)] = np.nan  # every cell missing
    rows = pd.concat([rows, odd], ignore_index=True)
    assert rows[list(predictor.input_names)].isna().any().any()
    path = export_onnx(predictor, tmp_path / "penguins.onnx")
    session = assert_same(predictor, path, rows)
    kinds = {i.name: i.type for i in session.get_inputs()}
    assert kinds["island"] == "tensor(string)" and kinds["bill_length_mm"] == "tensor(float)"
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["torchclf.classes"] == '["Adelie", "Chinstrap", "Gentoo"]'
    assert session.get_modelmeta().producer_name == "torchclf"


@pytest.mark.parametrize("name", ["moons", "iris"])
def test_numeric_runs_on_their_test_split(runs, tmp_path, name):
    predictor = load_model(runs[name])
    test = load_run(runs[name], with_data=True).test
    rows = pd.DataFrame(test.X, columns=list(predictor.input_names)) if test.raw is None \
        else test.raw
    assert_same(predictor, export_onnx(predictor, tmp_path / "m.onnx"), rows)


def test_estimator_saved_in_float64(tmp_path):
    from sklearn.exceptions import ConvergenceWarning

    from torchclf.estimator import TorchClassifier
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = np.where(X[:, 0] + X[:, 1] ** 2 > 0.5, "yes", "no")
    with pytest.warns(ConvergenceWarning):  # 20 epochs: short on purpose
        TorchClassifier(hidden_layer_sizes=(6,), max_iter=20, random_state=0).fit(X, y) \
            .save(tmp_path / "est")
    predictor = load_model(tmp_path / "est")
    assert next(predictor.model.parameters()).dtype == torch.float64
    rows = pd.DataFrame(X, columns=list(predictor.input_names))
    assert_same(predictor, export_onnx(predictor, tmp_path / "est.onnx"), rows)
    assert_torchscript_same(predictor, export_torchscript(predictor, tmp_path / "est.pt"),
                            predictor.features(rows))


def random_predictor(activation, task, dtype, encoder=None, classes=None, n_inputs=3):
    n_features = len(encoder.feature_names) if encoder is not None else n_inputs
    classes = classes or (("a", "b") if task == "binary" else ("a", "b", "c"))
    model = MLP(n_features, (5, 4), len(classes), activation, task=task, seed=1).to(dtype)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3)  # weights large enough to reach every part of the activation
    scaler = Standardizer()
    scaler.mean_ = np.linspace(-1, 1, n_features).astype(np.float32)
    scaler.scale_ = np.linspace(0.5, 2, n_features).astype(np.float32)
    names = encoder.feature_names if encoder is not None else [f"x{i}" for i in range(n_inputs)]
    return Predictor(model.eval(), task, classes, tuple(names), scaler, encoder)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("task,dtype", [("binary", torch.float32),
                                        ("multiclass", torch.float64)])
def test_every_activation_of_the_registry(tmp_path, activation, task, dtype):
    predictor = random_predictor(activation, task, dtype)
    rows = pd.DataFrame(np.random.default_rng(0).normal(scale=3, size=(300, 3)),
                        columns=list(predictor.input_names))
    assert_same(predictor, export_onnx(predictor, tmp_path / "m.onnx"), rows)
    assert_torchscript_same(predictor, export_torchscript(predictor, tmp_path / "m.pt"),
                            rows.to_numpy(np.float32))


def test_many_levels_share_other_and_labels_keep_their_type(tmp_path):
    rng = np.random.default_rng(0)
    cities = [f"city{i}" for i in range(MAX_LEVELS + 10)]
    frame = pd.DataFrame({"city": rng.choice(cities, 300), "size": rng.normal(size=300),
                          "flag": rng.choice([True, False], 300)})
    frame.loc[::7, "size"] = np.nan
    frame.loc[::11, "city"] = None
    with pytest.warns(UserWarning, match="share one"):
        encoder = TableEncoder.fit(frame)
    assert any(c.other for c in encoder.columns)
    rows = pd.concat([frame, pd.DataFrame({"city": ["Atlantis", None], "size": [np.nan, 1.0],
                                           "flag": [True, False]})], ignore_index=True)
    for classes in [(3, 7, 11), (False, True)]:
        task = "binary" if len(classes) == 2 else "multiclass"
        predictor = random_predictor("tanh", task, torch.float32, encoder, classes)
        _, label, _ = run_onnx(export_onnx(predictor, tmp_path / "m.onnx"), rows)
        assert_same(predictor, tmp_path / "m.onnx", rows)
        assert label.dtype == (np.int64 if task == "multiclass" else bool)


def assert_torchscript_same(predictor, path, features):
    module = torch.jit.load(str(path))
    proba = module(torch.tensor(np.asarray(features), dtype=torch.float32))
    assert proba.dtype == torch.float32 and not proba.requires_grad
    np.testing.assert_allclose(proba.numpy(), predictor.proba_of_features(features), atol=TOL,
                               rtol=0)


def test_torchscript_takes_the_features_and_records_their_names(runs, tmp_path):
    import json
    predictor = load_model(runs["penguins"])
    rows = pd.read_csv(PENGUINS)
    path = export_torchscript(predictor, tmp_path / "p.pt")
    assert_torchscript_same(predictor, path, predictor.features(rows))
    extra = {"torchclf.json": ""}
    torch.jit.load(str(path), _extra_files=extra)
    info = json.loads(extra["torchclf.json"])
    assert info["feature_names"] == list(predictor.feature_names)
    assert info["classes"] == ["Adelie", "Chinstrap", "Gentoo"]


# -- what export refuses --------------------------------------------------------------------

def test_an_activation_without_onnx_form_is_refused(tmp_path, monkeypatch):
    monkeypatch.setitem(ACTIVATIONS, "softplus", Activation(
        "softplus", "log(1 + e^x)", torch.nn.Softplus, None))
    predictor = random_predictor("softplus", "binary", torch.float32)
    with pytest.raises(UserError, match="activation 'softplus' has no ONNX form: train "
                                        "with one of gelu, identity"):
        export_onnx(predictor, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_without_the_onnx_package_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx raises ImportError
    with pytest.raises(UserError, match=r"pip install 'torchclf\[export\]'"):
        export_onnx(random_predictor("relu", "binary", torch.float32), tmp_path / "m.onnx")


@pytest.mark.parametrize("frame,needle", [
    (pd.DataFrame({"label": [1.0, 2.0, 3.0, np.nan], "b": [3.0, 1.0, 2.0, 5.0]}),
     "column 'label' cannot be an ONNX input"),
    (pd.DataFrame({"t": ["", "x", "y", "x"], "b": [3.0, 1.0, 2.0, 5.0]}),
     "column 't' has the empty text as a category"),
])
def test_columns_onnx_cannot_name_are_refused(tmp_path, frame, needle):
    predictor = random_predictor("relu", "binary", torch.float32,
                                 TableEncoder.fit(frame, warn=False))
    with pytest.raises(UserError, match=needle):
        export_onnx(predictor, tmp_path / "m.onnx")


# -- the command -----------------------------------------------------------------------------

def test_cli_writes_into_the_run_and_replaces_only_its_own_files(runs, tmp_path):
    run = runs["moons"]
    for fmt, name in [("onnx", "model.onnx"), ("torchscript", "model.pt")]:
        for _ in range(2):  # the second time replaces the file it wrote
            code, out, err = cli(["export", run, "--format", fmt])
            assert code == 0 and err == "" and f"wrote {run / name}" in out
    assert foreign_content(run, "run") == ""  # still a run torchclf may replace
    assert cli(["export", run, "-o", tmp_path / "sub" / "m.onnx"])[0] == 0
    assert (tmp_path / "sub" / "m.onnx").stat().st_size > 0


@pytest.mark.parametrize("argv,needle", [
    (["{run}", "--format", "onx"], "unknown export format 'onx': did you mean 'onnx'?"),
    (["{tmp}/nowhere"], "run directory not found"),
    (["{tmp}"], "model.json: is this a torchclf run directory?"),
    (["{run}", "-o", "{tmp}"], "is a folder: give a file name"),
    (["{run}", "-o", "{tmp}/afile/m.onnx"], "afile is a file, so"),
    (["{run}", "-o", "{tmp}/notes.onnx"], "already exists and was not exported by torchclf"),
    (["{run}", "-o", ""], "argument --output/-o: expected a path"),
    (["{run}", "-o", "/proc/torchclf.onnx"], "cannot write /proc/torchclf.onnx"),
])
def test_cli_mistakes_are_one_line_and_write_nothing(runs, tmp_path, argv, needle):
    (tmp_path / "afile").write_text("mine")
    (tmp_path / "notes.onnx").write_text("mine")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    argv = [a.format(run=runs["moons"], tmp=tmp_path) for a in argv]
    code, out, err = cli(["export", *argv])
    assert code == 2 and err.count("\n") == 1 and needle in err, err
    assert err.startswith("torchclf") and ": error: " in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert (tmp_path / "notes.onnx").read_text() == "mine"


def test_cli_in_a_real_process(runs):
    proc = subprocess.run([sys.executable, "-m", "torchclf", "export", str(runs["iris"]),
                           "-f", "torchscrpt"], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == ["torchclf: error: unknown export format 'torchscrpt': "
                                        "did you mean 'torchscript'? choose from onnx, "
                                        "torchscript"]
