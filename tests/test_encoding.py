"""Real tables: text, categories, booleans and gaps become the model's inputs, learnt on
the training rows, saved in model.json and applied wherever rows come in."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import torchclf as tc
from torchclf.data.encoding import MAX_LEVELS, TableEncoder
from torchclf.data.tabular import load_table
from torchclf.errors import UserError

PENGUINS = Path(__import__("palmerpenguins").__file__).parent / "data" / "penguins.csv"


def messy(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "size": rng.normal(10, 3, n),
        "colour": rng.choice(["red", "green", "blue"], n).astype(object),
        "ok": rng.choice([True, False], n),
        "kind": pd.Categorical(rng.choice(["a", "b"], n)),
    })
    frame.loc[rng.choice(n, 6, replace=False), "size"] = np.nan
    frame.loc[rng.choice(n, 4, replace=False), "colour"] = None
    return frame


def test_the_encoding_equals_scikit_learns_imputers_and_one_hot_encoder():
    from sklearn.impute import MissingIndicator, SimpleImputer
    from sklearn.preprocessing import OneHotEncoder
    frame = messy()
    train, test = frame.iloc[:40], frame.iloc[40:]
    enc = TableEncoder.fit(train, warn=False)
    got = pd.DataFrame(enc.transform(test, dtype=np.float64), columns=enc.feature_names)
    size = SimpleImputer(strategy="median").fit(train[["size"]]).transform(test[["size"]])
    np.testing.assert_allclose(got["size"], size[:, 0])
    missing = MissingIndicator().fit(train[["size"]]).transform(test[["size"]])
    np.testing.assert_array_equal(got["size (missing)"], missing[:, 0])
    colour = SimpleImputer(strategy="most_frequent").fit(train[["colour"]])
    onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False).fit(
        colour.transform(train[["colour"]]))
    expected = onehot.transform(colour.transform(test[["colour"]]))
    names = [f"colour={c}" for c in onehot.categories_[0]]
    np.testing.assert_array_equal(got[names].to_numpy(), expected)
    np.testing.assert_array_equal(got["ok"], test["ok"].astype(float))
    np.testing.assert_array_equal(got["kind=b"], (test["kind"] == "b").astype(float))
    assert "ok (missing)" not in enc.feature_names  # no gap in training: no indicator


def test_split_learns_the_encoding_from_the_training_rows_only(tmp_path):
    rows = ["x,c,y"] + [f"{i % 9},{'a' if i % 2 else 'b'},{i % 2}" for i in range(1, 40)]
    rows += ["1000,zebra,0"]  # a category and an outlier only one row has
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    ds = load_table(tmp_path / "t.csv")
    train, test = ds.split(0.2, seed=0)
    zebra_in_test = "zebra" in set(test.raw["c"])
    assert ("c=zebra" in train.feature_names) != zebra_in_test
    assert train.encoder.columns[0].fill == float(np.median(train.raw["x"]))
    assert train.feature_names == test.feature_names
    assert np.isfinite(test.X).all()


def test_a_text_column_stays_text_when_its_training_rows_look_numeric(tmp_path):
    (tmp_path / "t.csv").write_text("a,b,y\n" + "".join(
        f"{i % 4},{'three' if i == 7 else i % 3},{i % 2}\n" for i in range(40)))
    train, test = load_table(tmp_path / "t.csv").split(0.5, seed=1)
    assert [c.kind for c in train.encoder.columns] == ["number", "category"]


@pytest.mark.parametrize("column,why", [
    ([f"name {i}" for i in range(40)], "looks like an ID"),
    (list(range(100, 140)), "looks like a row number"),
    ([5] * 40, "same value in every row"),
    ([None] * 40, "is empty"),
    (["x" * 500] + ["a"] * 39, "free text (500 characters in a cell)"),
])
def test_useless_columns_are_left_out_with_a_warning(column, why):
    frame = pd.DataFrame({"keep": np.arange(40) % 7 * 1.5, "odd": column})
    with pytest.warns(UserWarning, match=f"column 'odd' left out: it.*{re.escape(why)}"):
        enc = TableEncoder.fit(frame)
    assert enc.inputs == ("keep",) and "odd" in enc.dropped


def test_a_column_with_many_levels_keeps_the_frequent_ones_and_shares_one_column():
    values = [f"v{i % 50}" for i in range(200)] + ["v0"] * 10
    with pytest.warns(UserWarning, match="more than 30 values"):
        enc = TableEncoder.fit(pd.DataFrame({"c": values}))
    assert len(enc.feature_names) == MAX_LEVELS and enc.feature_names[-1] == "c=(other)"
    out = enc.transform(pd.DataFrame({"c": ["v0", "v49", "never seen"]}))
    assert out[0, enc.feature_names.index("c=v0")] == 1
    assert out[1:, -1].tolist() == [1, 1] and out.sum(axis=1).tolist() == [1, 1, 1]


def test_lists_in_a_column_are_named_not_encoded():
    frame = pd.DataFrame({"a": [1.0, 2.0], "l": [[1.0], [2.0, 3.0]]})
    with pytest.raises(UserError, match=r"column 'l' holds lists, not numbers \(data row 1"):
        TableEncoder.fit(frame)


def test_a_saved_table_model_predicts_rows_with_gaps_and_unseen_categories(tmp_path):
    ds = load_table(PENGUINS, target="species")
    train, test = ds.split(0.2, seed=42)
    model = tc.MLP(train.n_features, (8, 8), train.n_classes, seed=42)
    run = tc.fit(model, train, test, lr=0.1, epochs=300, standardize=True)
    run.save(tmp_path / "run", plots=False)
    loaded = tc.load_run(tmp_path / "run")
    rows = pd.DataFrame({"island": ["Atlantis", "Biscoe"], "bill_length_mm": [np.nan, 50.0],
                         "bill_depth_mm": [np.nan, 15.0], "flipper_length_mm": [200, 220],
                         "body_mass_g": [np.nan, 5000], "sex": [None, "male"],
                         "year": [2008, 2009]})
    np.testing.assert_array_equal(loaded.predict_proba(rows), run.predict_proba(rows))
    assert loaded.predict(rows)[1] == "Gentoo"
    # the same rows as an array of raw cells, columns in the model's input order
    array = rows[list(loaded.predictor.input_names)].to_numpy(dtype=object)
    np.testing.assert_array_equal(loaded.predict_proba(array), run.predict_proba(rows))
    np.testing.assert_array_equal(loaded.predictor.proba_of_features(test.X),
                                  run.predictor.proba_of_features(test.X))


@pytest.mark.parametrize("edit,needle", [
    (lambda e: e["columns"][0].update(kind="text"), "'encoder.columns[0]' must be"),
    (lambda e: e["columns"][1].update(fill="median"), "a finite 'fill'"),
    (lambda e: e["columns"][0]["categories"].append("Biscoe"), "distinct text 'categories'"),
    (lambda e: e["columns"].pop(), "whose outputs are 'feature_names'"),
    (lambda e: e["columns"][1].update(indicator="yes"), "'encoder.columns[1].indicator'"),
])
def test_a_hand_edited_encoder_is_refused_in_one_line(tmp_path, edit, needle):
    ds = load_table(PENGUINS, target="species")
    train, test = ds.split(0.2, seed=0)
    run = tc.fit(tc.MLP(train.n_features, (4,), 3, seed=0), train, test, epochs=2)
    run.save(tmp_path / "run", plots=False)
    path = tmp_path / "run" / "model.json"
    info = json.loads(path.read_text())
    edit(info["encoder"])
    path.write_text(json.dumps(info))
    with pytest.raises(UserError, match=needle.replace("[", r"\[").replace("(", r"\(")):
        tc.load_run(tmp_path / "run")


def test_penguins_as_published_in_one_command_then_predict_rows_with_gaps(tmp_path):
    run = tmp_path / "penguins"
    train = subprocess.run([sys.executable, "-m", "torchclf", "train", str(PENGUINS),
                            "--target", "species", "--out", str(run), "--no-plots"],
                           capture_output=True, text=True, timeout=300)
    assert train.returncode == 0, train.stderr
    assert json.loads((run / "metrics.json").read_text())["test"]["accuracy"] >= 0.97
    (tmp_path / "new.csv").write_text(
        "island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year\n"
        "Atlantis,,,200,,,2008\nBiscoe,50,15,220,5000,male,2009\n")
    pred = subprocess.run([sys.executable, "-m", "torchclf", "predict", str(run),
                           str(tmp_path / "new.csv")], capture_output=True, text=True,
                          timeout=300)
    assert pred.returncode == 0, pred.stderr
    out = pd.read_csv(__import__("io").StringIO(pred.stdout))
    assert out["predicted"].tolist()[1] == "Gentoo" and len(out) == 2
    assert np.allclose(out.filter(like="proba_").sum(axis=1), 1, atol=1e-5)
    evaluate = subprocess.run([sys.executable, "-m", "torchclf", "evaluate", str(run),
                               str(PENGUINS), "--target", "species"],
                              capture_output=True, text=True, timeout=300)
    assert evaluate.returncode == 0 and "accuracy" in evaluate.stdout, evaluate.stderr


def test_the_cli_shows_a_left_out_column_as_one_warning_line(tmp_path):
    lines = ["id,name,const,a,y"] + [f"{i},n{i},7,{i % 5},{i % 2}" for i in range(1, 41)]
    (tmp_path / "w.csv").write_text("\n".join(lines) + "\n")
    proc = subprocess.run([sys.executable, "-m", "torchclf", "train", "w.csv", "--epochs", "5",
                           "--no-plots", "--out", "run"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    warned = [l for l in proc.stderr.splitlines() if l.startswith("torchclf: warning:")]
    assert warned == ["torchclf: warning: column 'id' left out: it looks like a row number "
                      "(a different integer in every row)",
                      "torchclf: warning: column 'name' left out: it looks like an ID (a "
                      "different text in every row)",
                      "torchclf: warning: column 'const' left out: it has the same value in "
                      "every row"]
    assert "Traceback" not in proc.stderr


def test_data_parallel_training_still_needs_numbers_without_gaps(tmp_path):
    from torchclf.config import DataConfig, RunConfig
    from torchclf.scale.distributed import check_data
    (tmp_path / "t.csv").write_text("a,b,y\n1,x,0\n2,y,1\n3,x,0\n4,y,1\n")
    with pytest.raises(UserError, match="column 'b' is not numeric"):
        check_data(RunConfig(data=DataConfig(source=str(tmp_path / "t.csv"))))


def test_clean_numeric_tables_encode_to_themselves(tmp_path):
    frame = pd.DataFrame({"a": [1.5, 2.0, 3.0], "b": [4, 5, 7], "y": ["p", "q", "p"]})
    frame.to_csv(tmp_path / "c.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = load_table(tmp_path / "c.csv")
    assert ds.feature_names == ("a", "b") and ds.encoder.is_identity
    np.testing.assert_array_equal(ds.X, frame[["a", "b"]].to_numpy(np.float32))


def test_a_big_tables_columns_are_learnt_two_at_a_time_to_the_same_encoding(monkeypatch):
    """From about 2M cells the columns are learnt on two threads: the same encoding,
    the same columns left out, and the first bad column's error, in column order."""
    from torchclf.data import encoding
    frame = messy(400)
    frame["same"], frame["id"] = 1.0, [f"r{i}" for i in range(400)]
    bad = frame.assign(l1=[[1.0]] * 400, l2=[[2.0]] * 400)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        serial = TableEncoder.fit(frame)
        with pytest.raises(UserError) as serial_error:
            TableEncoder.fit(bad)
        monkeypatch.setattr(encoding, "PARALLEL_CELLS", 0)
        monkeypatch.setattr(encoding.os, "cpu_count", lambda: 2)
        threaded = TableEncoder.fit(frame)
        with pytest.raises(UserError) as threaded_error:
            TableEncoder.fit(bad)
    assert threaded == serial and threaded.dropped == serial.dropped
    assert "'l1'" in str(threaded_error.value) and \
        str(threaded_error.value) == str(serial_error.value)


