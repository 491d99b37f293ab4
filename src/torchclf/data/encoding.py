"""Raw table columns -> the numbers a network reads: the preprocessing inside a model.

Real tables hold text, categories, booleans and gaps. ``TableEncoder`` learns, from the
training rows only, what each column becomes: numbers (booleans as 0/1) with missing
cells filled by the training median, text and categories one-hot encoded with missing
cells filled by the most frequent value, and a "missing" indicator column wherever the
training rows had gaps. At predict time a category never seen in training lights no
one-hot column (or the shared "other" column of a column with many levels) instead of
failing. Everything it learns is plain JSON (``to_dict``), so a saved model keeps its
preprocessing without pickle, and an exported ONNX graph can rebuild it.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np

from torchclf.data.cells import (FLOAT32_MAX, first_container, is_numeric_column, names,
                                  number_column, quote, refuse_dates)
from torchclf.errors import UserError

MAX_LEVELS = 30       # one-hot columns per text column; rarer values share "other"
MIN_ROWS_FOR_ID = 20  # a column of distinct values is an ID only in a table this long
PARALLEL_CELLS = 1 << 21  # tables from about 2M cells learn two columns at a time
MAX_CATEGORY_CHARS = 100  # a longer text is prose, not the name of a category
NUMBER, CATEGORY = "number", "category"
OTHER = "(other)"


@dataclass(frozen=True)
class Column:
    """What one raw column becomes (see the module docstring)."""

    name: str
    kind: str                      # NUMBER or CATEGORY
    fill: float | str              # the training median or most frequent value
    indicator: bool = False        # add a 0/1 "missing" column
    categories: tuple[str, ...] = ()
    other: bool = False            # a shared column for rare and unseen values

    @property
    def outputs(self) -> list[str]:
        if self.kind == NUMBER:
            out = [self.name]
        else:
            out = [f"{self.name}={c}" for c in self.categories]
            out += [f"{self.name}={OTHER}"] if self.other else []
        return out + ([f"{self.name} (missing)"] if self.indicator else [])

    def to_dict(self) -> dict:
        d = {"name": self.name, "kind": self.kind, "fill": self.fill,
             "indicator": self.indicator}
        if self.kind == CATEGORY:
            d.update(categories=list(self.categories), other=self.other)
        return d


class TableEncoder:
    """The learnt column plan; ``fit`` on training rows, ``transform`` any rows."""

    def __init__(self, columns: tuple[Column, ...], dropped: dict[str, str] | None = None):
        self.columns = tuple(columns)
        self.dropped = dict(dropped or {})

    # -- learning --------------------------------------------------------------------------
    @classmethod
    def fit(cls, frame, where: object = "the table", drop_useless: bool = True,
            warn: bool = True, kinds: dict[str, str] | None = None,
            ids: bool = True) -> "TableEncoder":
        """Learn each column's encoding from ``frame`` (the training rows).

        With ``drop_useless``, constant columns, empty ones and IDs (a distinct value in
        every row: text, or integers numbering the rows) are left out, each with a warning when
        ``warn``. Lists, structs and infinite or float32-overflowing numbers are a
        UserError naming the cell. ``kinds`` fixes a column's kind (NUMBER or CATEGORY)
        and ``ids=False`` keeps ID-like columns, as ``refit`` does.
        """
        columns, dropped = [], {}
        names = list(frame.columns)
        series = [frame[name] for name in names]  # read here: a frame is not thread-safe
        learn = lambda name, column: _learn(column, str(name), where, drop_useless,
                                            (kinds or {}).get(str(name)), ids)
        for name, learnt in zip(names, _each_column(learn, names, series, len(frame))):
            if isinstance(learnt, str):
                dropped[str(name)] = learnt
            else:
                columns.append(learnt)
        if not columns:
            raise UserError(f"{where}: no usable feature column ({_reasons(dropped)})")
        encoder = cls(tuple(columns), dropped)
        if warn:
            encoder.warn()
        return encoder

    def warn(self) -> None:
        """A warning for each column left out or with its rare values lumped together."""
        for name, why in self.dropped.items():
            warnings.warn(f"column {name!r} left out: {why}", UserWarning, stacklevel=3)
        for c in self.columns:
            if c.other:
                warnings.warn(f"column {c.name!r} has more than {MAX_LEVELS} values: the "
                              f"{MAX_LEVELS - 1} most frequent get their own column, the "
                              "rest share one", UserWarning, stacklevel=3)

    def refit(self, frame, where: object = "the table") -> "TableEncoder":
        """Learn again from ``frame`` (the training part of the rows this was fitted on),
        keeping each column's kind (a text column whose training rows happen to hold
        only numbers stays text) and leaving out what this left out. Warns about the
        columns it leaves out."""
        kinds = {c.name: c.kind for c in self.columns}
        learnt = type(self).fit(frame[list(self.inputs)], where, warn=False, kinds=kinds,
                                ids=False)  # an ID is told on the whole table, not a part
        learnt.dropped = {**self.dropped, **learnt.dropped}
        learnt.warn()
        return learnt

    # -- applying ----------------------------------------------------------------------------
    @property
    def inputs(self) -> tuple[str, ...]:
        """The raw columns a row must have (left-out columns are not needed)."""
        return tuple(c.name for c in self.columns)

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The names of the columns ``transform`` returns, in order."""
        return tuple(n for c in self.columns for n in c.outputs)

    @property
    def is_identity(self) -> bool:
        """Numbers in, the same numbers out, as long as no cell is missing."""
        return all(c.kind == NUMBER and not c.indicator for c in self.columns)

    def transform_rows(self, rows, where: object = "the rows", dtype=np.float32) -> np.ndarray:
        """Like ``transform``, for a 2-D array whose columns are ``inputs`` in order.

        Complete numbers under an identity encoding pass through as they are (cast to
        ``dtype``); anything else (text, gaps) is encoded cell by cell.
        """
        import pandas as pd
        array = np.asarray(rows)
        if self.is_identity and _complete_numbers(array):
            return array.astype(dtype, copy=False)
        if array.dtype.kind not in "biuf":
            array = np.asarray(rows, dtype=object)  # text beside numbers: keep each cell
        if array.ndim != 2 or array.shape[1] != len(self.inputs):
            raise UserError(f"expected rows of {len(self.inputs)} columns "
                            f"({', '.join(self.inputs)}), got shape {array.shape}")
        return self.transform(pd.DataFrame(array, columns=list(self.inputs)), where, dtype)

    def transform(self, frame, where: object = "the table", dtype=np.float32) -> np.ndarray:
        """(n, len(feature_names)) numbers for the rows of ``frame`` (a DataFrame with
        the ``inputs`` columns; others are ignored)."""
        absent = [c for c in self.inputs if c not in frame.columns]
        if absent:
            raise UserError(f"{where} lacks the model's column(s) {names(absent)}; it has "
                            f"{names(list(frame.columns))}")
        out = np.empty((len(frame), len(self.feature_names)), dtype=dtype)
        j = 0
        for c in self.columns:
            block = _encode(c, frame[c.name], where)
            out[:, j:j + block.shape[1]] = block
            j += block.shape[1]
        return out

    # -- files -----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"columns": [c.to_dict() for c in self.columns], "dropped": dict(self.dropped)}

    @classmethod
    def from_dict(cls, d: dict) -> "TableEncoder":
        """From ``to_dict``'s output (``store.modelcheck`` checks a file's copy first)."""
        cols = tuple(Column(c["name"], c["kind"], c["fill"], bool(c["indicator"]),
                            tuple(c.get("categories", ())), bool(c.get("other", False)))
                     for c in d["columns"])
        return cls(cols, d.get("dropped", {}))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TableEncoder) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"TableEncoder({len(self.columns)} columns -> {len(self.feature_names)} features)"


