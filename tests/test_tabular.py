"""Real tables on disk: label types, Parquet, and every data error named precisely."""

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from torchclf.data.tabular import load_table, numeric_features, read_frame
from torchclf.errors import UserError


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_string_labels_default_to_last_column(tmp_path):
    path = write(tmp_path, "iris.csv", "a,b,species\n1,2,setosa\n3,4,versicolor\n5,6,setosa\n")
    ds = load_table(path)
    assert ds.classes == ("setosa", "versicolor")
    assert ds.feature_names == ("a", "b")
    assert ds.decode(ds.y).tolist() == ["setosa", "versicolor", "setosa"]
    assert ds.X.dtype == np.float32 and ds.X.shape == (3, 2)
    assert ds.name == "iris" and ds.meta["target"] == "species"


@pytest.mark.parametrize("values,classes", [([3, 7, 3, 7], (3, 7)),
                                            ([True, False, True, False], (False, True))])
def test_integer_and_bool_labels_keep_their_type(tmp_path, values, classes):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"label": values, "f": [0.1, 0.2, 0.3, 0.4]}).to_parquet(path)
    ds = load_table(path, target="label")
    assert ds.classes == classes and type(ds.classes[0]) is type(classes[0])
    assert ds.decode(ds.y).tolist() == values


def test_feature_selection_and_bool_features(tmp_path):
    path = write(tmp_path, "d.csv", "a,flag,c,y\n1,True,9,0\n2,False,8,1\n")
    ds = load_table(path, target="y", features=["flag", "a"])
    assert ds.feature_names == ("flag", "a")
    assert ds.X.tolist() == [[1.0, 1.0], [0.0, 2.0]]


def test_tsv_and_gzip(tmp_path):
    path = write(tmp_path, "d.tsv", "a\tb\ty\n1\t2\tu\n3\t4\tv\n")
    assert load_table(path).n_classes == 2
    gz = tmp_path / "d.csv.gz"
    pd.DataFrame({"a": [1, 2], "y": ["p", "q"]}).to_csv(gz, index=False)
    assert load_table(gz).classes == ("p", "q")


def test_a_model_reads_its_columns_and_ignores_extra_ones(tmp_path):
    from torchclf.model import MLP
    from torchclf.run import Predictor
    path = write(tmp_path, "p.csv", "id,b,a\nx,2,1\ny,4,3\n")
    predictor = Predictor(MLP(2, (), 2), "binary", (0, 1), ("a", "b"))
    assert predictor.features(read_frame(path), path).tolist() == [[1, 2], [3, 4]]
    with pytest.raises(UserError, match="lacks the model's feature column"):
        Predictor(MLP(2, (), 2), "binary", (0, 1), ("a", "z")).features(read_frame(path), path)


@pytest.mark.parametrize("name,text,kwargs,match", [
    ("d.csv", "a,b,label\n1,2,x\n3,4,y\n", {"target": "lable"},
     "target column 'lable' not found.*did you mean 'label'"),
    ("d.csv", "a,b,y\n1,2,0\n3,inf,1\n", {}, "infinite value in column 'b' at data row 2"),
    ("d.csv", "a,b,y\n1,2,0\n3,4,\n", {}, "missing label in target column 'y' at data row 2"),
    ("d.csv", "a,b,y\n1,2,0\n3,4,0\n", {}, "only one class"),
    ("d.csv", "", {}, "is empty"),
    ("d.csv", "a,b,y\n", {}, "no data rows"),
    ("d.csv", "a,a,y\n1,2,0\n3,4,1\n", {}, "duplicate column names: a"),
    ("d.csv", "y\n0\n1\n", {}, "no feature columns"),
    ("d.csv", 'a,b,y\n1,2,0\n3,"4,1\n', {}, "cannot read"),
    ("d.xlsx", "a", {}, "unsupported file type"),
    ("d.parquet", "not parquet", {}, "cannot read .*PARQUET"),
])
def test_data_errors_name_the_problem(tmp_path, name, text, kwargs, match):
    path = write(tmp_path, name, text)
    with pytest.raises(UserError, match=match):
        load_table(path, **kwargs)


def test_missing_file(tmp_path):
    with pytest.raises(UserError, match="file not found"):
        load_table(tmp_path / "nope.csv")


def parquet(tmp_path, **columns):
    import pyarrow as pa
    import pyarrow.parquet as pq
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table(columns), path)
    return path


