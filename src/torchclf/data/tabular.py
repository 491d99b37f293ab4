"""CSV and Parquet files -> Dataset, with errors that name the file, column and row.

Real tables are messy; every problem a user can fix (a typo in the target column, a
text column among the features, a missing value) is reported as one line saying where
it is, before any training starts.
"""

from __future__ import annotations

import difflib
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from torchclf.data.cells import (READER_CHARS, container, cut, duplicates,
                                  labels_as_written, names, number_column, quote, separator)
from torchclf.data.dataset import Dataset, frame_over, passes_through, plain_label
from torchclf.data.encoding import TableEncoder
from torchclf.data.plain import read_plain
from torchclf.errors import UserError
from torchclf.memory import release_free_memory

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")


def file_kind(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bz2", ".zip", ".xz"):
        suffixes = suffixes[:-1]
    last = suffixes[-1] if suffixes else ""
    if last in CSV_SUFFIXES:
        return "tsv" if last == ".tsv" else "csv"
    if last in PARQUET_SUFFIXES:
        return "parquet"
    raise UserError(f"unsupported file type {path.name!r}: use .csv, .tsv or .parquet")


@contextmanager
def reading(path: Path, kind: str):
    """Turn what pandas and pyarrow raise for an empty, malformed or corrupt file into
    one UserError line naming the file (for a whole file or a rank's rows alike)."""
    import pandas as pd
    try:
        yield
    except pd.errors.EmptyDataError:
        raise UserError(f"{path} is empty: it needs a header row and data rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as e:
        if isinstance(e, UserError):
            raise
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"cannot read {path} as {kind.upper()}: {cut(first, READER_CHARS)}") \
            from None
    except Exception as e:  # pyarrow raises its own types for corrupt Parquet
        if type(e).__module__.startswith("pyarrow"):
            first = str(e).splitlines()[0] if str(e).strip() else type(e).__name__
            raise UserError(f"cannot read {path} as PARQUET: {cut(first, READER_CHARS)}") \
                from None
        raise


def read_frame(path: str | Path, label: str | None = "", float_features: bool = False):
    """The file as a pandas DataFrame; unreadable, empty or malformed files are UserErrors.

    With ``float_features`` every column but ``label`` (None: the last one) is parsed
    straight into float32, halving the memory of a large numeric CSV; a file that does
    not fit that is read again the general way, so its errors can be named precisely.
    A text file's ``label`` column is read as written (``cells.labels_as_written``).
    """
    import pandas as pd
    path = Path(path)
    kind = file_kind(path)
    if not path.is_file():
        raise UserError(f"file not found: {path}")
    sep = separator(kind)
    frame, columns, text = None, None, {}
    if kind != "parquet" and (float_features or label != ""):
        try:
            columns = list(pd.read_csv(path, sep=sep, nrows=0).columns)
            label = columns[-1] if label is None else label
            text = {label: str} if label in columns else {}  # labels as written
        except Exception:  # anything unusual: the general path below explains it
            columns = None
    if float_features and text:
        try:
            with np.errstate(over="raise"):  # 1e39 -> inf: read float64, name it below
                frame = pd.read_csv(path, sep=sep, dtype={
                    **{c: np.float32 for c in columns if c != label}, **text})
        except Exception:  # anything unusual: the general path below explains it
            frame = None
    if frame is None:
        with reading(path, kind):
            frame = pd.read_parquet(path) if kind == "parquet" else \
                pd.read_csv(path, sep=sep, dtype=text or None)
    if text and label in frame.columns:
        frame[label] = labels_as_written(frame[label])
    dupes = duplicates(frame.columns)
    if dupes:
        raise UserError(f"{path} has duplicate column names: {names(dupes)}; rename them")
    if len(frame) == 0:
        raise UserError(f"{path} has no data rows")
    return frame


def echo_frame(path: str | Path, frame):
    """The cells of ``frame`` (``read_frame(path)``) as the file writes them, to echo
    beside predictions: a text file's cells as text (``007`` keeps its zeros, ``NA``
    stays ``NA``), a Parquet file's as read."""
    import pandas as pd
    path = Path(path)
    kind = file_kind(path)
    if kind == "parquet":
        return frame
    with reading(path, kind):
        text = pd.read_csv(path, sep=separator(kind), dtype=str, keep_default_na=False)
    return text.set_axis(frame.columns, axis=1) if text.shape == frame.shape else frame


def load_table(path: str | Path, target: str | None = None,
               features: list[str] | None = None, name: str | None = None) -> Dataset:
    """Read a labelled table: ``target`` is the label column (default: the last one).

    Labels may be strings, integers or booleans; classes are their sorted distinct
    values and keep their Python type, so predictions come back as the user wrote them
    (a text file's labels are text unless all are numbers or booleans written one way:
    ``cells.labels_as_written``).
    Feature columns may hold numbers, booleans, text and gaps: ``X`` is their encoding
    (``data.encoding``), which ``Dataset.split`` learns again from the training rows.
    """
    path = Path(path)
    name = name or path.name.split(".")[0]
    plain = read_plain(path, file_kind(path), target, features) if path.is_file() else None
    if plain is None:  # not plain numbers: pandas reads it and names any problem
        return table_dataset(read_frame(path, label=target, float_features=True), target,
                             features, name, path)
    features, X, labels, target = plain
    ds = _labelled(frame_over(X, features), labels, target, name, path, X)
    del plain, labels  # read into pyarrow's pool, which keeps what they free
    release_free_memory()
    return ds


def column_names(path: str | Path) -> list[str]:
    """The column names of a table file, as ``load_table`` reads them (header only)."""
    path = Path(path)
    kind = file_kind(path)
    if not path.is_file():
        raise UserError(f"file not found: {path}")
    with reading(path, kind):
        if kind == "parquet":
            import pyarrow.parquet as pq
            return [str(c) for c in pq.read_schema(path).names]
        import pandas as pd
        return [str(c) for c in pd.read_csv(path, sep=separator(kind), nrows=0).columns]


def table_dataset(frame, target: str | None = None, features: list[str] | None = None,
                  name: str = "data", where: str | Path = "the table") -> Dataset:
    """A Dataset from a DataFrame already read (``load_table`` without the file):
    ``target`` is the label column (default: the last one), ``where`` names the table
    in errors and is the Dataset's ``meta["source"]``."""
    if len(frame) == 0:
        raise UserError(f"{where} has no data rows")
    columns = [str(c) for c in frame.columns]
    frame = frame.set_axis(columns, axis=1)
    if target is None:
        target = columns[-1]
    elif target not in columns:
        raise UserError(missing_column(target, columns, where, "target column"))
    if features is None:
        features = [c for c in columns if c != target]
    else:
        for f in features:
            if f not in columns:
                raise UserError(missing_column(f, columns, where, "feature column"))
    if not features:
        raise UserError(f"{where} has no feature columns besides the target {target!r}")
    return _labelled(frame[features], frame[target], target, name, where)


def _labelled(raw, labels, target: str, name: str, where: str | Path,
              cells: np.ndarray | None = None) -> Dataset:
    """The Dataset of feature columns ``raw`` labelled by ``labels``. A ``raw`` that is
    ``frame_over`` the float32 matrix ``cells`` and needs no encoding keeps ``cells`` as
    the Dataset's X: one copy of the numbers, not two."""
    classes, codes = label_codes(labels, target, where)
    if len(raw) < len(classes):
        raise UserError(f"{where} has {len(raw)} rows but {len(classes)} classes: "
                        "need at least one row per class")
    encoder = TableEncoder.fit(raw, where, warn=False)  # split() learns it again on train
    plain = cells is not None and passes_through(raw, encoder)
    return Dataset(cells if plain else encoder.transform(raw, where), codes,
                   tuple(plain_label(c) for c in classes), encoder.feature_names, name,
                   {"source": str(where), "target": target}, raw, encoder)


def label_codes(labels, target: str, path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct classes, code of every row) of a target column; missing,
    non-scalar or mixed-type labels and a single class are UserErrors."""
    import pandas as pd
    missing = labels.isna().to_numpy()
    if missing.any():
        row = int(np.argmax(missing))
        raise UserError(f"{path}: missing label in target column {target!r} at data row "
                        f"{row + 1}: fill or drop those rows{_read_as_gap(path, target, row)}")
    values = labels.to_numpy()
    if values.dtype == object and pd.api.types.infer_dtype(values).startswith("mixed"):
        for row, value in enumerate(values):
            if container(value):
                raise UserError(f"{path}: target column {target!r} holds {container(value)} "
                                f"(data row {row + 1}: {quote(value)}); labels must be "
                                "strings, integers or booleans")
    try:
        classes, codes = np.unique(values, return_inverse=True)
    except TypeError:  # e.g. 1 and "a" in one column: they have no order
        kinds = sorted({type(v).__name__ for v in values})
        raise UserError(f"{path}: target column {target!r} mixes {' and '.join(kinds)} "
                        "labels: make every label the same type") from None
    if len(classes) < 2:
        raise UserError(f"{path}: target column {target!r} has only one class "
                        f"({quote(plain_label(classes[0]))}); classification needs at least 2 "
                        "classes")
    return classes, codes.reshape(-1)


def _read_as_gap(path, target: str, row: int) -> str:
    """For a text file's label cell that is written but read as a gap (pandas reads
    ``NA``, ``null``, ``N/A``... as missing): a note saying so, since such a cell may be
    a class's name; "" otherwise (an empty cell, or not a text file)."""
    import pandas as pd
    try:
        kind = file_kind(Path(path))
        if kind == "parquet" or not Path(path).is_file():
            return ""
        text = pd.read_csv(path, sep=separator(kind), usecols=[target], dtype=str,
                           na_filter=False)[target].iloc[row]
    except Exception:  # only a better message was at stake
        return ""
    if not text.strip():
        return ""
    return (f" (the cell reads {quote(text)}, which is read as missing; if it names a "
            "class, rename that class in the file)")


def numeric_features(frame, features: list[str], path: Path, first_row: int | None = None):
    """The feature columns as a float32 array; any cell that is not a number is a
    UserError. A frame holding only some of the file's rows (a rank's slice) gives
    ``first_row``, its first row's index in the file, so errors name the file's row."""
    out = np.empty((len(frame), len(features)), dtype=np.float32)
    for j, col in enumerate(features):
        out[:, j] = number_column(frame[col], col, path, first_row)
    return out


def missing_column(name: str, columns: list[str], path: str | Path, what: str) -> str:
    close = difflib.get_close_matches(name, columns, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    where = path.name if isinstance(path, Path) else path
    return f"{what} {name!r} not found in {where}: {hint}columns are {names(columns)}"
