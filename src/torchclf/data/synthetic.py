"""Seeded toy datasets from the lesson and from TensorFlow Playground.

Every generator has one signature shape, ``f(n_samples, noise, seed, **extra) -> Dataset``,
and is registered by name in ``GENERATORS`` so the CLI, configs, the playground and the
docs all list the same choices. No global random state is touched.

The lesson's datasets are the lesson's points, bit for bit, so a learner can compare
numbers: ``moons``, ``circles`` and ``blobs`` call scikit-learn's ``make_moons``,
``make_circles`` and ``make_blobs`` with ``random_state=seed`` (``noise`` is blobs'
``cluster_std``, ``n_classes`` its ``centers``), and ``spirals`` is the CS231n code run
after ``np.random.seed(seed)``. ``xor`` and ``gauss`` are torchclf's own, after
TensorFlow Playground, seeded with NumPy's ``default_rng(seed)``.
"""

from __future__ import annotations

import inspect
from typing import Callable

import numpy as np

from torchclf.data import bundled, sklearn_samples
from torchclf.data.dataset import Dataset
from torchclf.errors import UserError
from torchclf.spec import DEFAULT_SEED, RANDOM_STATE, Spec

GENERATORS: dict[str, Callable[..., Dataset]] = {}

MAX_SAMPLES = 10_000_000      # points a generator may make

# The generators' parameters and their bounds; each generator's signature holds its
# own defaults (moons and spirals want different noise), the config schema reuses these.
# The seed is scikit-learn's random_state, so NumPy's legacy range (0 .. 2**32-1).
GENERATOR_PARAMS = {
    "n_samples": Spec(int, "points to generate", lo=2, hi=MAX_SAMPLES),
    "noise": Spec(float, "noise of the generator", lo=0, hi=1000),
    "seed": RANDOM_STATE,
    "n_classes": Spec(int, "classes to generate", lo=2, hi=1000),
    "n_features": Spec(int, "features to generate", lo=1, hi=10_000),
    "factor": Spec(float, "inner radius / outer radius", lo=0, hi=1, lo_open=True,
                   hi_open=True),
    "center_box": Spec(float, "blob centres are uniform in [-center_box, center_box]",
                       lo=0, hi=1e9, lo_open=True),
}


def _register(fn: Callable[..., Dataset]) -> Callable[..., Dataset]:
    GENERATORS[fn.__name__] = fn
    return fn


def _check(**params: object) -> None:
    for name, value in params.items():
        GENERATOR_PARAMS[name].check(name, value)


def _fewer_classes_than_samples(n_classes: int, n_samples: int) -> None:
    if n_classes > n_samples:
        raise UserError(f"expected n_classes <= n_samples, got {n_classes} classes for "
                        f"{n_samples} samples")


def _finish(X: np.ndarray, y: np.ndarray, n_classes: int, name: str, params: dict,
            rng: np.random.Generator | None = None) -> Dataset:
    """The points as a Dataset; shuffled by ``rng`` if given, else in the order made."""
    order = rng.permutation(len(y)) if rng is not None else slice(None)
    names = tuple(f"x{i + 1}" for i in range(X.shape[1]))
    return Dataset(X[order], y[order], tuple(range(n_classes)), names, name,
                   {"source": name, "params": params})


def _split_counts(n: int, k: int) -> list[int]:
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


@_register
def circles(n_samples: int = 1000, noise: float = 0.03, seed: int = DEFAULT_SEED,
            factor: float = 0.8) -> Dataset:
    """scikit-learn's make_circles: two rings (outer = class 0, inner = class 1).

    ``make_circles(n_samples, noise=noise, random_state=seed, factor=factor)``, point
    for point, in its (shuffled) order: not linearly separable.
    """
    _check(n_samples=n_samples, noise=noise, seed=seed, factor=factor)
    X, y = sklearn_samples.make_circles(n_samples, noise, seed, factor)
    return _finish(X, y, 2, "circles", dict(n_samples=n_samples, noise=noise, seed=seed,
                                            factor=factor))


@_register
def moons(n_samples: int = 1000, noise: float = 0.03, seed: int = DEFAULT_SEED) -> Dataset:
    """scikit-learn's make_moons: two interleaving half circles.

    ``make_moons(n_samples, noise=noise, random_state=seed)``, point for point, in its
    (shuffled) order.
    """
    _check(n_samples=n_samples, noise=noise, seed=seed)
    X, y = sklearn_samples.make_moons(n_samples, noise, seed)
    return _finish(X, y, 2, "moons", dict(n_samples=n_samples, noise=noise, seed=seed))


@_register
def blobs(n_samples: int = 1000, noise: float = 1.5, seed: int = DEFAULT_SEED,
          n_classes: int = 4, n_features: int = 2, center_box: float = 10.0) -> Dataset:
    """scikit-learn's make_blobs: Gaussian clusters, ``noise`` their standard deviation.

    ``make_blobs(n_samples, n_features, centers=n_classes, cluster_std=noise,
    center_box=(-center_box, center_box), random_state=seed)``, point for point, in its
    (shuffled) order: centres are uniform in the box, so some seeds put two clusters
    close together.
    """
    _check(n_samples=n_samples, noise=noise, seed=seed, n_classes=n_classes,
           n_features=n_features, center_box=center_box)
    _fewer_classes_than_samples(n_classes, n_samples)
    X, y = sklearn_samples.make_blobs(n_samples, n_features, n_classes, noise,
                                      (-center_box, center_box), seed)
    return _finish(X, y, n_classes, "blobs",
                   dict(n_samples=n_samples, noise=noise, seed=seed, n_classes=n_classes,
                        n_features=n_features, center_box=center_box))


