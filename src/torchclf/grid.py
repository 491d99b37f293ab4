"""What a decision-boundary picture shows, computed without matplotlib.

The plots and the web playground draw the same ``BoundaryGrid``. Data with more than
two features is shown on a 2-D view: the plane through the data mean spanned by its
two principal axes. The boundary drawn there is the model's true boundary restricted
to that plane, not a projection of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

ProbaFn = Callable[[np.ndarray], np.ndarray]
CHUNK = 65536


@dataclass(frozen=True)
class View2D:
    """Maps feature space to the picture's 2-D plane and back.

    ``kind`` is "identity" (2 features), "pad" (1 feature: y is a dummy axis) or
    "pca" (3+ features: the plane of the top two principal axes through the mean).
    """

    kind: str
    mean: np.ndarray          # (d,)
    axes: np.ndarray          # (2, d) orthonormal rows (pca only)
    axis_labels: tuple[str, str]

    @classmethod
    def fit(cls, X: np.ndarray, feature_names: Sequence[str]) -> "View2D":
        X = np.asarray(X, dtype=np.float64)
        d = X.shape[1]
        mean = X.mean(axis=0) if len(X) else np.zeros(d)
        if d == 2:
            return cls("identity", mean, np.eye(2), (feature_names[0], feature_names[1]))
        if d == 1:
            return cls("pad", mean, np.ones((2, 1)), (feature_names[0], ""))
        _, s, vt = np.linalg.svd(X - mean, full_matrices=False)
        var = s ** 2 / max((s ** 2).sum(), 1e-12)
        return cls("pca", mean, vt[:2], (f"PC1 ({100 * var[0]:.0f}% var)",
                                         f"PC2 ({100 * var[1]:.0f}% var)"))

    def to_2d(self, X: np.ndarray) -> np.ndarray:
        """(n, d) -> (n, 2)."""
        X = np.asarray(X, dtype=np.float64)
        if self.kind == "identity":
            return X
        if self.kind == "pad":
            return np.c_[X[:, 0], np.zeros(len(X))]
        return (X - self.mean) @ self.axes.T

    def from_2d(self, P: np.ndarray) -> np.ndarray:
        """(m, 2) plane points -> (m, d) feature rows (on the plane for pca)."""
        P = np.asarray(P, dtype=np.float64)
        if self.kind == "identity":
            return P
        if self.kind == "pad":
            return P[:, :1]
        return self.mean + P @ self.axes

    @property
    def note(self) -> str:
        if self.kind == "pca":
            return "more than 2 features: shown on the plane of the two principal axes"
        return ""


@dataclass(frozen=True)
class BoundaryGrid:
    """A ``resolution x resolution`` grid of class probabilities over the 2-D view."""

    xx: np.ndarray          # (r, r) plane x
    yy: np.ndarray          # (r, r) plane y
    proba: np.ndarray       # (r, r, K)
    view: View2D

    @property
    def labels(self) -> np.ndarray:
        """(r, r) predicted class codes."""
        return self.proba.argmax(axis=-1)

    @property
    def confidence(self) -> np.ndarray:
        """(r, r) probability of the predicted class."""
        return self.proba.max(axis=-1)

    def to_json(self) -> dict:
        """Plain lists for a web client: bounds, labels and confidence row by row."""
        return {
            "x_min": float(self.xx[0, 0]), "x_max": float(self.xx[0, -1]),
            "y_min": float(self.yy[0, 0]), "y_max": float(self.yy[-1, 0]),
            "resolution": int(self.xx.shape[0]),
            "labels": self.labels.astype(int).tolist(),
            "confidence": np.round(self.confidence, 3).tolist(),
            "axis_labels": list(self.view.axis_labels),
        }


def bounds(P: np.ndarray, margin: float = 0.1) -> tuple[float, float, float, float]:
    """Box around 2-D points with a relative margin (never zero-width)."""
    lo, hi = P.min(axis=0), P.max(axis=0)
    pad = np.maximum((hi - lo) * margin, 0.5 * (hi - lo == 0) + 1e-3)
    return float(lo[0] - pad[0]), float(hi[0] + pad[0]), float(lo[1] - pad[1]), float(hi[1] + pad[1])


def decision_grid(predict_proba: ProbaFn, X: np.ndarray, feature_names: Sequence[str],
                  resolution: int = 200, margin: float = 0.1,
                  view: View2D | None = None,
                  box: tuple[float, float, float, float] | None = None) -> BoundaryGrid:
    """Evaluate ``predict_proba`` on a grid covering ``X`` (in chunks, so any size fits).

    ``predict_proba`` maps (m, d) float32 feature rows to (m, K) probabilities; it is
    only called, so the model behind it is never moved, copied or switched.
    """
    view = view or View2D.fit(X, feature_names)
    x0, x1, y0, y1 = box or bounds(view.to_2d(X), margin)
    xx, yy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    plane = np.c_[xx.ravel(), yy.ravel()]
    rows = view.from_2d(plane).astype(np.float32)
    parts = [np.asarray(predict_proba(rows[i:i + CHUNK])) for i in range(0, len(rows), CHUNK)]
    proba = np.concatenate(parts).reshape(resolution, resolution, -1)
    return BoundaryGrid(xx, yy, proba, view)
