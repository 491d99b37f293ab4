"""Reading one table column's cells as numbers, and quoting a bad cell in an error.

Shared by the file reader (``tabular``) and the column encoder (``encoding``): both
name the file or table, the column and the row of the first cell they cannot use, in
an error line that stays short whatever the cell holds.
"""

from __future__ import annotations

import math
import re

import numpy as np

from torchclf.errors import UserError

QUOTE_CHARS = 60  # a bad cell is quoted up to here, then "…": never a 30 MB error line
READER_CHARS = 160  # a reader's own message: long enough for "in line 1502, saw 6"
LIST_NAMES = 12  # column names listed in an error before "… (N in all)"
FLOAT32_MAX = float(np.finfo(np.float32).max)
INTEGER = re.compile(r"(0|-?[1-9][0-9]{0,17})\Z")  # as int() prints it, within int64
BOOLS = ({"True": True, "False": False}, {"true": True, "false": False},
         {"TRUE": True, "FALSE": False})


def cut(text: str, limit: int = QUOTE_CHARS) -> str:
    """``text`` up to ``limit`` characters, then "…"."""
    return text if len(text) <= limit else text[:limit] + "…"


def quote(value: object) -> str:
    """``repr`` of a cell for an error line: short, and a long text says its length."""
    if isinstance(value, (str, bytes)) and len(value) > QUOTE_CHARS:
        return f"{repr(value[:QUOTE_CHARS])}… ({len(value):,} characters)"
    if isinstance(value, np.ndarray):
        value = value[:QUOTE_CHARS].tolist()
    return cut(repr(value))


def names(columns) -> str:
    """Column names for an error line: the first LIST_NAMES, then how many in all."""
    shown = ", ".join(cut(str(c)) for c in list(columns)[:LIST_NAMES])
    return shown if len(columns) <= LIST_NAMES else f"{shown}, … ({len(columns)} in all)"


def container(value: object) -> str | None:
    """What a non-scalar cell holds (Parquet list/map and struct columns), else None."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return "lists"
    if isinstance(value, dict):
        return "records (structs)"
    return None


def first_container(series) -> tuple[int, str] | None:
    """(row, what it holds) of the first list or struct cell of an object column."""
    if series.dtype != object:
        return None
    for row, value in enumerate(series.to_numpy()):
        kind = container(value)
        if kind:
            return row, kind
    return None


def refuse_dates(series, col: str, where: object, first_row: int = 0) -> None:
    """A UserError for a column of dates, times or durations (Parquet timestamps, pandas
    datetime64, timedelta64 and period columns): pandas would turn them into nanosecond
    counts, numbers no one meant the network to read."""
    import pandas as pd
    dtype = series.dtype
    if not (pd.api.types.is_datetime64_any_dtype(dtype) or
            pd.api.types.is_timedelta64_dtype(dtype) or isinstance(dtype, pd.PeriodDtype)):
        return
    present = series.notna().to_numpy()
    row = int(np.argmax(present)) if present.any() else 0
    raise UserError(f"{where}: column {col!r} holds dates or times (data row "
                    f"{first_row + row + 1}: {cut(str(series.iloc[row]))}), which torchclf "
                    "does not read as numbers: drop it, or turn it into numbers first "
                    "(day of the year, hour, days since a start date)")


def is_numeric_column(series) -> bool:
    """Numbers, booleans, or text cells that all read as numbers (missing ones aside)."""
    import pandas as pd
    if series.dtype == bool or pd.api.types.is_bool_dtype(series):
        return True
    if isinstance(series.dtype, pd.CategoricalDtype):
        return False
    if pd.api.types.is_numeric_dtype(series):
        return True
    present = series.dropna()
    if len(present) and all(isinstance(v, (bool, np.bool_)) for v in present.to_numpy()):
        return True
    converted = pd.to_numeric(present, errors="coerce")
    return bool(len(present)) and not converted.isna().any()


def number_column(series, col: str, where: object, first_row: int | None = None,
                  allow_missing: bool = False) -> np.ndarray:
    """One column as float64 values that fit float32, or the UserError naming its first
    bad cell (text, a list or struct, infinite, beyond float32, and missing unless
    ``allow_missing``: then missing cells are NaN). A frame holding only some of the
    file's rows (a rank's slice) gives ``first_row``, its first row's index in the file,
    so errors name the file's row."""
    import pandas as pd
    whole, first_row = first_row is None, first_row or 0
    refuse_dates(series, col, where, first_row)
    if series.dtype == object and series.dropna().map(
            lambda v: isinstance(v, (bool, np.bool_))).all():
        series = series.map(lambda v: v if pd.isna(v) else float(v))
    if series.dtype == bool or pd.api.types.is_bool_dtype(series):
        series = series.astype("float64")
    if not pd.api.types.is_numeric_dtype(series):
        converted = pd.to_numeric(series, errors="coerce")
        bad = converted.isna() & series.notna()
        if bad.any():
            row = int(np.argmax(bad.to_numpy()))
            value, row = series.iloc[row], first_row + row
            at = f"(data row {row + 1}: {quote(value)})"
            if container(value):
                raise UserError(f"{where}: column {col!r} holds {container(value)}, not "
                                f"numbers {at}; drop it or expand it into numeric columns")
            raise UserError(f"{where}: column {col!r} is not numeric {at}; drop it or "
                            "encode it as numbers")
        series = converted
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    nan = np.isnan(values)
    if nan.all() and whole and len(values) > 1 and not allow_missing:
        raise UserError(f"{where}: column {col!r} is empty (no value in any row): drop it")
    if nan.any() and not allow_missing:
        raise UserError(f"{where}: missing value in column {col!r} at data row "
                        f"{first_row + int(np.argmax(nan)) + 1}: fill or drop those rows")
    present = values[~nan] if nan.any() else values
    if not np.isfinite(present).all():
        row = first_row + int(np.argmax(np.isinf(values)))
        raise UserError(f"{where}: infinite value in column {col!r} at data row {row + 1}")
    if len(present) and np.abs(present).max() > FLOAT32_MAX:
        huge = np.abs(np.nan_to_num(values)) > FLOAT32_MAX
        row = int(np.argmax(huge))
        raise UserError(f"{where}: value {values[row]:g} in column {col!r} at data row "
                        f"{first_row + row + 1} is beyond float32 (largest {FLOAT32_MAX:.4g}): "
                        "rescale that column")
    return values