def _complete_numbers(array: np.ndarray) -> bool:
    """An array of numbers, none missing: what an identity encoding passes on."""
    return array.dtype.kind in "biu" or array.dtype.kind == "f" and not np.isnan(array).any()


def _each_column(learn, names: list, series: list, rows: int):
    """``learn(name, column)`` of every column in order; a big table's columns on two
    threads (numpy sorts and reduces large arrays without the GIL). Results and the
    first error come in column order either way."""
    if rows * len(names) < PARALLEL_CELLS or len(names) < 2 or (os.cpu_count() or 1) < 2:
        return list(map(learn, names, series))
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(learn, names, series))


def _reasons(dropped: dict[str, str]) -> str:
    return "; ".join(f"{n!r}: {why}" for n, why in dropped.items()) or "no columns"


def _learn(series, name: str, where: object, drop_useless: bool, kind: str | None = None,
           ids: bool = True) -> Column | str:
    """The column's encoding, or why it carries nothing to learn from."""
    n = len(series)
    cell = first_container(series)
    if cell is not None:
        row, what = cell
        raise UserError(f"{where}: column {name!r} holds {what}, not numbers (data row "
                        f"{row + 1}: {quote(series.iloc[row])}); drop it or expand it into "
                        "numeric columns")
    refuse_dates(series, name, where)
    complete = _complete_floats(series) if kind in (None, NUMBER) else None
    if complete is not None:  # the usual big-table column: the same answer, 4x sooner
        why = _useless_numbers(complete, n, ids) if drop_useless else None
        return why or Column(name, NUMBER, _median(complete))
    if kind == NUMBER or kind is None and is_numeric_column(series):
        values = number_column(series, name, where, allow_missing=True)
        missing = np.isnan(values)
        present = values[~missing] if missing.any() else values
        why = _useless_numbers(present, n, ids) if drop_useless else None
        return why or Column(name, NUMBER, float(np.median(present)) if len(present) else 0.0,
                             len(present) < n)
    text = series.dropna().map(str)
    why = _useless_text(text, n, ids) if drop_useless else None
    if why:
        return why
    ranked = sorted(text.value_counts().items(), key=lambda kv: (-kv[1], kv[0]))
    if not ranked:  # kept only when nothing is dropped: every cell missing
        ranked = [("", 0)]
    many = len(ranked) > MAX_LEVELS
    kept = [v for v, _ in ranked[:MAX_LEVELS - 1]] if many else [v for v, _ in ranked]
    return Column(name, CATEGORY, ranked[0][0], len(text) < n, tuple(sorted(kept)), many)


