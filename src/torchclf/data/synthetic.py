"""Seeded toy datasets from the lesson and from TensorFlow Playground.

Every generator has one signature shape, ``f(n_samples, noise, seed, **extra) -> Dataset``,
and is registered by name in ``GENERATORS`` so the CLI, configs, the playground and the
docs all list the same choices. They use NumPy's ``default_rng(seed)`` only: the same
arguments give the same points on every machine, with no global random state touched.
"""

from __future__ import annotations

import inspect
from typing import Callable

import numpy as np

from torchclf.data.dataset import Dataset
from torchclf.errors import UserError
from torchclf.spec import DEFAULT_SEED, SEED, Spec

GENERATORS: dict[str, Callable[..., Dataset]] = {}

MAX_SAMPLES = 10_000_000      # points a generator may make

# The generators' parameters and their bounds; each generator's signature holds its
# own defaults (moons and spirals want different noise), the config schema reuses these.
GENERATOR_PARAMS = {
    "n_samples": Spec(int, "points to generate", lo=2, hi=MAX_SAMPLES),
    "noise": Spec(float, "noise of the generator", lo=0, hi=1000),
    "seed": SEED,
    "n_classes": Spec(int, "classes to generate", lo=2, hi=1000),
    "n_features": Spec(int, "features to generate", lo=1, hi=10_000),
    "factor": Spec(float, "inner radius / outer radius", lo=0, hi=1, lo_open=True,
                   hi_open=True),
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


def _finish(X: np.ndarray, y: np.ndarray, n_classes: int, name: str, rng: np.random.Generator,
            params: dict) -> Dataset:
    order = rng.permutation(len(y))
    names = tuple(f"x{i + 1}" for i in range(X.shape[1]))
    return Dataset(X[order], y[order], tuple(range(n_classes)), names, name,
                   {"source": name, "params": params})


def _split_counts(n: int, k: int) -> list[int]:
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


@_register
def circles(n_samples: int = 1000, noise: float = 0.03, seed: int = DEFAULT_SEED,
            factor: float = 0.8) -> Dataset:
    """Two concentric rings (outer = class 0, inner = class 1): not linearly separable."""
    _check(n_samples=n_samples, noise=noise, seed=seed, factor=factor)
    rng = np.random.default_rng(seed)
    n_out, n_in = _split_counts(n_samples, 2)
    t_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    t_in = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    X = np.concatenate([np.c_[np.cos(t_out), np.sin(t_out)],
                        factor * np.c_[np.cos(t_in), np.sin(t_in)]])
    X += rng.normal(scale=noise, size=X.shape)
    y = np.r_[np.zeros(n_out), np.ones(n_in)]
    return _finish(X, y, 2, "circles", rng, dict(n_samples=n_samples, noise=noise, seed=seed,
                                                   factor=factor))


@_register
def moons(n_samples: int = 1000, noise: float = 0.03, seed: int = DEFAULT_SEED) -> Dataset:
    """Two interleaving half circles."""
    _check(n_samples=n_samples, noise=noise, seed=seed)
    rng = np.random.default_rng(seed)
    n_out, n_in = _split_counts(n_samples, 2)
    t_out = np.linspace(0, np.pi, n_out)
    t_in = np.linspace(0, np.pi, n_in)
    X = np.concatenate([np.c_[np.cos(t_out), np.sin(t_out)],
                        np.c_[1 - np.cos(t_in), 1 - np.sin(t_in) - 0.5]])
    X += rng.normal(scale=noise, size=X.shape)
    y = np.r_[np.zeros(n_out), np.ones(n_in)]
    return _finish(X, y, 2, "moons", rng, dict(n_samples=n_samples, noise=noise, seed=seed))


@_register
def blobs(n_samples: int = 1000, noise: float = 1.5, seed: int = DEFAULT_SEED,
          n_classes: int = 4, n_features: int = 2, center_box: float = 10.0) -> Dataset:
    """Isotropic Gaussian clusters; ``noise`` is each cluster's standard deviation.

    Centres are uniform in the box, best of 20 draws by smallest pairwise distance, so
    the default clusters are separated as in the lesson rather than by luck of the seed.
    """
    _check(n_samples=n_samples, noise=noise, seed=seed, n_classes=n_classes,
           n_features=n_features)
    _fewer_classes_than_samples(n_classes, n_samples)
    rng = np.random.default_rng(seed)
    draws = rng.uniform(-center_box, center_box, size=(20, n_classes, n_features))
    gaps = np.linalg.norm(draws[:, :, None] - draws[:, None], axis=-1)
    gaps[:, np.arange(n_classes), np.arange(n_classes)] = np.inf
    centers = draws[np.argmax(gaps.min(axis=(1, 2)))]
    counts = _split_counts(n_samples, n_classes)
    X = np.concatenate([c + rng.normal(scale=noise, size=(m, n_features))
                        for c, m in zip(centers, counts)])
    y = np.repeat(np.arange(n_classes), counts)
    return _finish(X, y, n_classes, "blobs", rng,
                   dict(n_samples=n_samples, noise=noise, seed=seed, n_classes=n_classes,
                        n_features=n_features, center_box=center_box))


@_register
def spirals(n_samples: int = 300, noise: float = 0.2, seed: int = DEFAULT_SEED,
            n_classes: int = 3) -> Dataset:
    """CS231n spirals: ``n_classes`` arms, radius 0..1, angle jittered by ``noise``."""
    _check(n_samples=n_samples, noise=noise, seed=seed, n_classes=n_classes)
    _fewer_classes_than_samples(n_classes, n_samples)
    rng = np.random.default_rng(seed)
    parts, labels = [], []
    for j, m in enumerate(_split_counts(n_samples, n_classes)):
        r = np.linspace(0.0, 1.0, m)
        t = np.linspace(j * 4, (j + 1) * 4, m) + rng.normal(size=m) * noise
        parts.append(np.c_[r * np.sin(t), r * np.cos(t)])
        labels.append(np.full(m, j))
    return _finish(np.concatenate(parts), np.concatenate(labels), n_classes, "spirals", rng,
                   dict(n_samples=n_samples, noise=noise, seed=seed, n_classes=n_classes))


@_register
def xor(n_samples: int = 400, noise: float = 0.0, seed: int = DEFAULT_SEED) -> Dataset:
    """TensorFlow Playground's XOR: class 1 where x1 * x2 > 0; points kept off the axes."""
    _check(n_samples=n_samples, noise=noise, seed=seed)
    rng = np.random.default_rng(seed)
    X = rng.uniform(-5, 5, size=(n_samples, 2))
    X += np.where(X > 0, 0.3, -0.3)  # a margin around the axes, as in the playground
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    X += rng.normal(scale=noise * 5, size=X.shape)
    return _finish(X, y, 2, "xor", rng, dict(n_samples=n_samples, noise=noise, seed=seed))


@_register
def gauss(n_samples: int = 400, noise: float = 0.5, seed: int = DEFAULT_SEED) -> Dataset:
    """TensorFlow Playground's two Gaussians centred at (2, 2) and (-2, -2)."""
    _check(n_samples=n_samples, noise=noise, seed=seed)
    rng = np.random.default_rng(seed)
    n_a, n_b = _split_counts(n_samples, 2)
    scale = 0.5 + 3.5 * noise  # noise 0..1 spans the playground's range of overlap
    X = np.concatenate([rng.normal((2, 2), scale, size=(n_a, 2)),
                        rng.normal((-2, -2), scale, size=(n_b, 2))])
    y = np.r_[np.ones(n_a), np.zeros(n_b)]
    return _finish(X, y, 2, "gauss", rng, dict(n_samples=n_samples, noise=noise, seed=seed))


def parameters(name: str) -> dict[str, object]:
    """The generator's parameters and their defaults, for listings and validation."""
    fn = get(name)
    return {p.name: p.default for p in inspect.signature(fn).parameters.values()}


def get(name: str) -> Callable[..., Dataset]:
    """The generator called ``name``, or a UserError suggesting the closest one."""
    try:
        return GENERATORS[name]
    except KeyError:
        from torchclf.registry import unknown_name
        raise unknown_name("dataset", name, GENERATORS) from None


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
