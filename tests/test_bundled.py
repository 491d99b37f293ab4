"""The tables that ship with scikit-learn, by name: loaded as scikit-learn loads them,
listed, trained, predicted on, and refused where they do not fit."""

import io
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import sklearn.datasets

import torchclf as tc
from torchclf.cli.main import main
from torchclf.config import DataConfig, RunConfig, TrainConfig
from torchclf.data import bundled
from torchclf.errors import UserError
from torchclf.experiment import is_file_source

CLASS_NAMES = {"iris": ("setosa", "versicolor", "virginica"),
               "wine": ("class_0", "class_1", "class_2"),
               "breast_cancer": ("malignant", "benign"), "digits": tuple(range(10))}


def cli(*args):
    """``torchclf ARGS`` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in args], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("name", sorted(bundled.TABLES))
def test_each_table_is_scikit_learns(name):
    ds = tc.datasets.load(name)
    ref = getattr(sklearn.datasets, f"load_{name}")()
    assert np.array_equal(ds.X, ref.data.astype(np.float32))
    assert np.array_equal(ds.y, ref.target)
    assert ds.feature_names == tuple(ref.feature_names)
    assert ds.classes == CLASS_NAMES[name]
    assert ds.name == ds.meta["source"] == name
    t = bundled.TABLES[name]
    assert (t.rows, t.features, t.classes) == (len(ds), ds.n_features, ds.n_classes)


@pytest.mark.parametrize("name", sorted(bundled.TABLES))
def test_without_its_files_a_table_comes_from_scikit_learns_loader_the_same(name,
                                                                           monkeypatch):
    """The tables are read from scikit-learn's files without importing it; should a
    release move them, load_* gives the same Dataset."""
    direct = tc.datasets.load(name)
    monkeypatch.setattr(bundled.Table, "file", property(lambda t: "moved/" + t[5]))
    assert bundled._read(bundled.TABLES[name]) is None
    via_sklearn = tc.datasets.load(name)
    assert np.array_equal(direct.X, via_sklearn.X) and np.array_equal(direct.y, via_sklearn.y)
    assert (direct.classes, direct.feature_names) == (via_sklearn.classes,
                                                      via_sklearn.feature_names)


def test_torchclf_train_wine_does_not_import_scikit_learn(tmp_path):
    """Importing sklearn.datasets took 1.5 s of a 3.7 s `torchclf train wine`."""
    code = ("import sys; from torchclf.cli.main import main; "
            "main(['train', 'wine', '--epochs', '20', '--no-plots', '-q', '--out', 'r']); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_table_names_do_not_collide_with_generators_and_win_over_files(tmp_path,
                                                                       monkeypatch):
    assert not set(bundled.TABLES) & set(tc.datasets.GENERATORS)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "wine").write_text("a,b\n1,0\n")
    assert not is_file_source("wine")      # the bundled table
    assert is_file_source("./wine")        # the file


def test_datasets_lists_the_tables_after_the_generators():
    code, out, err = cli("datasets")
    assert code == 0 and err == ""
    tables = out[out.index("Tables shipped with scikit-learn"):]
    assert "moons" in out[:out.index("Tables shipped with scikit-learn")]
    for line in ("wine          178 x 13    3 classes", "iris          150 x 4     3 classes",
                 "breast_cancer 569 x 30    2 classes", "digits        1797 x 64  10 classes"):
        assert line in tables


@pytest.fixture(scope="module")
def wine_run(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("bundled") / "wine"
    code, out, err = cli("train", "wine", "--epochs", 300, "--no-plots", "--out", out_dir)
    assert code == 0, err
    return out_dir


def test_train_wine_beats_the_majority_class_by_far(wine_run):
    metrics = json.loads((wine_run / "metrics.json").read_text())
    # measured: 1.0 with these flags (and with the defaults); the majority class is 0.40
    assert metrics["test"]["accuracy"] >= 0.95
    assert "wine" in (wine_run / "config.toml").read_text()


def test_predict_on_rows_of_wine(wine_run, tmp_path):
    ref = sklearn.datasets.load_wine()
    rows = [0, 70, 150]  # one of each cultivar
    pd.DataFrame(ref.data[rows], columns=ref.feature_names).to_csv(tmp_path / "w.csv",
                                                                    index=False)
    code, out, err = cli("predict", wine_run, tmp_path / "w.csv")
    assert code == 0, err
    predicted = pd.read_csv(io.StringIO(out))["predicted"].tolist()
    assert predicted == [ref.target_names[ref.target[r]] for r in rows]


def test_run_config_and_the_saved_run_from_python(tmp_path):
    config = RunConfig(data=DataConfig(source="iris"), train=TrainConfig(epochs=200))
    run = tc.run_config(config)
    run.save(tmp_path / "iris")
    loaded = tc.load_run(tmp_path / "iris")
    ds = tc.datasets.load("iris")
    assert (loaded.predict(ds.X[:50]) == "setosa").all()


@pytest.mark.parametrize("flags,named", [(["--noise", "0.1"], "--noise"),
                                         (["--n-samples", "50"], "--n-samples"),
                                         (["--param", "n_classes=4"], "--param n_classes")])
def test_generator_parameters_are_refused_in_one_line(flags, named, tmp_path):
    code, out, err = cli("train", "wine", *flags, "--out", tmp_path / "run")
    assert code == 2
    assert err.strip().splitlines() == [
        f"torchclf: error: wine is a bundled table: it takes no {named} (drop it; "
        "generator parameters apply to the generated datasets only)"]
    assert not (tmp_path / "run").exists()
    with pytest.raises(UserError, match="wine is a bundled table"):
        tc.datasets.load("wine", noise=0.1)


@pytest.mark.parametrize("typo,meant", [("wnie", "wine"), ("irs", "iris"), ("mons", "moons"),
                                        ("breast-cancer", "breast_cancer")])
def test_an_unknown_name_suggests_from_both_registries(typo, meant, tmp_path):
    code, out, err = cli("train", typo, "--out", tmp_path / "run")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1
    assert f"did you mean {meant!r}?" in lines[0]
    assert "digits" in lines[0] and "spirals" in lines[0]


def test_two_processes_train_a_table(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "torchclf", "train", "wine", "--nproc", "2",
                           "--epochs", "100", "--no-plots", "--out", tmp_path / "ddp"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "(2 processes)" in proc.stdout
    metrics = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] >= 0.9
