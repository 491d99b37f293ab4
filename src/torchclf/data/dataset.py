"""The Dataset every front end passes around, its split and the Standardizer.

Data lives here as NumPy arrays: the data layer knows nothing of models or torch, so the
same Dataset feeds training, plotting, the CLI and the web playground.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from torchclf.data import summary
from torchclf.errors import UserError
from torchclf.spec import DEFAULT_SEED, RANDOM_STATE, Spec

TEST_SIZE = Spec(float, "fraction of rows held out for test", lo=0, hi=1, lo_open=True,
                 hi_open=True)
DEFAULT_TEST_SIZE = 0.2       # the lesson's 80/20 split


@dataclass(frozen=True, eq=False)
class Dataset:
    """Features, integer-coded labels and what the codes mean.

    Parameters
    ----------
    X : (n_samples, n_features) float32 array
    y : (n_samples,) int64 array of class codes ``0 .. n_classes - 1``
    classes : the original label of each code, e.g. ``("setosa", "versicolor")``
    feature_names : one name per column of ``X``
    name : where the data came from, for titles and configs
    raw, encoder : for a table, its rows as read (a pandas DataFrame) and the
        ``TableEncoder`` that turned them into ``X``; ``split`` learns a new encoder on
        the training rows, so nothing about the test rows leaks into the encoding
    """

    X: np.ndarray
    y: np.ndarray
    classes: tuple[Any, ...]
    feature_names: tuple[str, ...]
    name: str = "data"
    meta: dict = field(default_factory=dict)
    raw: Any = field(default=None, repr=False)
    encoder: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        X = np.ascontiguousarray(self.X, dtype=np.float32)
        y = check_labels(self.y)
        if y.size and y.dtype.kind not in "biuf":
            raise UserError(f"y must be class codes 0..{len(self.classes) - 1}, got values "
                            f"such as {y.flat[0]!r}: use from_arrays for labels such as text")
        if y.dtype.kind == "f" and y.size and not np.all(y == np.round(y)):
            value = y.flat[int(np.flatnonzero(y != np.round(y))[0])]
            raise UserError(f"y must be whole class codes 0..{len(self.classes) - 1}, got "
                            f"{float(value):g}, which is not a whole number: use "
                            "tc.from_arrays(X, y) to make classes of any labels")
        y = np.ascontiguousarray(y, dtype=np.int64)
        if X.ndim != 2:
            raise UserError(f"expected X with 2 dimensions (samples, features), got shape {X.shape}")
        if y.shape != (X.shape[0],):
            raise UserError(f"expected y with shape ({X.shape[0]},), got {y.shape}")
        if len(self.feature_names) != X.shape[1]:
            raise UserError(
                f"expected {X.shape[1]} feature names, got {len(self.feature_names)}"
            )
        if X.size and not (np.isfinite(X.min()) and np.isfinite(X.max())):  # NaN too
            r, c = map(int, np.argwhere(~np.isfinite(X))[0])
            raise UserError(f"X has a non-finite value ({X[r, c]}) at row {r}, feature "
                            f"{self.feature_names[c]!r}: drop or impute such rows first")
        if len(y) and (y.min() < 0 or y.max() >= len(self.classes)):
            raise UserError(f"labels must be codes 0..{len(self.classes) - 1}")
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "classes", tuple(self.classes))
        object.__setattr__(self, "feature_names", tuple(str(f) for f in self.feature_names))

    __repr__, _repr_html_ = summary.dataset_text, summary.dataset_html  # a few lines

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def subset(self, index: np.ndarray, name: str | None = None) -> "Dataset":
        """The rows at ``index``, keeping classes, feature names and encoding."""
        return self._with_rows(self.X[index], index, name)

    def _with_rows(self, X: np.ndarray, index: np.ndarray, name: str | None) -> "Dataset":
        """The rows at ``index``, whose features ``X`` (``self.X[index]``) are given."""
        if shares_cells(self.raw, self.X):  # X's rows are the raw rows: no second copy
            raw = frame_over(X, self.raw.columns)
        else:
            raw = self.raw.iloc[index].reset_index(drop=True) if self.raw is not None else None
        return Dataset(X, self.y[index], self.classes, self.feature_names,
                       name or self.name, dict(self.meta), raw, self.encoder)

    def encoded_by(self, encoder) -> "Dataset":
        """These rows encoded by ``encoder`` (learnt elsewhere, e.g. on training rows)."""
        where = self.meta.get("source", self.name)
        same = shares_cells(self.raw, self.X) and passes_through(self.raw, encoder)
        return Dataset(self.X if same else encoder.transform(self.raw, where), self.y,
                       self.classes, encoder.feature_names, self.name, dict(self.meta),
                       self.raw, encoder)

    def split(self, test_size: float = DEFAULT_TEST_SIZE, seed: int = DEFAULT_SEED,
              stratify: bool = True, reuse: bool = False) -> tuple["Dataset", "Dataset"]:
        """Split into (train, test).

        Stratified by default, so both keep the class balance. ``stratify=False`` is the
        lesson's split: the rows of scikit-learn's ``train_test_split(X, y,
        test_size=test_size, random_state=seed)``, in its order.

        ``reuse=True`` lets the split reorder this Dataset's own X in place, so that
        train's and test's X are its two parts and no copy of the table is made; this
        Dataset's rows are then scrambled, and it must not be used again (for a table
        loaded only to be split). Where that cannot be done it copies, as by default.
        """
        train_idx, test_idx = split_indices(self.y, test_size, seed, stratify)
        if reuse and self._reorderable(train_idx):
            train_X, test_X = reorder_rows(self.X, train_idx, test_idx)
            train = self._with_rows(train_X, train_idx, self.name)
            test = self._with_rows(test_X, test_idx, self.name)
        else:
            train, test = self.subset(train_idx, self.name), self.subset(test_idx, self.name)
        if self.encoder is not None:  # learn the encoding from the training rows only
            encoder = self.encoder.refit(train.raw, self.meta.get("source", self.name))
            train, test = train.encoded_by(encoder), test.encoded_by(encoder)
        for part in (train, test):  # so a run can record how its data was made
            part.meta["split"] = {"test_size": test_size, "seed": seed, "stratify": stratify}
        return train, test

    def _reorderable(self, first: np.ndarray) -> bool:
        """Can ``reorder_rows`` put rows ``first`` first in X's own memory, changing
        nothing anyone else sees: X owns its memory, its raw rows are X itself (or
        absent) and ``first`` ascends?"""
        return (self.X.flags.owndata and (self.raw is None or shares_cells(self.raw, self.X))
                and bool(np.all(first[1:] > first[:-1])))

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Map class codes back to the original labels."""
        return np.asarray(self.classes, dtype=object)[np.asarray(codes, dtype=np.int64)]