def _complete_floats(series) -> np.ndarray | None:
    """A float column with a value in every cell, all finite and within float32, as a
    contiguous copy of its own (float32 stays float32); None for anything else, which
    ``number_column`` checks cell by cell. One gather, then min and max, where the
    general path converts to float64 and scans the column five times."""
    if not isinstance(series.dtype, np.dtype) or series.dtype.kind != "f" or len(series) == 0:
        return None  # pandas' nullable Float64 too: its gaps are pd.NA
    values = np.array(series.to_numpy(), order="C", copy=True)  # ours to reorder
    lo, hi = float(values.min()), float(values.max())
    return values if max(-lo, hi) < FLOAT32_MAX else None  # NaN compares false too


def _median(values: np.ndarray) -> float:
    """``np.median(values)`` of a complete column, by one partition of ``values`` (which
    it reorders) where np.median partitions a float64 copy three times."""
    k = len(values) // 2
    values.partition(k)
    if len(values) % 2:
        return float(values[k])
    return (float(values[:k].max()) + float(values[k])) / 2


EMPTY = "it is empty (no value in any row)"
CONSTANT = "it has the same value in every row"


def _useless_numbers(present: np.ndarray, n: int, ids: bool) -> str | None:
    if len(present) == 0:
        return EMPTY
    lo, hi = float(present.min()), float(present.max())
    if len(present) < n:
        return None
    if lo == hi:
        return CONSTANT
    # a row number, also in the training part of a split: distinct integers, few gaps
    if (ids and n >= MIN_ROWS_FOR_ID and hi - lo < 2 * n and np.all(present == np.round(present))
            and np.unique(present).size == n):
        return "it looks like a row number (a different integer in every row)"
    return None


def _useless_text(text, n: int, ids: bool) -> str | None:
    if len(text) == 0:
        return EMPTY
    longest = int(text.str.len().max())
    if longest > MAX_CATEGORY_CHARS:
        return f"it holds free text ({longest:,} characters in a cell), not categories"
    distinct = text.nunique()
    if distinct == 1 and len(text) == n:
        return CONSTANT
    if ids and n >= MIN_ROWS_FOR_ID and distinct == n:
        return "it looks like an ID (a different text in every row)"
    return None


def _encode(c: Column, series, where: object) -> np.ndarray:
    """The output columns of ``c`` for these cells."""
    import pandas as pd
    missing = series.isna().to_numpy()
    if c.kind == NUMBER:
        values = number_column(series, c.name, where, allow_missing=True)
        block = [np.where(missing, c.fill, values)]
    else:
        text = np.where(missing, c.fill, series.map(lambda v: v if pd.isna(v) else str(v))
                        .to_numpy(dtype=object))
        block = [text == k for k in c.categories]
        if c.other:
            block.append(~np.isin(text, c.categories))
    if c.indicator:
        block.append(missing)
    return np.stack(block, axis=1).astype(np.float64) if block else np.empty((len(series), 0))