def test_complete_float_columns_learn_what_the_cell_by_cell_path_learns():
    """Complete float columns (every big table's) take a short path: one copy, one
    partition for the median. It must learn what the general path learns from the same
    numbers as object cells: medians of odd and even lengths, float32 and float64,
    constants and row numbers left out, and gaps, infinities and float32-overflowing
    values handed on to the general path, which names them."""
    rng = np.random.default_rng(3)
    n = 41
    floats = {
        "odd32": rng.normal(size=n).astype(np.float32),
        "even64": np.append(rng.normal(size=n - 1), 1e30)[:n],
        "ties": np.repeat([0.5, -2.0, 7.25], 14)[:n],
        "const": np.full(n, 3.5),
        "rownum": np.arange(100, 100 + n, dtype=np.float64)[::-1],
        "gap": np.where(np.arange(n) == 5, np.nan, rng.normal(size=n)),
        "big": np.append(rng.normal(size=n - 1), 3.4028234663852886e38),
    }
    for length in (n, n - 1):  # odd and even column lengths
        frame = pd.DataFrame({k: v[:length] for k, v in floats.items()})
        frame["odd32"] = frame["odd32"].astype(np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            short = TableEncoder.fit(frame)
            cell_by_cell = TableEncoder.fit(frame.astype(object))
        assert short == cell_by_cell and short.dropped == cell_by_cell.dropped
        assert set(short.dropped) == {"const", "rownum"}
        fills = {c.name: c.fill for c in short.columns}
        assert fills["odd32"] == float(np.median(frame["odd32"].to_numpy(np.float64)))
        assert fills["even64"] == float(np.median(frame["even64"]))
        assert fills["gap"] == float(np.nanmedian(frame["gap"]))
    unchanged = frame.copy()
    TableEncoder.fit(frame, warn=False)
    pd.testing.assert_frame_equal(frame, unchanged)  # the median reorders a copy
    for bad, needle in ((np.inf, "infinite value"), (1e39, "beyond float32")):
        with pytest.raises(UserError, match=needle):
            TableEncoder.fit(pd.DataFrame({"a": np.append(np.arange(30.0), bad)}))


@pytest.mark.parametrize("column", [
    pd.date_range("2020-01-01", periods=40, freq="D"),
    pd.date_range("2020-01-01", periods=40, freq="h", tz="Europe/Paris"),
    pd.to_timedelta(np.arange(40), unit="min"),
    pd.period_range("2020-01", periods=40, freq="M"),
])
def test_dates_and_times_are_refused_not_read_as_nanoseconds(tmp_path, column):
    """pandas turns a timestamp into a count of nanoseconds since 1970: a number no one
    meant the network to read. A Parquet file, a DataFrame for TorchClassifier and a
    rank's slice (``numeric_features``) all refuse it in one line naming the column."""
    from torchclf.data.tabular import numeric_features
    frame = pd.DataFrame({"x": np.arange(40) % 7 * 1.0, "when": column,
                          "y": np.arange(40) % 2})
    frame.loc[0, "when"] = None  # the first cell shown is one with a value
    needle = r"column 'when' holds dates or times \(data row 2: .*\).*drop it"
    if not isinstance(column.dtype, pd.PeriodDtype):  # Parquet has no period type
        frame.to_parquet(tmp_path / "t.parquet")
        with pytest.raises(UserError, match=needle):
            load_table(tmp_path / "t.parquet", target="y")
    with pytest.raises(UserError, match=needle):
        tc.TorchClassifier(max_iter=2).fit(frame[["x", "when"]], frame["y"])
    with pytest.raises(UserError, match=needle):
        numeric_features(frame, ["x", "when"], "the table")
