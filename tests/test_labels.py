"""Labels that are not classes: missing (None, NaN, pd.NA) or mixing text with numbers.

Each is one UserError naming the problem and where, from the Python API and from a
table on the command line; never a raw TypeError, and never a "nan" class.
"""

import io
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import torchclf as tc

X = np.random.default_rng(0).normal(size=(20, 2))
ABC = ["a", "b"] * 10


def with_holes(values, rows, hole):
    values = list(values)
    for r in rows:
        values[r] = hole
    return values


@pytest.mark.parametrize("y, where", [
    (with_holes(range(20), [3], None), "at row 3:"),
    (with_holes(ABC, [3, 17], None), "at rows 3, 17:"),
    (np.array(with_holes(np.arange(20.0) % 2, [5], np.nan)), "at row 5:"),
    (pd.Series(with_holes(np.arange(20.0) % 2, [0, 1], np.nan)), "at rows 0, 1:"),
    (pd.Series(with_holes(np.arange(20) % 2, [19], pd.NA), dtype="Int64"), "at row 19:"),
    (pd.Series(with_holes(ABC, [7], None), dtype="string"), "at row 7:"),
    (pd.Series(with_holes(ABC, [7], np.nan), dtype=object), "at row 7:"),
    (with_holes(ABC, range(8), None), "at rows 0, 1, 2, 3, 4 and 3 more:"),
], ids=["None-in-ints", "None-in-text", "nan-array", "nan-series", "pd.NA", "string-NA",
        "object-nan", "many"])
def test_missing_labels_are_named_with_their_rows(y, where):
    with pytest.raises(tc.UserError) as info:
        tc.from_arrays(X, y)
    message = str(info.value)
    assert message == f"labels contain missing values (NaN/None) {where} drop or fill those rows"


@pytest.mark.parametrize("y, shown", [
    ([0, "a", 1.5] * 6 + [0, 1], "0 is a number and 'a' is text"),
    (np.array(["a", 1] * 10, dtype=object), "'a' is text and 1 is a number"),
])
def test_labels_mixing_text_and_numbers_are_refused(y, shown):
    with pytest.raises(tc.UserError, match="^labels mix types") as info:
        tc.from_arrays(X, y)
    assert shown in str(info.value) and "make them all text or all numbers" in str(info.value)


@pytest.mark.parametrize("y", [[0, 1, np.nan], [0, 1, None], [0, "a", 1]])
def test_a_dataset_refuses_codes_that_are_not_numbers(y):
    with pytest.raises(tc.UserError):
        tc.Dataset(np.zeros((3, 1)), y, ("a", "b"), ("x",))


def test_good_labels_keep_their_type_and_train():
    for y in (ABC, [True, False] * 10, np.arange(20) % 2, list(np.arange(20.0) % 2)):
        ds = tc.from_arrays(X, y)
        assert ds.classes == tuple(sorted(set(y))) and ds.n_classes == 2
    run = tc.fit(tc.MLP(2, (4,), seed=0), tc.from_arrays(X, ABC), epochs=2)
    assert len(run.history["loss"]) == 2


def test_a_parquet_target_with_none_names_the_column_and_row(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"x": np.arange(6.0), "label": ["a", "b", None, "a", "b", "a"]}).to_parquet(path)
    with pytest.raises(tc.UserError, match="missing label in target column 'label' at data row 3"):
        tc.load_table(path, target="label")


def test_cli_target_with_empty_cells_is_one_line_and_writes_nothing(tmp_path):
    (tmp_path / "d.csv").write_text("x1,x2,label\n0,1,a\n1,0,b\n0.5,0.5,\n1,1,a\n0,0,b\n2,2,a\n")
    proc = subprocess.run([sys.executable, "-m", "torchclf", "train", "d.csv", "--target",
                           "label", "--epochs", "5", "--no-plots", "--out", "run"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == ["torchclf: error: d.csv: missing label in target "
                                        "column 'label' at data row 3: fill or drop those rows"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv"]


@pytest.mark.parametrize("name", ["d.csv", "d.tsv.gz"])
def test_a_class_written_NA_is_shown_as_read_as_missing(tmp_path, name):
    """pandas reads NA, null, N/A... as a gap, so a class named "NA" (North America)
    would be a bare "missing label": the error quotes the cell and says so. An empty
    cell keeps the plain message (test above)."""
    import gzip
    sep = "\t" if ".tsv" in name else ","
    text = "".join(sep.join(r) + "\n" for r in
                   [("x", "region"), ("1", "EU"), ("2", "EU"), ("3", "NA"), ("4", "EU")])
    path = tmp_path / name
    path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    with pytest.raises(tc.UserError) as info:
        tc.load_table(path, target="region")
    assert str(info.value) == (f"{path}: missing label in target column 'region' at data "
                               "row 3: fill or drop those rows (the cell reads 'NA', which "
                               "is read as missing; if it names a class, rename that class "
                               "in the file)")


@pytest.mark.parametrize("written, classes", [
    (["01", "1", "2"], ["01", "1", "2"]),     # were two classes, 1 and 2
    (["01", "02"], ["01", "02"]),             # came back as 1 and 2
    (["1.0", "1", "2"], ["1", "1.0", "2"]),   # 1.0 and 1 merged
    (["0", "1", "2"], [0, 1, 2]),             # canonical integers stay numbers
    (["0.5", "1.5"], [0.5, 1.5]),             # numbers all written as Python writes them
])
def test_csv_labels_are_kept_as_written(tmp_path, written, classes):
    import json
    rng = np.random.default_rng(0)
    rows = [f"{a:.3f},{b:.3f},{written[i % len(written)]}"
            for i, (a, b) in enumerate(rng.normal(size=(60, 2)))]
    (tmp_path / "t.csv").write_text("x1,x2,y\n" + "\n".join(rows) + "\n")
    run = lambda *a: subprocess.run([sys.executable, "-m", "torchclf", *a], cwd=tmp_path,
                                    capture_output=True, text=True, timeout=120)
    trained = run("train", "t.csv", "--epochs", "3", "--no-plots", "-q", "--out", "run")
    assert trained.returncode == 0, trained.stderr
    assert json.loads((tmp_path / "run" / "model.json").read_text())["classes"] == classes
    predicted = run("predict", "run", "t.csv")
    assert predicted.returncode == 0, predicted.stderr
    frame = pd.read_csv(io.StringIO(predicted.stdout), dtype=str, keep_default_na=False)
    assert frame["y"].tolist() == [written[i % len(written)] for i in range(60)]  # echoed
    assert set(frame["predicted"]) <= set(map(str, classes))
    assert [c[len("proba_"):] for c in frame.columns[4:]] == list(map(str, classes))
