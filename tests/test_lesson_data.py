"""The lesson's points and split, bit for bit: a learner can compare numbers.

Each reference below is the lesson's own code (scikit-learn's generators and
train_test_split, the CS231n spiral loop), cast to float32 as the lesson does with
``torch.from_numpy(X).type(torch.float)``; torchclf's Dataset keeps float32.
"""

import io
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from sklearn.datasets import make_blobs, make_circles, make_moons
from sklearn.model_selection import train_test_split

import torchclf as tc
from torchclf import recipes
from torchclf.cli.main import main
from torchclf.config import load
from torchclf.config.schema import DataConfig
from torchclf.data import sklearn_samples, synthetic
from torchclf.errors import UserError
from torchclf.experiment import split_data


def same(ds, X, y):
    """``ds`` holds exactly these points and labels, in this order."""
    return np.array_equal(ds.X, X.astype(np.float32)) and np.array_equal(ds.y, y)


def cs231n_spirals(seed, N, K, noise=0.2):
    """The lesson's spiral code, as written there (seed, then the loop)."""
    state = np.random.get_state()
    try:
        np.random.seed(seed)
        D = 2
        X = np.zeros((N * K, D))
        y = np.zeros(N * K, dtype='uint8')
        for j in range(K):
            ix = range(N * j, N * (j + 1))
            r = np.linspace(0.0, 1, N)
            t = np.linspace(j * 4, (j + 1) * 4, N) + np.random.randn(N) * noise
            X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
            y[ix] = j
        return X, y
    finally:
        np.random.set_state(state)


@pytest.mark.parametrize("n_samples,noise,seed", [(1000, 0.03, 42), (256, 0.1, 42),
                                                  (301, 0.0, 7)])
def test_moons_are_make_moons(n_samples, noise, seed):
    X, y = make_moons(n_samples=n_samples, noise=noise, random_state=seed)
    assert same(tc.datasets.moons(n_samples=n_samples, noise=noise, seed=seed), X, y)


@pytest.mark.parametrize("n_samples,noise,seed,factor", [(1000, 0.03, 42, 0.8),
                                                         (501, 0.1, 3, 0.5)])
def test_circles_are_make_circles(n_samples, noise, seed, factor):
    X, y = make_circles(n_samples, noise=noise, random_state=seed, factor=factor)
    got = tc.datasets.circles(n_samples=n_samples, noise=noise, seed=seed, factor=factor)
    assert same(got, X, y)


@pytest.mark.parametrize("n_samples,n_classes,n_features,noise,seed", [
    (1000, 4, 2, 1.5, 42), (333, 5, 3, 0.5, 0)])
def test_blobs_are_make_blobs(n_samples, n_classes, n_features, noise, seed):
    X, y = make_blobs(n_samples=n_samples, n_features=n_features, centers=n_classes,
                      cluster_std=noise, random_state=seed)
    got = tc.datasets.blobs(n_samples=n_samples, n_classes=n_classes, n_features=n_features,
                            noise=noise, seed=seed)
    assert same(got, X, y)


@pytest.mark.parametrize("N,K,seed", [(100, 3, 42), (50, 5, 0)])
def test_spirals_are_the_cs231n_code(N, K, seed):
    X, y = cs231n_spirals(seed, N, K)
    state = np.random.get_state()[1].copy()
    got = tc.datasets.spirals(n_samples=N * K, n_classes=K, noise=0.2, seed=seed)
    assert same(got, X, y)
    assert np.array_equal(np.random.get_state()[1], state)  # the global stream is untouched


def test_the_lesson_split_is_train_test_split():
    X, y = make_moons(n_samples=1000, noise=0.03, random_state=42)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
    train, test = tc.datasets.moons(n_samples=1000, noise=0.03, seed=42).split(
        test_size=0.2, seed=42, stratify=False)
    assert same(train, X_train, y_train) and same(test, X_test, y_test)


# torchclf makes these points without importing scikit-learn (a second of start-up):
# these catch any drift from scikit-learn's own functions, over many draws.
DRAWS = settings(max_examples=60, deadline=None)
SEEDS = st.integers(0, 2**32 - 1)
NOISE = st.one_of(st.just(0.0), st.floats(0, 3, allow_nan=False))


def identical(got, want):
    """Same arrays, same dtypes (so the float32 cast and label codes agree too)."""
    return all(np.array_equal(g, w) and g.dtype == w.dtype for g, w in zip(got, want))


@DRAWS
@given(st.integers(1, 1500), NOISE, SEEDS, st.booleans())
def test_moons_match_scikit_learn_for_any_draw(n_samples, noise, seed, shuffle):
    assert identical(sklearn_samples.make_moons(n_samples, noise, seed, shuffle=shuffle),
                     make_moons(n_samples, shuffle=shuffle, noise=noise, random_state=seed))


@DRAWS
@given(st.integers(1, 1500), NOISE, SEEDS, st.floats(0.01, 0.99), st.booleans())
def test_circles_match_scikit_learn_for_any_draw(n_samples, noise, seed, factor, shuffle):
    got = sklearn_samples.make_circles(n_samples, noise, seed, factor, shuffle=shuffle)
    assert identical(got, make_circles(n_samples, shuffle=shuffle, noise=noise,
                                       random_state=seed, factor=factor))


@DRAWS
@given(st.integers(1, 1500), st.integers(1, 6), st.integers(1, 12),
       st.floats(0, 5, allow_nan=False), st.floats(0.5, 100), SEEDS, st.booleans())
