"""Plain numeric tables read straight into a float32 matrix with pyarrow: the fast path.

A big table is usually plain: a header, numbers in every feature cell, integer or text
labels. ``read_plain`` reads such a file with pyarrow's multithreaded readers and copies
its feature columns once into the float32 matrix training uses, without a pandas frame
on the way. Anything else (a text or empty cell, a gap, an odd header, labels pandas
would read differently) gives None, and the caller reads the file the general way,
which names every problem exactly as before: this path only ever accepts a file that
the general one reads to the same numbers.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from torchclf.data.cells import FLOAT32_MAX, duplicates, separator, written_type
from torchclf.memory import release_free_memory

BLOCK = 1 << 20  # bytes of CSV text per batch: what pyarrow holds at a time
PARQUET_BATCH = 1 << 16  # rows per batch read from a Parquet file
PARALLEL_BYTES = 1 << 25  # CSV files from 32 MiB on are parsed as two halves at once


def read_plain(path: Path, kind: str, target: str | None, features: list[str] | None):
    """(feature names, (n, len(features)) float32 C-ordered matrix, labels as a pandas
    Series, target) of a plain table, else None; ``target`` None means the last column."""
    try:
        columns = _columns(path, kind)
        if columns is None or duplicates(columns):
            return None
        target = columns[-1] if target is None else target
        chosen = [c for c in columns if c != target] if features is None else list(features)
        if (target not in columns or not chosen or target in chosen
                or len(set(chosen)) < len(chosen) or any(f not in columns for f in chosen)):
            return None
        X, labels = _halves(path, kind, columns, chosen, target)
        if X is None:  # a small or packed file, or one core
            X, labels = _collect(*_batches(path, kind, chosen, target), chosen, target)
        release_free_memory()  # the batches' memory, before the labels are converted
    except Exception:  # anything pyarrow cannot read as numbers: the general path says why
        return None
    if X is None or len(X) == 0 or not _plain_labels(labels, kind):
        return None
    return chosen, X, (labels if kind == "parquet" else _as_written(labels)).to_pandas(), \
        target


def _as_written(labels):
    """``cells.labels_as_written`` of an Arrow column of text, converted by Arrow."""
    import pyarrow as pa
    import pyarrow.compute as pc
    kind = written_type(set(labels.unique().to_pylist()))
    if isinstance(kind, dict):
        true = next(k for k, v in kind.items() if v)
        return pc.equal(labels, true)
    return labels if kind is object else pc.cast(labels, pa.from_numpy_dtype(kind))


def _columns(path: Path, kind: str) -> list[str] | None:
    """The column names as pandas reads them (None: a Parquet file with a stored index)."""
    if kind == "parquet":
        import pyarrow.parquet as pq
        schema = pq.read_schema(path)
        index = (schema.pandas_metadata or {}).get("index_columns", [])
        return None if any(isinstance(i, str) for i in index) else list(schema.names)
    import pandas as pd
    return [str(c) for c in pd.read_csv(path, sep=separator(kind), nrows=0).columns]


def _batches(path: Path, kind: str, features: list[str], target: str):
    """(rows if known, bytes, Arrow record batches of the features as float32 and the
    labels);
    pyarrow raises on a cell it cannot read so, and on a column name pandas spells
    otherwise (an empty one, say)."""
    if kind == "parquet":
        import pyarrow.parquet as pq
        file = pq.ParquetFile(path)
        return file.metadata.num_rows, 0, file.iter_batches(PARQUET_BATCH,
                                                             columns=features + [target])
    import pyarrow.csv as pacsv
    return None, path.stat().st_size, pacsv.open_csv(path, **_csv_options(kind, features,
                                                                           target))


def _csv_options(kind: str, features: list[str], target: str, columns=None) -> dict:
    """pyarrow's CSV reader options: features as float32, the target, blocks of BLOCK
    bytes; ``columns`` names the columns of a part without the header line."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    return dict(
        read_options=pacsv.ReadOptions(block_size=BLOCK, column_names=columns),
        parse_options=pacsv.ParseOptions(delimiter=separator(kind)),
        convert_options=pacsv.ConvertOptions(column_types={**{f: pa.float32() for f in features},
                                                           target: pa.string()},
                                             include_columns=features + [target]))


class _Part(io.RawIOBase):
    """Bytes ``start`` to ``end`` of a file, as a file of their own."""

    def __init__(self, path: Path, start: int, end: int) -> None:
        super().__init__()
        self.file, self.left = open(path, "rb"), end - start
        self.file.seek(start)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.left)
        got = self.file.readinto(memoryview(buffer)[:n]) if n > 0 else 0
        self.left -= got
        return got

    def close(self) -> None:
        self.file.close()
        super().close()