def separator(kind: str) -> str:
    """The column separator of a text table of ``file_kind`` ``kind``."""
    return "\t" if kind == "tsv" else ","


def duplicates(columns) -> list[str]:
    """Names pandas saw more than once (it renames a second "a" to "a.1")."""
    import re
    names = [re.sub(r"\.\d+$", "", str(c)) for c in columns]  # pandas renames a, a -> a, a.1
    seen, dupes = set(), []
    for original, name in zip(columns, names):
        if name in seen and name not in dupes and str(original) != name:
            dupes.append(name)
        seen.add(str(original))
    return dupes


def labels_as_written(labels):
    """A text file's label column (strings as read, gaps NaN) as its classes: text as
    written, unless every label is written the one way its value prints: canonical
    integers (0, 1, -2) become int64, floats as Python prints them (0.5, 1e-05) float64,
    and true/false in one spelling bool. So ``01`` and ``1`` stay two classes, ``1.0`` and
    ``1`` too, ``007`` keeps its zeros, and a class comes back as it was written."""
    if labels.isna().any():  # label_codes names the rows of missing labels
        return labels
    kind = written_type(set(labels.unique()))
    if isinstance(kind, dict):
        return labels.map(kind).astype(bool)
    return labels.astype(kind)


def written_type(distinct: set) -> type | dict:
    """What labels written as the strings ``distinct`` are (``labels_as_written``):
    np.int64, np.float64, a {spelling: bool} table, or object (text)."""
    if all(INTEGER.match(v) for v in distinct):
        return np.int64
    if all(_prints_as(v) for v in distinct):
        return np.float64
    for spelling in BOOLS:
        if distinct <= spelling.keys():
            return spelling
    return object


def _prints_as(text: str) -> bool:
    """``text`` is the way Python prints the float it holds (``0.5``, not ``.5``)."""
    try:
        value = float(text)
    except ValueError:
        return False
    return math.isfinite(value) and repr(value) == text
