"""Plain numeric tables take pyarrow's fast path and hold their numbers once.

Whatever path a file takes, the Dataset (or the one-line error) is what the general
pandas reader gives: these tests read each file both ways and compare.
"""

import csv
import gzip
import io
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from torchclf.data.dataset import MOMENT_ROWS, Standardizer, column_moments, shares_cells
from torchclf.data.tabular import load_table, read_frame, table_dataset
from torchclf.errors import UserError


def general(path, target=None, features=None):
    """The Dataset, or the UserError's message, of the general (pandas) reader."""
    path = Path(path)
    try:
        frame = read_frame(path, label=target, float_features=True)
        return table_dataset(frame, target, features, path.name.split(".")[0], path)
    except UserError as e:
        return str(e)


def loaded(path, target=None, features=None):
    try:
        return load_table(path, target=target, features=features)
    except UserError as e:
        return str(e)


def assert_same(ours, theirs):
    if isinstance(theirs, str) or isinstance(ours, str):
        assert ours == theirs
        return
    assert ours.X.tobytes() == theirs.X.tobytes() and ours.X.shape == theirs.X.shape
    assert ours.y.tolist() == theirs.y.tolist()
    assert ours.classes == theirs.classes
    assert [type(c) for c in ours.classes] == [type(c) for c in theirs.classes]
    assert ours.feature_names == theirs.feature_names
    assert ours.encoder == theirs.encoder and ours.encoder.dropped == theirs.encoder.dropped
    assert ours.name == theirs.name and ours.meta == theirs.meta
    pd.testing.assert_frame_equal(ours.raw, theirs.raw)


def plain_frame(rows=200, cols=4, labels="int", seed=0):
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(rows, cols)) * 10.0 ** rng.integers(-3, 4, cols)).astype(np.float32)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(cols)])
    y = (X[:, 0] > 0).astype(np.int64)
    frame.insert(1, "label", np.array(["cat", "dog"])[y] if labels == "text" else y * 3 + 1)
    return frame


@pytest.mark.parametrize("name", ["t.csv", "t.tsv", "t.csv.gz", "t.parquet"])
@pytest.mark.parametrize("labels", ["int", "text"])
def test_a_plain_table_reads_as_the_general_reader_reads_it(tmp_path, name, labels):
    path = tmp_path / name
    frame = plain_frame(labels=labels)
    if name.endswith(".parquet"):
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False, sep="\t" if name.endswith(".tsv") else ",")
    ds = load_table(path, target="label")
    assert shares_cells(ds.raw, ds.X)  # it took the fast path: one copy of the numbers
    assert_same(ds, general(path, "label"))
    ours, theirs = ds.split(), general(path, "label").split()
    for a, b in zip(ours, theirs):
        assert_same(a, b)


def test_chosen_features_and_a_middle_target(tmp_path):
    path = tmp_path / "t.csv"
    plain_frame().to_csv(path, index=False)
    for features in (["f3", "f0"], None):
        ds = load_table(path, target="label", features=features)
        assert shares_cells(ds.raw, ds.X)
        assert_same(ds, general(path, "label", features))


def test_a_plain_tables_rows_are_held_once_also_after_the_split(tmp_path):
    path = tmp_path / "t.csv"
    plain_frame(rows=1000).to_csv(path, index=False)
    ds = load_table(path, target="label")
    assert np.shares_memory(ds.raw["f2"].to_numpy(), ds.X)
    train, test = ds.split()
    for part in (train, test):
        assert np.shares_memory(part.raw["f0"].to_numpy(), part.X)
        assert not np.shares_memory(part.X, ds.X)
    assert train.encoder.is_identity and len(train) + len(test) == len(ds)