@_register
def spirals(n_samples: int = 300, noise: float = 0.2, seed: int = DEFAULT_SEED,
            n_classes: int = 3) -> Dataset:
    """The CS231n spirals: ``n_classes`` arms, radius 0..1, angle jittered by ``noise``.

    The CS231n code after ``np.random.seed(seed)`` (K = ``n_classes`` arms of
    N = ``n_samples / K`` points, arm after arm, not shuffled); when K does not divide
    ``n_samples`` the first arms get one point more. The global state is not touched.
    """
    _check(n_samples=n_samples, noise=noise, seed=seed, n_classes=n_classes)
    _fewer_classes_than_samples(n_classes, n_samples)
    rs = np.random.RandomState(seed)  # the stream np.random.seed(seed) starts
    parts, labels = [], []
    for j, m in enumerate(_split_counts(n_samples, n_classes)):
        r = np.linspace(0.0, 1, m)
        t = np.linspace(j * 4, (j + 1) * 4, m) + rs.randn(m) * noise
        parts.append(np.c_[r * np.sin(t), r * np.cos(t)])
        labels.append(np.full(m, j))
    return _finish(np.concatenate(parts), np.concatenate(labels), n_classes, "spirals",
                   dict(n_samples=n_samples, noise=noise, seed=seed, n_classes=n_classes))


@_register
def xor(n_samples: int = 400, noise: float = 0.0, seed: int = DEFAULT_SEED) -> Dataset:
    """torchclf's own, after TensorFlow Playground's XOR: class 1 where x1 * x2 > 0.

    Points are kept off the axes, as in the playground; seeded with ``default_rng(seed)``
    (the lesson has no XOR to match).
    """
    _check(n_samples=n_samples, noise=noise, seed=seed)
    rng = np.random.default_rng(seed)
    X = rng.uniform(-5, 5, size=(n_samples, 2))
    X += np.where(X > 0, 0.3, -0.3)  # a margin around the axes, as in the playground
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    X += rng.normal(scale=noise * 5, size=X.shape)
    return _finish(X, y, 2, "xor", dict(n_samples=n_samples, noise=noise, seed=seed), rng)


@_register
def gauss(n_samples: int = 400, noise: float = 0.5, seed: int = DEFAULT_SEED) -> Dataset:
    """torchclf's own, after TensorFlow Playground's two Gaussians at (2, 2), (-2, -2).

    Seeded with ``default_rng(seed)`` (the lesson has no such data to match).
    """
    _check(n_samples=n_samples, noise=noise, seed=seed)
    rng = np.random.default_rng(seed)
    n_a, n_b = _split_counts(n_samples, 2)
    scale = 0.5 + 3.5 * noise  # noise 0..1 spans the playground's range of overlap
    X = np.concatenate([rng.normal((2, 2), scale, size=(n_a, 2)),
                        rng.normal((-2, -2), scale, size=(n_b, 2))])
    y = np.r_[np.ones(n_a), np.zeros(n_b)]
    return _finish(X, y, 2, "gauss", dict(n_samples=n_samples, noise=noise, seed=seed),
                   rng)


def parameters(name: str) -> dict[str, object]:
    """The generator's parameters and their defaults, for listings and validation."""
    fn = get(name)
    return {p.name: p.default for p in inspect.signature(fn).parameters.values()}


def get(name: str) -> Callable[..., Dataset]:
    """The generator called ``name``, or a UserError suggesting the closest dataset."""
    try:
        return GENERATORS[name]
    except KeyError:
        from torchclf.registry import unknown_name
        if name in bundled.TABLES:
            raise UserError(f"{name} is a bundled table, not a generator: "
                            f"use torchclf.datasets.load({name!r})") from None
        raise unknown_name("dataset", name, [*GENERATORS, *bundled.TABLES]) from None


def is_builtin(name: str) -> bool:
    """A generator's or a bundled table's name (these win over a file of that name)."""
    return name in GENERATORS or name in bundled.TABLES


def load(name: str, **params: object) -> Dataset:
    """Any built-in dataset by name: a generator made with ``params``, else a table
    shipped with scikit-learn (``iris``, ``wine``, ``breast_cancer``, ``digits``)."""
    if name in bundled.TABLES:
        return bundled.load(name, **params)
    return make(name, **params)


def make(name: str, **params: object) -> Dataset:
    """Build a built-in dataset by name, rejecting parameters it does not take."""
    known = parameters(name)
    for key in params:
        if key not in known:
            from torchclf.registry import unknown_name
            raise unknown_name(f"parameter of dataset {name!r}", key, known)
    typed = {}
    for key, value in params.items():
        kind = type(known[key])
        try:
            typed[key] = kind(value) if kind is not int else int(str(value))
        except (TypeError, ValueError):
            raise UserError(f"expected {kind.__name__} for {name} {key}, got {value!r}") from None
    return get(name)(**typed)
