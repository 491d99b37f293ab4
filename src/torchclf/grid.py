"""What a decision-boundary picture shows, computed with NumPy only (no matplotlib).

``torchclf.plots`` and the web playground draw the same ``BoundaryGrid``, so the picture
in a PNG and in the browser agree. Data with more than two features is shown on a 2-D
view: the plane through the data mean spanned by its top two principal axes. The
boundary drawn there is the model's true boundary *restricted to that plane* (every
other principal direction held at the mean), not a projection of the full boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from numpy.typing import DTypeLike

ProbaFn = Callable[[np.ndarray], np.ndarray]
"""(m, d) float32 feature rows -> (m, K) class probabilities, K >= 2."""

CHUNK = 65536  # most rows handed to predict_proba at once
CHUNK_BYTES = 32 << 20  # most bytes of one chunk's float64 feature rows (or probabilities)
PROBA_CLASSES = 30  # classes up to which a grid keeps every probability (r x r x K)


def chunk_rows(n_features: int, n_classes: int = 0) -> int:
    """Grid rows (points) per chunk: at most CHUNK, and fewer for wide or many-class data,
    so one chunk's float64 features plus its probabilities stay near CHUNK_BYTES. A
    row-count chunk alone made 65,536 rows x 10,000 features 5 GB per copy."""
    return max(1, min(CHUNK, CHUNK_BYTES // (8 * (max(1, n_features) + n_classes))))


@dataclass(frozen=True, eq=False)
class View2D:
    """How points of any dimension are shown in 2-D, and how the picture maps back.

    ``kind`` is "identity" (2 features), "pad" (1 feature: x is the feature, y is 0) or
    "pca" (3+ features). For "pca", ``to_2d`` projects onto the top two principal axes
    of the fitted X and ``from_2d`` returns the point of the plane through ``mean``
    spanned by those axes, so a model evaluated there shows its boundary on that plane.
    Points off the plane are drawn at their projection, so a point's colour may differ
    from the region under it.

    The principal axes are those of the standardized features (each column divided by
    its standard deviation, ``scale``), so a column in grams does not outweigh one in
    millimetres or a 0/1 one-hot column; the plane is still a plane of raw features.

    mean : (d,) ; axes : (2, d) orthonormal rows in standardized units ; scale : (d,) ;
    axis_labels : names for x and y.
    """

    kind: str
    mean: np.ndarray
    axes: np.ndarray
    axis_labels: tuple[str, str]
    scale: np.ndarray | None = None

    @classmethod
    def fit(cls, X: np.ndarray, feature_names: Sequence[str]) -> "View2D":
        """The view for (n, d) ``X``; PCA (via SVD) is fitted on X when d > 2."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] < 1:
            raise ValueError(f"expected X of shape (n, d) with d >= 1, got {X.shape}")
        d = X.shape[1]
        names = [str(f) for f in feature_names]
        if len(names) != d:
            raise ValueError(f"expected {d} feature names, got {len(names)}")
        mean = X.mean(axis=0) if len(X) else np.zeros(d)
        if d == 1:
            return cls("pad", mean, np.array([[1.0], [0.0]]), (names[0], ""))
        if d == 2:
            return cls("identity", mean, np.eye(2), (names[0], names[1]))
        scale = X.std(axis=0) if len(X) else np.ones(d)
        scale[~(scale > 1e-12)] = 1.0
        _, s, vt = np.linalg.svd((X - mean) / scale, full_matrices=False)
        axes = _complete_basis(vt[:2], d)
        # SVD signs are arbitrary: make each axis' largest entry positive so pictures are stable
        axes *= np.sign(axes[np.arange(2), np.abs(axes).argmax(axis=1)])[:, None]
        var = np.zeros(2)
        total = float((s ** 2).sum())
        if total > 0:
            var[:len(s[:2])] = s[:2] ** 2 / total
        return cls("pca", mean, axes, (f"PC1 ({100 * var[0]:.0f}% var)",
                                       f"PC2 ({100 * var[1]:.0f}% var)"), scale)

    def to_2d(self, X: np.ndarray) -> np.ndarray:
        """(n, d) feature rows -> (n, 2) picture coordinates (float64)."""
        X = np.asarray(X, dtype=np.float64)
        if self.kind == "identity":
            return X.copy()
        if self.kind == "pad":
            return np.c_[X[:, 0], np.zeros(len(X))]
        return ((X - self.mean) / self._scale) @ self.axes.T

    @property
    def _scale(self) -> np.ndarray:
        return self.scale if self.scale is not None else np.ones_like(self.mean)

    def from_2d(self, P: np.ndarray) -> np.ndarray:
        """(m, 2) picture points -> (m, d) feature rows (on the PCA plane for "pca")."""
        P = np.asarray(P, dtype=np.float64)
        if self.kind == "identity":
            return P.copy()
        if self.kind == "pad":
            return P[:, :1].copy()
        return self.mean + (P @ self.axes) * self._scale

    def grid_rows(self, xs: np.ndarray, ys: np.ndarray,
                  dtype: DTypeLike = np.float64) -> np.ndarray:
        """Feature rows for the grid of picture points ``xs`` x ``ys``, y-major:
        (len(ys) * len(xs), d), the same as ``from_2d`` of those points.

        Raw features are written straight into one array of ``dtype``: a boundary grid
        has a million rows, and every temporary of that size costs page faults.
        """
        xs, ys = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
        if self.kind == "pca":
            plane = np.empty((len(ys), len(xs), 2))
            plane[..., 0], plane[..., 1] = xs, ys[:, None]
            return self.from_2d(plane.reshape(-1, 2)).astype(dtype, copy=False)
        rows = np.empty((len(ys), len(xs), len(self.mean)), dtype=dtype)
        rows[..., 0] = xs
        if self.kind == "identity":
            rows[..., 1] = ys[:, None]
        return rows.reshape(-1, len(self.mean))

    @property
    def note(self) -> str:
        """One line for a figure when the view is not the raw features, else ""."""
        if self.kind == "pca":
            return (f"{len(self.mean)} features: boundary on the PCA plane (standardized "
                    "features) through the mean; points projected onto it")
        return ""


