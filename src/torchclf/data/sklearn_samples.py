"""scikit-learn's make_moons, make_circles, make_blobs and train_test_split, without it.

The lesson makes its points with these, so torchclf reproduces them bit for bit: the
same arithmetic and the same calls on a ``numpy.random.RandomState(seed)`` in the same
order (scikit-learn 1.6's ``sklearn/datasets/_samples_generator.py`` and
``model_selection/_split.py``). Importing scikit-learn costs about a second, far more
than training the lesson's network; tests/test_lesson_data.py checks these against
scikit-learn over many sizes, noises, seeds and split fractions.
"""

from __future__ import annotations

import math

import numpy as np


def _shuffled(X: np.ndarray, y: np.ndarray,
              rs: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    """``sklearn.utils.shuffle(X, y, random_state=rs)``: one in-place shuffle of indices."""
    order = np.arange(len(y))
    rs.shuffle(order)
    return X[order], y[order]


def _two_parts(outer: tuple[np.ndarray, np.ndarray], inner: tuple[np.ndarray, np.ndarray],
               noise: float, rs: np.random.RandomState,
               shuffle: bool) -> tuple[np.ndarray, np.ndarray]:
    """The outer (class 0) and inner (class 1) curves, shuffled, then noise added."""
    X = np.vstack([np.append(outer[0], inner[0]), np.append(outer[1], inner[1])]).T
    y = np.hstack([np.zeros(len(outer[0]), dtype=np.intp),
                   np.ones(len(inner[0]), dtype=np.intp)])
    if shuffle:
        X, y = _shuffled(X, y, rs)
    X += rs.normal(scale=noise, size=X.shape)
    return X, y


def make_moons(n_samples: int, noise: float, seed: int,
               shuffle: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``make_moons(n_samples, shuffle=shuffle, noise=noise, random_state=seed)``."""
    n_out = n_samples // 2
    n_in = n_samples - n_out
    rs = np.random.RandomState(seed)
    outer = (np.cos(np.linspace(0, np.pi, n_out)), np.sin(np.linspace(0, np.pi, n_out)))
    inner = (1 - np.cos(np.linspace(0, np.pi, n_in)),
             1 - np.sin(np.linspace(0, np.pi, n_in)) - 0.5)
    return _two_parts(outer, inner, noise, rs, shuffle)


def make_circles(n_samples: int, noise: float, seed: int, factor: float,
                 shuffle: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``make_circles(n_samples, shuffle=shuffle, noise=noise, random_state=seed,
    factor=factor)``."""
    n_out = n_samples // 2
    n_in = n_samples - n_out
    rs = np.random.RandomState(seed)
    angle_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    angle_in = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    outer = (np.cos(angle_out), np.sin(angle_out))
    inner = (np.cos(angle_in) * factor, np.sin(angle_in) * factor)
    return _two_parts(outer, inner, noise, rs, shuffle)


def make_blobs(n_samples: int, n_features: int, centers: int, cluster_std: float,
               center_box: tuple[float, float], seed: int,
               shuffle: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``make_blobs(n_samples, n_features, centers=centers, cluster_std=cluster_std,
    center_box=center_box, shuffle=shuffle, random_state=seed)`` with a count of
    centres: uniform in the box, then each cluster's normal draws in turn."""
    rs = np.random.RandomState(seed)
    where = rs.uniform(center_box[0], center_box[1], size=(centers, n_features))
    counts = [n_samples // centers + (1 if i < n_samples % centers else 0)
              for i in range(centers)]
    X = np.empty((n_samples, n_features), dtype=np.float64)
    y = np.empty(n_samples, dtype=int)
    start = 0
    for i, n in enumerate(counts):
        X[start:start + n] = rs.normal(loc=where[i], scale=float(cluster_std),
                                       size=(n, n_features))
        y[start:start + n] = i
        start += n
    if shuffle:
        X, y = _shuffled(X, y, rs)
    return X, y


def n_test_rows(n: int, test_size: float) -> int:
    """Rows ``train_test_split`` holds out for a fraction: ``ceil(test_size * n)``."""
    return math.ceil(test_size * n)


def train_test_split_indices(n: int, test_size: float,
                             seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``train_test_split(np.arange(n), test_size=test_size, random_state=seed)``:
    one permutation, its first ``ceil(test_size * n)`` rows held out, the rest train."""
    n_test = n_test_rows(n, test_size)
    order = np.random.RandomState(seed).permutation(n)
    return order[n_test:n], order[:n_test]