def _halves(path: Path, kind: str, columns: list[str], features: list[str], target: str):
    """(float32 matrix, labels) of a CSV split at a line break near its middle and parsed
    as two halves on two threads (pyarrow's streaming reader parses on one core), each
    half written straight into the one matrix; (None, None) for a small or packed file
    or one core: the caller reads it serially. A cell the matrix cannot take, or a split
    inside a quoted line break, raises, and the general path reads the file."""
    size = path.stat().st_size
    if (kind == "parquet" or path.suffix.lower() not in (".csv", ".tsv", ".txt")  # packed
            or size < PARALLEL_BYTES or (os.cpu_count() or 1) < 2):
        return None, None
    import pyarrow as pa
    import pyarrow.csv as pacsv
    with open(path, "rb") as f:
        start = len(f.readline())  # the header; pandas read these column names from it
        f.seek(start + (size - start) // 2)
        middle = start + (size - start) // 2 + len(f.readline())
    # a row takes two bytes a feature at least ("1,"): room for each half's rows at most,
    # the second half's from row `room`; pages never written are never resident
    room = (middle - start) // (2 * len(features)) + 1
    X = np.empty((room + (size - middle) // (2 * len(features)) + 1, len(features)),
                 dtype=np.float32)
    options = _csv_options(kind, features, target, columns)

    def part(rows: slice, begin: int, end: int):
        with _Part(path, begin, end) as source:
            return _fill(X[rows], pacsv.open_csv(source, **options), features, target)

    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(2) as pool:
        halves = [pool.submit(part, slice(0, room), start, middle),
                  pool.submit(part, slice(room, None), middle, size)]
        (n_a, labels_a), (n_b, labels_b) = [h.result() for h in halves]
    step = max(1, room - n_a)  # the second half's rows moved down after the first's,
    for i in range(0, n_b, step):  # in pieces that do not overlap (no temporary copy)
        X[n_a + i:n_a + min(n_b, i + step)] = X[room + i:room + min(n_b, i + step)]
    X.resize((n_a + n_b, len(features)), refcheck=False)  # in place: no copy
    return X, pa.chunked_array(labels_a + labels_b)


def _fill(X: np.ndarray, batches, features: list[str], target: str):
    """(rows written, label arrays) of ``batches`` written into X's rows in order; a
    ValueError at a cell ``_put`` refuses (the general path reads the file and names it)
    or at more rows than X holds."""
    n, labels = 0, []
    for batch in batches:
        if n + batch.num_rows > len(X) or not _put(X, n, batch, features):
            raise ValueError("not a plain table")
        labels.append(batch.column(target))
        n += batch.num_rows
    return n, labels


def _put(X: np.ndarray, n: int, batch, features: list[str]) -> bool:
    """Write a batch's features into X's rows from ``n``; False (X partly written) at a
    gap or a value the general path refuses or reads otherwise: NaN, infinite, or at
    the float32 limit, where a float64 parse overflows."""
    import pyarrow as pa
    m = batch.num_rows
    for j, f in enumerate(features):
        column = batch.column(f)
        if column.type != pa.float32() or column.null_count:
            return False
        values = column.to_numpy(zero_copy_only=False)
        if m and not max(-float(values.min()), float(values.max())) < FLOAT32_MAX:
            return False  # NaN compares false too
        X[n:n + m, j] = values
    return True


def _collect(rows: int | None, size: int, batches, features: list[str], target: str):
    """(float32 matrix of the features, the labels as one Arrow array), the matrix filled
    batch by batch so only a batch of Arrow data is alive at a time; (None, None) at a
    cell ``_put`` refuses."""
    import pyarrow as pa
    X, n, labels = np.empty((rows or 0, len(features)), dtype=np.float32), 0, []
    for batch in batches:
        m = batch.num_rows
        if n + m > len(X):  # a CSV's length is guessed from its first batch's
            guess = int(m * size / BLOCK * 1.05) if n == 0 else 0  # rows of a CSV block
            X.resize((max(n + m, guess, len(X) * 3 // 2), len(features)), refcheck=False)
        if not _put(X, n, batch, features):
            return None, None
        labels.append(batch.column(target))
        n += m
    if len(X) != n:
        X.resize((n, len(features)), refcheck=False)
    return X, pa.chunked_array(labels)


def _plain_labels(labels, kind: str) -> bool:
    """Labels the general path reads to the same values: in a Parquet file integers, text
    or booleans; in a CSV (read as text, then ``labels_as_written``) text with no value
    that pandas would read as a gap and none with spaces around it."""
    import pyarrow as pa
    if labels.null_count:
        return False
    t = labels.type
    if pa.types.is_integer(t):
        return True
    if kind == "parquet":
        return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_boolean(t)
    if not pa.types.is_string(t):
        return False
    import pandas as pd
    from pandas._libs.parsers import STR_NA_VALUES
    distinct = pd.Series(labels.unique().to_pylist(), dtype=object)
    return not (distinct.isin(STR_NA_VALUES).any()
                or distinct.map(lambda s: s != s.strip()).any())