def _complete_basis(rows: np.ndarray, d: int) -> np.ndarray:
    """(r, d) orthonormal rows, r <= 2 -> (2, d), adding unit vectors if too few samples."""
    basis = [np.asarray(r, dtype=np.float64) for r in rows]
    for i in range(d):  # unit vectors one at a time: np.eye(10_000) alone is 800 MB
        if len(basis) == 2:
            break
        e = np.zeros(d)
        e[i] = 1.0
        v = e - sum((e @ b) * b for b in basis)
        if np.linalg.norm(v) > 1e-6:
            basis.append(v / np.linalg.norm(v))
    return np.array(basis)


@dataclass(frozen=True, eq=False)
class BoundaryGrid:
    """Class probabilities on a ``resolution x resolution`` grid over a 2-D view.

    xx, yy : (r, r) picture coordinates (row 0 is the bottom, ``yy`` grows with the row);
        read-only broadcast views, so a million-point grid costs no coordinate copies
    proba : (r, r, K), float32 or the model's wider float, for K <= PROBA_CLASSES; None
    beyond (a 200 x 200 grid of 5,000 classes is 800 MB) ; labels : (r, r) argmax, int8
    (intp for K > 127) ; confidence : (r, r) max probability ; n_classes : K
    """

    xx: np.ndarray
    yy: np.ndarray
    proba: np.ndarray
    labels: np.ndarray
    confidence: np.ndarray
    view: View2D
    n_classes: int = 0

    @property
    def box(self) -> tuple[float, float, float, float]:
        """(x_min, x_max, y_min, y_max)."""
        return (float(self.xx[0, 0]), float(self.xx[0, -1]),
                float(self.yy[0, 0]), float(self.yy[-1, 0]))

    def to_json(self, with_proba: bool = False) -> dict:
        """Plain lists and numbers (4 decimals) for a web client; rows go bottom to top.

        ``proba`` ((r, r, K) nested lists) is included only with ``with_proba``: it is
        K times the size of the rest, and kept only for K <= PROBA_CLASSES.
        """
        x0, x1, y0, y1 = self.box
        out = {
            "x_min": round(x0, 4), "x_max": round(x1, 4),
            "y_min": round(y0, 4), "y_max": round(y1, 4),
            "resolution": int(self.xx.shape[0]),
            "n_classes": int(self.n_classes),
            "x": np.round(self.xx[0], 4).tolist(),
            "y": np.round(self.yy[:, 0], 4).tolist(),
            "labels": self.labels.astype(int).tolist(),
            "confidence": np.round(self.confidence.astype(np.float64), 4).tolist(),
            "axis_labels": list(self.view.axis_labels),
            "view": self.view.kind,
            "note": self.view.note,
        }
        if with_proba:
            if self.proba is None:
                raise ValueError(f"a grid of {self.n_classes} classes keeps no probabilities "
                                 f"(only up to {PROBA_CLASSES}): ask without with_proba")
            out["proba"] = np.round(self.proba.astype(np.float64), 4).tolist()
        return out