REORDER_ROWS = 1 << 14  # rows moved at a time by reorder_rows


def reorder_rows(X: np.ndarray, first: np.ndarray, then: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``first`` (ascending) followed by rows ``then`` of X, written over X itself;
    returns the two parts (views of X). Only ``then``'s rows are copied aside: rows
    move to lower positions block by block, and ``first[k] >= k`` means no row is
    overwritten before it has been read."""
    aside = X[then]
    for i in range(0, len(first), REORDER_ROWS):
        rows = first[i:i + REORDER_ROWS]
        X[i:i + len(rows)] = X[rows]
    X[len(first):len(first) + len(then)] = aside
    return X[:len(first)], X[len(first):len(first) + len(then)]


def frame_over(X: np.ndarray, columns):
    """A DataFrame of ``X``'s columns, named ``columns``, over X's own memory (no copy):
    a plain numeric table keeps its rows as read without a second copy of them."""
    import pandas as pd
    return pd.DataFrame(X, columns=list(columns), copy=False)


def shares_cells(raw, X: np.ndarray) -> bool:
    """``raw`` is ``frame_over(X, ...)``: each of its columns is X's column, in X's memory
    (checked column by column: nothing is copied)."""
    if raw is None or raw.shape != X.shape or X.ndim != 2:
        return False
    start = X.__array_interface__["data"][0]
    for j in range(X.shape[1]):
        column = raw.iloc[:, j]
        if column.dtype != np.float32:
            return False
        cells = column.to_numpy()
        if (cells.__array_interface__["data"][0] != start + j * X.strides[1]
                or len(cells) > 1 and cells.strides[0] != X.strides[0]):
            return False
    return True


def passes_through(raw, encoder) -> bool:
    """``encoder.transform(raw)`` is ``raw``'s numbers as they are, for rows without gaps."""
    return encoder.is_identity and encoder.inputs == tuple(str(c) for c in raw.columns)


def split_indices(y: np.ndarray, test_size: float = DEFAULT_TEST_SIZE, seed: int = DEFAULT_SEED,
                  stratify: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Train and test row indices, disjoint and covering every row.

    With ``stratify`` each class contributes ``round(test_size * count)`` rows to the
    test side (at least one where the class has two or more rows), so small classes are
    never missing from either side; the indices come sorted. Without it they are
    scikit-learn's ``train_test_split`` (``ceil(test_size * n)`` test rows, shuffled by
    ``random_state=seed``), in its order.
    """
    test_size = TEST_SIZE.check("test_size", test_size)
    y = np.asarray(y)
    n = len(y)
    if n < 2:
        raise UserError(f"need at least 2 samples to split into train and test, got {n}")
    if not stratify:
        return _lesson_split(n, test_size, seed)
    rng = np.random.default_rng(seed)
    test_parts, train_parts = [], []
    for code in np.unique(y):
        rows = np.flatnonzero(y == code)
        rows = rows[rng.permutation(len(rows))]
        n_test = int(round(test_size * len(rows)))
        if len(rows) >= 2:
            n_test = min(max(n_test, 1), len(rows) - 1)
        else:
            n_test = 0
        test_parts.append(rows[:n_test])
        train_parts.append(rows[n_test:])
    test = np.concatenate(test_parts)
    if len(test) == 0:
        raise UserError("the test split is empty: use more samples or a larger test size")
    return np.sort(np.concatenate(train_parts)), np.sort(test)


def _lesson_split(n: int, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's unstratified ``train_test_split`` of ``n`` rows, as indices."""
    seed = RANDOM_STATE.check("seed", seed)
    from torchclf.data import sklearn_samples
    if sklearn_samples.n_test_rows(n, test_size) >= n:
        raise UserError(f"holding out {test_size} of {n} rows leaves no training rows "
                        "(scikit-learn rounds the held-out rows up): hold out a smaller "
                        "fraction")
    return sklearn_samples.train_test_split_indices(n, test_size, seed)


class Standardizer:
    """Zero mean, unit variance per feature; fitted on the training split only.

    Constant columns keep a scale of 1 so they pass through unchanged instead of
    dividing by zero.
    """

    __repr__, _repr_html_ = summary.scaler_text, summary.scaler_html

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def fit(self, X: np.ndarray) -> "Standardizer":
        X = np.asarray(X)
        mean, scale = column_moments(X) if X.ndim == 2 and X.shape[1] > 1 and len(X) else (
            X.mean(axis=0, dtype=np.float64), X.std(axis=0, dtype=np.float64))
        self.mean_ = mean.astype(np.float32)
        scale[scale < 1e-12] = 1.0
        self.scale_ = scale.astype(np.float32)
        return self

    def _check(self) -> None:
        if self.mean_ is None:
            raise RuntimeError("Standardizer is not fitted: call fit(X_train) first")

    def transform(self, X: np.ndarray) -> np.ndarray:
        self._check()
        out = np.subtract(X, self.mean_, dtype=np.float32)  # one new array, X untouched
        out /= self.scale_
        return out

    def inverse_transform(self, X: np.ndarray) -> np.ndarray:
        self._check()
        return (np.asarray(X, dtype=np.float32) * self.scale_ + self.mean_).astype(np.float32)

    def to_dict(self) -> dict:
        self._check()
        return {"mean": self.mean_.tolist(), "scale": self.scale_.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "Standardizer":
        s = cls()
        s.mean_ = np.asarray(d["mean"], dtype=np.float32)
        s.scale_ = np.asarray(d["scale"], dtype=np.float32)
        return s


MOMENT_ROWS = 1 << 14  # rows converted to float64 at a time


def column_moments(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) of each column in float64, bit for bit those of ``X`` converted to
    float64 whole, but converting MOMENT_ROWS rows at a time: a big X is never copied.
    (NumPy sums a 2-D array's axis 0 row after row when it has several columns; carrying
    the running sum in as the first row of the next block keeps that order.)"""
    def column_sums(rows):
        total = None
        for i in range(0, len(X), MOMENT_ROWS):
            block = rows(X[i:i + MOMENT_ROWS].astype(np.float64))
            total = np.add.reduce(block if total is None else
                                  np.concatenate([total[None], block]), axis=0)
        return total

    mean = column_sums(lambda block: block) / len(X)

    def squared(block):
        block -= mean
        return np.multiply(block, block, out=block)
    return mean, np.sqrt(column_sums(squared) / len(X))


def from_arrays(X: Sequence, y: Sequence, feature_names: Sequence[str] | None = None,
                name: str = "data") -> Dataset:
    """A Dataset from arrays, lists or torch tensors of features and labels (strings, ints,
    bools, floats): codes follow sorted label order.

    X must be (n_samples, n_features) and y (n_samples,) (a (n, 1) column is taken as
    it); missing labels (None, NaN, pd.NA) and labels mixing text with numbers are
    refused (``check_labels``): neither is a class.
    """
    X = np.asarray(_plain(X), dtype=np.float32)
    y = check_labels(_plain(y))
    if X.ndim != 2:
        raise UserError(f"expected X with 2 dimensions (samples, features), got shape "
                        f"{X.shape}: reshape it, e.g. X.reshape(-1, 1) for one feature")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.reshape(-1)
    if y.ndim != 1:
        raise UserError(f"expected y with 1 dimension (one label per row), got shape {y.shape}")
    if len(y) != len(X):
        raise UserError(f"X has {len(X)} rows but y has {len(y)} labels: give one label per row")
    classes, codes = np.unique(y, return_inverse=True)
    names = tuple(feature_names) if feature_names is not None else tuple(
        f"x{i}" for i in range(X.shape[1]))
    return Dataset(X, codes.reshape(-1), tuple(map(plain_label, classes)), names, name)


def _plain(values):
    """A torch tensor (on any device, with grad or not) as a NumPy array; else as given."""
    if hasattr(values, "detach") and hasattr(values, "cpu"):
        return values.detach().cpu().numpy()
    return values


def check_labels(y: Sequence, what: str = "labels") -> np.ndarray:
    """``y`` as an array, or a UserError if some labels are missing or the labels mix text
    with numbers; ``what`` names them in the message.

    A list keeps each label's own type (NumPy would turn ``[0, "a"]`` into the strings
    "0" and "a"); None, NaN and pandas' NA are missing.
    """
    given = y
    y = np.asarray(y, dtype=object) if isinstance(y, (list, tuple)) else np.asarray(y)
    if y.dtype.kind in "fc":
        missing = np.isnan(y)
    elif y.dtype == object:
        import pandas as pd
        missing = np.asarray(pd.isna(y), dtype=bool)
    else:
        return y
    if missing.any():
        rows = np.flatnonzero(missing.reshape(-1))
        more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
        listed = ", ".join(map(str, rows[:5]))
        where = f"rows {listed}{more}" if len(rows) > 1 else f"row {listed}"
        raise UserError(f"{what} contain missing values (NaN/None) at {where}: "
                        "drop or fill those rows")
    if y.dtype == object:
        kinds = {}
        for value in y.reshape(-1):
            kinds.setdefault(_kind(value), value)
        if len(kinds) > 1:
            shown = " and ".join(f"{v!r} is {k}" for k, v in list(kinds.items())[:2])
            raise UserError(f"{what} mix types ({shown}): make them all text or all numbers")
    return np.asarray(given) if isinstance(given, (list, tuple)) else y


def _kind(value: object) -> str:
    if isinstance(value, (str, bytes)):
        return "text"
    return "a number" if isinstance(value, numbers.Number) else type(value).__name__


def plain_label(value: object) -> object:
    """NumPy scalars -> Python scalars, so labels print, compare and go to JSON exactly."""
    return value.item() if isinstance(value, np.generic) else value
