"""Built-in generators, the stratified split and the Standardizer (the lesson's points
and split: test_lesson_data)."""

import numpy as np
import pytest

from torchclf.data import synthetic
from torchclf.data.dataset import Standardizer, from_arrays
from torchclf.errors import UserError


@pytest.mark.parametrize("name", sorted(synthetic.GENERATORS))
def test_generator_shapes_determinism_and_balance(name):
    a = synthetic.make(name, n_samples=300, seed=7)
    b = synthetic.make(name, n_samples=300, seed=7)
    c = synthetic.make(name, n_samples=300, seed=8)
    assert a.X.shape[0] == len(a.y) == 300
    assert a.X.dtype == np.float32 and a.y.dtype == np.int64
    assert np.array_equal(a.X, b.X) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.X, c.X)
    counts = np.bincount(a.y, minlength=a.n_classes)
    if name != "xor":  # xor's classes follow the random quadrants
        assert counts.max() - counts.min() <= 1
    else:
        assert counts.min() > 100
    assert len(a.feature_names) == a.n_features


def test_generator_options():
    ds = synthetic.make("blobs", n_samples=500, n_classes=5, n_features=3)
    assert ds.X.shape == (500, 3) and ds.n_classes == 5
    sp = synthetic.make("spirals", n_samples=400, n_classes=4)
    assert sp.n_classes == 4 and np.bincount(sp.y).tolist() == [100] * 4


def test_cs231n_spiral_geometry():
    sp = synthetic.spirals(n_samples=300, noise=0.0, n_classes=3)
    radius = np.linalg.norm(sp.X, axis=1)
    assert radius.min() == pytest.approx(0.0, abs=1e-6)
    assert radius.max() == pytest.approx(1.0, abs=1e-6)


def test_circles_rings_have_expected_radii():
    ds = synthetic.circles(n_samples=1000, noise=0.0)
    r = np.linalg.norm(ds.X, axis=1)
    assert np.allclose(r[ds.y == 0], 1.0, atol=1e-5)
    assert np.allclose(r[ds.y == 1], 0.8, atol=1e-5)


@pytest.mark.parametrize("name,params,match", [
    ("moonz", {}, "did you mean 'moons'"),
    ("moons", {"n_samples": 1}, "n_samples"),
    ("moons", {"noise": -1}, "noise"),
    ("moons", {"colour": 3}, "unknown parameter"),
    ("blobs", {"n_classes": 1}, "n_classes"),
    ("moons", {"n_samples": "many"}, "expected int"),
    ("moons", {"seed": 2**32}, r"seed >= 0 and <= 2\*\*32-1"),  # scikit-learn's random_state
    ("blobs", {"center_box": 0}, "center_box > 0"),
])
def test_generator_errors(name, params, match):
    with pytest.raises(UserError, match=match):
        synthetic.make(name, **params)


def test_split_is_stratified_disjoint_and_complete():
    ds = synthetic.blobs(n_samples=1000, n_classes=4)
    train, test = ds.split(test_size=0.2, seed=1)
    assert len(train) == 800 and len(test) == 200
    assert np.bincount(test.y).tolist() == [50] * 4
    rows = {tuple(r) for r in train.X} | {tuple(r) for r in test.X}
    assert len(rows) == 1000
    again, _ = ds.split(test_size=0.2, seed=1)
    assert np.array_equal(again.X, train.X)


def test_split_keeps_small_classes_on_both_sides():
    ds = from_arrays(np.arange(22, dtype=float).reshape(-1, 1), ["a"] * 20 + ["b"] * 2)
    train, test = ds.split(test_size=0.2, seed=0)
    assert set(train.y) == {0, 1} and set(test.y) == {0, 1}


def test_split_rejects_bad_sizes():
    ds = synthetic.moons(n_samples=100)
    with pytest.raises(UserError, match="test_size"):
        ds.split(test_size=1.5)


def test_standardizer_fits_train_only_and_round_trips():
    rng = np.random.default_rng(0)
    X = rng.normal(5, 3, size=(200, 3)).astype(np.float32)
    X[:, 2] = 7.0  # a constant column passes through instead of dividing by zero
    s = Standardizer().fit(X)
    Z = s.transform(X)
    assert np.allclose(Z[:, :2].mean(0), 0, atol=1e-5) and np.allclose(Z[:, :2].std(0), 1, atol=1e-4)
    assert np.allclose(Z[:, 2], 0)
    assert np.allclose(s.inverse_transform(Z), X, atol=1e-4)
    s2 = Standardizer.from_dict(s.to_dict())
    assert np.array_equal(s2.transform(X), Z)


def test_from_arrays_keeps_label_types():
    ds = from_arrays([[0.0], [1.0], [2.0]], ["cat", "dog", "cat"])
    assert ds.classes == ("cat", "dog")
    assert ds.decode(ds.y).tolist() == ["cat", "dog", "cat"]
    b = from_arrays([[0.0], [1.0]], [True, False])
    assert b.classes == (False, True) and isinstance(b.classes[0], bool)