@pytest.mark.parametrize("columns,match", [
    ({"a": [1.0, 2.0], "l": [[1.0, 2.0], [3.0]], "y": ["p", "q"]},
     r"column 'l' holds lists, not numbers \(data row 1: \[1.0, 2.0\]\)"),
    ({"a": [1.0, 2.0], "s": [{"u": 1, "v": 2.0}] * 2, "y": ["p", "q"]},
     r"column 's' holds records \(structs\), not numbers \(data row 1: \{'u': 1, 'v': 2.0\}\)"),
    ({"a": [1.0, 2.0], "y": [[1], [2, 3]]},
     r"target column 'y' holds lists \(data row 1: \[1\]\); labels must be strings"),
    ({"a": [1.0, 2.0], "y": [{"u": 1}, {"u": 2}]},
     r"target column 'y' holds records \(structs\) \(data row 1"),
])
def test_parquet_lists_and_structs_are_named_not_crashed_on(tmp_path, columns, match):
    with pytest.raises(UserError, match=match):
        load_table(parquet(tmp_path, **columns), target="y")


def test_header_only_parquet(tmp_path):
    import pyarrow as pa
    path = parquet(tmp_path, a=pa.array([], pa.float64()), y=pa.array([], pa.string()))
    with pytest.raises(UserError, match="has no data rows"):
        load_table(path)


def test_a_value_beyond_float32_is_named_without_a_warning(tmp_path):
    path = write(tmp_path, "d.csv", "a,b,y\n1,2,0\n3,4,1\n1e39,5,0\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "overflow encountered in cast" fails here
        with pytest.raises(UserError, match=r"value 1e\+39 in column 'a' at data row 3 is "
                                            "beyond float32"):
            load_table(path)
        with pytest.raises(UserError, match="beyond float32"):
            numeric_features(read_frame(path), ["a", "b"], path)


def test_a_tiny_value_underflows_to_zero(tmp_path):
    path = write(tmp_path, "d.csv", "a,b,y\n1e-50,2,0\n3,4,1\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_table(path).X[0].tolist() == [0.0, 2.0]


def test_a_huge_text_cell_leaves_its_column_out_in_a_short_warning(tmp_path):
    path = write(tmp_path, "d.csv", "a,b,y\n1,2,0\n3," + "z" * 30_000_000 + ",1\n5,4,0\n6,1,1\n")
    with pytest.warns(UserWarning) as caught:
        train, _ = load_table(path).split(0.5, seed=0)
    assert train.feature_names == ("a",)
    message = " ".join(str(w.message) for w in caught)
    assert "column 'b' left out: it holds free text (30,000,000 characters in a cell)" in message
    assert len(message) < 200


def test_an_empty_column_is_left_out_with_a_warning(tmp_path):
    path = write(tmp_path, "d.csv", "a,b,y\n1,,0\n3,,1\n4,,0\n5,,1\n")
    with pytest.warns(UserWarning, match=r"column 'b' left out: it is empty \(no value in any row\)"):
        train, test = load_table(path).split(0.5, seed=0)
    assert train.feature_names == test.feature_names == ("a",)
    only_empty = write(tmp_path, "e.csv", "a,b,y\n,,0\n,,1\n")
    with pytest.raises(UserError, match="no usable feature column .*'a': it is empty"):
        load_table(only_empty)


def test_a_wide_table_lists_a_few_columns_and_the_count(tmp_path):
    frame = pd.DataFrame(np.zeros((2, 300)), columns=[f"pixel{i}" for i in range(300)])
    frame["label"] = ["a", "b"]
    frame.to_csv(tmp_path / "wide.csv", index=False)
    with pytest.raises(UserError, match=r"columns are pixel0, .*, … \(301 in all\)$") as info:
        load_table(tmp_path / "wide.csv", target="digit")
    assert len(str(info.value)) < 250


def test_cli_overflow_is_one_line_on_stderr(tmp_path):
    write(tmp_path, "d.csv", "a,b,y\n1,2,0\n3,4,1\n1e39,5,0\n2,2,1\n")
    proc = subprocess.run([sys.executable, "-W", "default", "-m", "torchclf", "train", "d.csv",
                           "--no-plots"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "torchclf: error: d.csv: value 1e+39 in column 'a' at data row 3 is beyond float32 "
        "(largest 3.403e+38): rescale that column"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv"]


def test_a_frame_already_read_becomes_a_dataset_like_a_file():
    from torchclf.data.tabular import table_dataset
    frame = pd.DataFrame({"n": [1.0, None, 3.0, 4.0], "t": ["a", "b", None, "a"],
                          "y": ["p", "q", "p", "q"]})
    ds = table_dataset(frame, name="up", where="the CSV")
    assert ds.feature_names == ("n", "n (missing)", "t=a", "t=b", "t (missing)")
    assert ds.classes == ("p", "q") and ds.meta == {"source": "the CSV", "target": "y"}
    assert list(frame.columns) == ["n", "t", "y"]  # the caller's frame is left as it was
    with pytest.raises(UserError, match="target column 'yy' not found in the CSV: did you "
                                        "mean 'y'"):
        table_dataset(frame, target="yy", where="the CSV")