def test_blobs_match_scikit_learn_for_any_draw(n_samples, n_features, centers, std, box,
                                               seed, shuffle):
    got = sklearn_samples.make_blobs(n_samples, n_features, centers, std, (-box, box), seed,
                                     shuffle=shuffle)
    assert identical(got, make_blobs(n_samples, n_features, centers=centers, cluster_std=std,
                                     center_box=(-box, box), shuffle=shuffle,
                                     random_state=seed))


@DRAWS
@given(st.integers(2, 3000), st.floats(0.001, 0.999), SEEDS)
def test_the_split_matches_train_test_split_for_any_draw(n, test_size, seed):
    if sklearn_samples.n_test_rows(n, test_size) >= n:  # no training rows: torchclf refuses
        with pytest.raises(ValueError):
            train_test_split(np.arange(n), test_size=test_size, random_state=seed)
        return
    want = train_test_split(np.arange(n), test_size=test_size, random_state=seed)
    assert identical(sklearn_samples.train_test_split_indices(n, test_size, seed), want)


@DRAWS
@given(st.sampled_from(["moons", "circles", "blobs"]), st.integers(4, 600), SEEDS)
def test_public_generators_and_split_match_scikit_learn(name, n_samples, seed):
    X, y = {"moons": lambda: make_moons(n_samples, noise=0.1, random_state=seed),
            "circles": lambda: make_circles(n_samples, noise=0.1, random_state=seed),
            "blobs": lambda: make_blobs(n_samples, 2, centers=4, cluster_std=0.1,
                                        random_state=seed)}[name]()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25,
                                                        random_state=seed)
    train, test = synthetic.make(name, n_samples=n_samples, noise=0.1, seed=seed).split(
        test_size=0.25, seed=seed, stratify=False)
    assert same(train, X_train, y_train) and same(test, X_test, y_test)


def test_the_lesson_split_rounds_the_test_rows_up_as_scikit_learn_does():
    ds = tc.datasets.moons(n_samples=11)
    train, test = ds.split(test_size=0.25, seed=0, stratify=False)
    assert (len(train), len(test)) == (8, 3)
    with pytest.raises(UserError, match="holding out 0.6 of 2 rows leaves no training rows"):
        tc.datasets.moons(n_samples=2).split(test_size=0.6, stratify=False)


def lesson_circles():
    return make_circles(1000, noise=0.03, random_state=42)


LESSON = {  # recipe -> the lesson's data, as its notebook makes it
    "moons": lambda: make_moons(n_samples=1000, noise=0.03, random_state=42),
    "moons-naive": lambda: make_moons(256, noise=0.1, random_state=42),  # the lesson: no seed
    "circles-linear": lesson_circles, "circles-linear-3layer": lesson_circles,
    "circles-relu": lesson_circles,
    "circles-tanh": lesson_circles,
    "blobs": lambda: make_blobs(n_samples=1000, n_features=2, centers=4, cluster_std=1.5,
                                random_state=42),
    "spirals": lambda: cs231n_spirals(42, 100, 3),
}


def test_every_recipe_is_a_lesson_recipe():
    """A new recipe says here which of the lesson's datasets it reproduces."""
    assert sorted(LESSON) == recipes.names()


@pytest.mark.parametrize("name", sorted(LESSON))
def test_lesson_recipes_train_and_test_on_the_lessons_rows(name):
    X, y = LESSON[name]()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
    train, test = split_data(recipes.load(name))
    assert same(train, X_train, y_train) and same(test, X_test, y_test)


def test_the_split_setting_is_checked_by_the_schema():
    assert DataConfig(split="lesson").stratify is False and DataConfig().stratify is True
    with pytest.raises(UserError, match="unknown split 'random'"):
        DataConfig(split="random")
    with pytest.raises(UserError, match=r"expected split_seed >= 0 and <= 2\*\*32-1"):
        DataConfig(split="lesson", split_seed=2**40)
    with pytest.raises(UserError, match=r"expected seed >= 0 and <= 2\*\*32-1"):
        synthetic.moons(seed=2**32)


def test_a_notebook_fit_records_the_lesson_split():
    train, test = tc.datasets.moons(n_samples=200).split(stratify=False)
    run = tc.fit(tc.MLP(2, (4,), 2, seed=0), train, test, epochs=2, log_every=1)
    assert run.config["data"]["split"] == "lesson"


@pytest.mark.parametrize("argv,needle", [
    (["--split", "random"], "unknown split 'random'"),
    (["--split", "lesson", "--split-seed", str(2**32)], "expected split_seed >= 0 and <= 2**32-1"),
    (["--param", f"seed={2**32}"], "expected seed >= 0 and <= 2**32-1"),
    (["--n-samples", "2", "--split", "lesson", "--test-size", "0.6"],
     "holding out 0.6 of 2 rows leaves no training rows"),
])
def test_cli_refuses_a_bad_split_or_seed_in_one_line(tmp_path, argv, needle):
    proc = subprocess.run([sys.executable, "-m", "torchclf", "train", "moons", *argv],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert os.listdir(tmp_path) == []


def test_cli_split_lesson_is_recorded_and_reproduces_the_lessons_rows(tmp_path):
    out, err = io.StringIO(), io.StringIO()
    argv = ["train", "moons", "--split", "lesson", "--epochs", "1", "--no-plots", "--quiet",
            "--out", str(tmp_path / "run")]
    assert main(argv, out=out, err=err) == 0, err.getvalue()
    config = load(tmp_path / "run" / "config.toml")
    assert config.data.split == "lesson"
    X, y = make_moons(n_samples=1000, noise=0.03, random_state=42)
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.2, random_state=42)
    assert same(split_data(config)[0], X_train, y_train)