def test_a_table_with_a_gap_keeps_its_rows_as_read(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,y\n1,2,0\n,4,1\n5,6,0\n7,8,1\n")
    ds = load_table(path)
    assert not shares_cells(ds.raw, ds.X) and np.isnan(ds.raw["a"][1])
    assert ds.feature_names == ("a", "a (missing)", "b")
    assert_same(ds, general(path))


def test_loading_and_splitting_a_plain_table_holds_its_numbers_twice_at_most(tmp_path):
    path = tmp_path / "t.csv"
    plain_frame(rows=20_000, cols=20).to_csv(path, index=False)
    load_table(path, target="label")  # imports and caches warm
    tracemalloc.start()
    try:
        ds = load_table(path, target="label")
        train, test = ds.split()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # X, the train and test rows and a few columns' temporaries (the general reader's
    # frame copies took 5.6x)
    assert peak < 3 * ds.X.nbytes


def test_standardizing_a_big_matrix_converts_a_block_at_a_time_to_the_same_numbers():
    rng = np.random.default_rng(1)
    n = 8 * MOMENT_ROWS + 17
    X = (rng.normal(size=(n, 5)) * [1e-3, 1, 1e3, 5, 7] + [0, 100, -4, 1e4, 0]).astype(np.float32)
    mean, std = column_moments(X)
    reference = X.astype(np.float64)
    assert mean.tobytes() == reference.mean(axis=0).tobytes()
    assert std.tobytes() == reference.std(axis=0).tobytes()
    tracemalloc.start()
    try:
        scaler = Standardizer().fit(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes  # a block at a time: X in float64 would be twice X
    scaled = scaler.transform(X)
    assert scaled.dtype == np.float32
    assert scaled.tobytes() == ((X - scaler.mean_) / scaler.scale_).astype(np.float32).tobytes()


# -- any small CSV: the same Dataset or the same error line -------------------------------

NUMBERS = st.one_of(st.integers(-10**6, 10**6).map(str),
                    st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr),
                    st.floats(-1e6, 1e6).map(lambda v: f"{v:.6g}"))
ODD = st.sampled_from(["", " 1.5", "1.5 ", "abc", "NA", "nan", "None", "inf", "-inf", "1e39",
                       "3.4028236e38", "True", "1,5", "0x10", "1e", "<NA>", "null", "1.5.2"])
CELLS = st.one_of(NUMBERS, NUMBERS, NUMBERS, ODD)
LABELS = st.sampled_from(["0", "1", "2", "a", "b", "c", "True", "False", "None", "1.5", "",
                          " a", "NA", "-3", "007", "x y", "2020-01-01", "01", "1.0", "true",
                          "-0", "1e-05"])


def csv_text(header, rows, quote_all):
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL,
                        lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


@st.composite
def tables(draw):
    cols = draw(st.integers(1, 3))
    n = draw(st.integers(0, 6))
    header = draw(st.sampled_from([[f"f{i}" for i in range(cols)] + ["y"],
                                   ["a"] * cols + ["y"], [""] + [f"f{i}" for i in range(cols)]]))
    mostly_plain = draw(st.booleans())
    cell = NUMBERS if mostly_plain else CELLS
    labels = st.sampled_from(["0", "1", "5"]) if mostly_plain else LABELS
    rows = [[draw(cell) for _ in range(len(header) - 1)] + [draw(labels)] for _ in range(n)]
    return csv_text(header, rows, draw(st.booleans()))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=tables(), gz=st.booleans())
def test_any_small_csv_reads_to_the_same_dataset_or_error_as_the_general_reader(text, gz):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("t.csv.gz" if gz else "t.csv")
        path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
        assert_same(loaded(path), general(path))


HALVES_CASES = ["plain, int labels", "text labels, no line break at the end",
                "a blank line in the first half", "a blank line in the second half",
                "single digits (as dense as a CSV gets)",
                "a quoted label with a line break", "a NaN cell in the second half"]


@pytest.mark.parametrize("case", HALVES_CASES)
@pytest.mark.parametrize("name", ["t.csv", "t.tsv", "t.csv.gz"])
def test_a_big_csv_parsed_as_two_halves_reads_as_the_general_reader_reads_it(
        tmp_path, monkeypatch, case, name):
    """From 32 MiB on (here: any size) a CSV is parsed as two halves on two threads into
    one matrix, the second half's rows moved down after the first's; a gzip file, or a
    cell the matrix cannot take, is read as before. Every case gives the general
    reader's Dataset or error."""
    from torchclf.data import plain
    monkeypatch.setattr(plain, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(plain.os, "cpu_count", lambda: 2)
    sep = "\t" if name.endswith(".tsv") else ","
    frame = plain_frame(rows=301, labels="int" if case.startswith(("plain", "single")) else
                        "text")
    if case.startswith("single"):
        frame[[c for c in frame.columns if c != "label"]] = np.arange(301 * 4).reshape(
            301, 4) % 10
    lines = frame.to_csv(index=False, sep=sep).splitlines()
    if case.startswith("a blank line"):
        lines.insert(50 if "first" in case else 250, "")
    if case.startswith("a quoted"):
        lines[40] = lines[40].replace("cat", '"ca\nt"').replace("dog", '"do\ng"')
    if case.startswith("a NaN"):
        lines[270] = "nan" + lines[270][lines[270].index(sep):]
    text = "\n".join(lines) + ("" if "no line break" in case else "\n")
    path = tmp_path / name
    path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    halves = []
    real = plain._halves
    monkeypatch.setattr(plain, "_halves", lambda *a: halves.append(real(*a)) or halves[-1])
    assert_same(loaded(path, "label"), general(path, "label"))
    if case.startswith(("plain", "text", "a blank", "single")) and not name.endswith(".gz"):
        assert halves and halves[0][0] is not None  # it did take the two halves