def bounds(P: np.ndarray, margin: float = 0.1) -> tuple[float, float, float, float]:
    """(x_min, x_max, y_min, y_max) around (n, 2) points plus ``margin`` x range per side.

    A zero-width side (one point, or the dummy axis of 1-feature data) gets +-0.5.
    """
    P = np.asarray(P, dtype=np.float64)
    if len(P) == 0:
        return -1.0, 1.0, -1.0, 1.0
    lo, hi = P.min(axis=0), P.max(axis=0)
    span = hi - lo
    pad = np.where(span > 0, span * margin, 0.5)
    return (float(lo[0] - pad[0]), float(hi[0] + pad[0]),
            float(lo[1] - pad[1]), float(hi[1] + pad[1]))


def decision_grid(predict_proba: ProbaFn, X: np.ndarray, feature_names: Sequence[str],
                  resolution: int = 200, margin: float = 0.1,
                  view: View2D | None = None,
                  box: tuple[float, float, float, float] | None = None) -> BoundaryGrid:
    """Evaluate ``predict_proba`` on a grid covering the 2-D view of (n, d) ``X``.

    The view is fitted on X unless given; the box is ``bounds(view.to_2d(X), margin)``
    unless given. Rows go to ``predict_proba`` as float32 (m, d) chunks of whole grid
    rows, at most ``chunk_rows(d, K)`` rows (or one grid row, if longer): the first
    chunk is one grid row, which tells K. It is only called, so the model behind it is
    never touched.
    """
    if resolution < 2:
        raise ValueError(f"resolution must be at least 2, got {resolution}")
    view = view or View2D.fit(X, feature_names)
    x0, x1, y0, y1 = box or bounds(view.to_2d(X), margin)
    xs, ys = np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution)
    xx, yy = np.meshgrid(xs, ys, copy=False)
    xx.flags.writeable = yy.flags.writeable = False  # views of xs and ys, shared by cells
    d = len(view.mean)
    proba = labels = confidence = None
    k, lo = 0, 0
    while lo < resolution:
        hi = min(resolution, lo + (1 if not k else max(1, chunk_rows(d, k) // resolution)))
        rows = view.grid_rows(xs, ys[lo:hi], dtype=np.float32)
        p = np.asarray(predict_proba(rows))
        if (p.ndim != 2 or p.shape[0] != len(rows) or p.shape[1] < 2
                or (k and p.shape[1] != k)):
            raise ValueError(f"predict_proba must return ({len(rows)}, K>=2) probabilities, "
                             f"got shape {p.shape}")
        if not k:
            k, dtype = p.shape[1], np.result_type(p.dtype, np.float32)
            if k <= PROBA_CLASSES:
                proba = np.empty((resolution, resolution, k), dtype=dtype)
            # the smallest int for the classes: a million-cell grid then allocates
            # (and page-faults) 1 MB of labels instead of 8
            labels = np.empty((resolution, resolution),
                              dtype=np.int8 if k <= 127 else np.intp)
            confidence = np.empty((resolution, resolution), dtype=dtype)
        part = p.reshape(hi - lo, resolution, -1)
        if proba is not None:
            part = proba[lo:hi]
            part[...] = p.reshape(hi - lo, resolution, -1)
        _winners(part, labels[lo:hi], confidence[lo:hi])
        lo = hi
    return BoundaryGrid(xx, yy, proba, labels, confidence, view, k)


def _winners(proba: np.ndarray, labels: np.ndarray, best: np.ndarray) -> None:
    """Write argmax and max over the last axis of (..., K) ``proba`` into ``labels`` and
    ``best``, one class at a time: NumPy's own reductions over a short last axis are
    about ten times slower (for a long axis, of more than 16 classes, they are used).
    Ties go to the first class, as with argmax."""
    if proba.shape[-1] > 16:
        winner = proba.argmax(axis=-1)
        labels[...] = winner
        best[...] = np.take_along_axis(proba, winner[..., None], axis=-1)[..., 0]
        return
    np.greater(proba[..., 1], proba[..., 0], out=labels)
    np.maximum(proba[..., 0], proba[..., 1], out=best)
    for c in range(2, proba.shape[-1]):
        better = proba[..., c] > best
        np.maximum(best, proba[..., c], out=best)
        labels += better * (c - labels)  # where(better, c, labels), measured faster
