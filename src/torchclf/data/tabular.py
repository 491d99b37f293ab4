"""CSV and Parquet files -> Dataset, with errors that name the file, column and row.

Real tables are messy; every problem a user can fix (a typo in the target column, a
text column among the features, a missing value) is reported as one line saying where
it is, before any training starts.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np

from torchclf.data.dataset import Dataset
from torchclf.errors import UserError

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")


def _kind(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bz2", ".zip", ".xz"):
        suffixes = suffixes[:-1]
    last = suffixes[-1] if suffixes else ""
    if last in CSV_SUFFIXES:
        return "tsv" if last == ".tsv" else "csv"
    if last in PARQUET_SUFFIXES:
        return "parquet"
    raise UserError(f"unsupported file type {path.name!r}: use .csv, .tsv or .parquet")


def read_frame(path: str | Path, label: str | None = "", float_features: bool = False):
    """The file as a pandas DataFrame; unreadable, empty or malformed files are UserErrors.

    With ``float_features`` every column but ``label`` (None: the last one) is parsed
    straight into float32, halving the memory of a large numeric CSV; a file that does
    not fit that is read again the general way, so its errors can be named precisely.
    """
    import pandas as pd
    path = Path(path)
    kind = _kind(path)
    if not path.is_file():
        raise UserError(f"file not found: {path}")
    sep = "\t" if kind == "tsv" else ","
    frame = None
    if float_features and kind != "parquet":
        try:
            columns = list(pd.read_csv(path, sep=sep, nrows=0).columns)
            label = columns[-1] if label is None else label
            if label in columns:
                frame = pd.read_csv(path, sep=sep, dtype={c: np.float32 for c in columns
                                                          if c != label})
        except Exception:  # anything unusual: the general path below explains it
            frame = None
    try:
        if frame is None:
            frame = pd.read_parquet(path) if kind == "parquet" else pd.read_csv(path, sep=sep)
    except pd.errors.EmptyDataError:
        raise UserError(f"{path} is empty: it needs a header row and data rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"cannot read {path} as {kind.upper()}: {first}") from None
    except Exception as e:  # pyarrow raises its own types for corrupt Parquet
        if type(e).__module__.startswith("pyarrow"):
            raise UserError(f"cannot read {path} as PARQUET: {str(e).splitlines()[0]}") from None
        raise
    dupes = _duplicates(frame.columns)
    if dupes:
        raise UserError(f"{path} has duplicate column names: {', '.join(dupes)}; rename them")
    if len(frame) == 0:
        raise UserError(f"{path} has no data rows")
    return frame


def _duplicates(columns) -> list[str]:
    import re
    names = [re.sub(r"\.\d+$", "", str(c)) for c in columns]  # pandas renames a, a -> a, a.1
    seen, dupes = set(), []
    for original, name in zip(columns, names):
        if name in seen and name not in dupes and str(original) != name:
            dupes.append(name)
        seen.add(str(original))
    return dupes


def load_table(path: str | Path, target: str | None = None,
               features: list[str] | None = None, name: str | None = None) -> Dataset:
    """Read a labelled table: ``target`` is the label column (default: the last one).

    Labels may be strings, integers or booleans; classes are their sorted distinct
    values and keep their Python type, so predictions come back as the user wrote them.
    """
    path = Path(path)
    frame = read_frame(path, label=target, float_features=True)
    if len(frame) == 0:
        raise UserError(f"{path} has no data rows")
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    if target is None:
        target = columns[-1]
    elif target not in columns:
        raise UserError(_missing(target, columns, path, "target column"))
    if features is None:
        features = [c for c in columns if c != target]
    else:
        for f in features:
            if f not in columns:
                raise UserError(_missing(f, columns, path, "feature column"))
    if not features:
        raise UserError(f"{path} has no feature columns besides the target {target!r}")
    X = _numeric(frame, features, path)
    labels = frame[target]
    missing = labels.isna().to_numpy()
    if missing.any():
        raise UserError(f"{path}: missing label in target column {target!r} at data row "
                        f"{int(np.argmax(missing)) + 1}: fill or drop those rows")
    classes, codes = np.unique(labels.to_numpy(), return_inverse=True)
    if len(classes) < 2:
        raise UserError(f"{path}: target column {target!r} has only one class "
                        f"({classes[0]!r}); classification needs at least 2 classes")
    if len(frame) < len(classes):
        raise UserError(f"{path} has {len(frame)} rows but {len(classes)} classes: "
                        "need at least one row per class")
    return Dataset(X, codes.reshape(-1), tuple(_plain(c) for c in classes), tuple(features),
                   name or path.name.split(".")[0],
                   {"source": str(path), "target": target})


def read_features(path: str | Path, feature_names: tuple[str, ...]):
    """(X float32, frame) with the model's feature columns; other columns are ignored."""
    path = Path(path)
    frame = read_frame(path)
    frame.columns = [str(c) for c in frame.columns]
    absent = [f for f in feature_names if f not in frame.columns]
    if absent:
        raise UserError(f"{path} lacks the model's feature column(s) {', '.join(absent)}; "
                        f"it has {', '.join(frame.columns)}")
    return _numeric(frame, list(feature_names), path), frame


def _numeric(frame, features: list[str], path: Path) -> np.ndarray:
    import pandas as pd
    out = np.empty((len(frame), len(features)), dtype=np.float32)
    for j, col in enumerate(features):
        series = frame[col]
        if series.dtype == bool:
            series = series.astype(np.float32)
        if not pd.api.types.is_numeric_dtype(series):
            converted = pd.to_numeric(series, errors="coerce")
            bad = converted.isna() & series.notna()
            if bad.any():
                row = int(np.argmax(bad.to_numpy()))
                raise UserError(f"{path}: column {col!r} is not numeric (data row {row + 1}: "
                                f"{series.iloc[row]!r}); drop it or encode it as numbers")
            series = converted
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isnan(values).any():
            row = int(np.argmax(np.isnan(values)))
            raise UserError(f"{path}: missing value in column {col!r} at data row {row + 1}: "
                            "fill or drop those rows")
        if not np.isfinite(values).all():
            row = int(np.argmax(~np.isfinite(values)))
            raise UserError(f"{path}: infinite value in column {col!r} at data row {row + 1}")
        out[:, j] = values
    return out


def _missing(name: str, columns: list[str], path: Path, what: str) -> str:
    close = difflib.get_close_matches(name, columns, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{what} {name!r} not found in {path.name}: {hint}columns are {', '.join(columns)}"


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value
