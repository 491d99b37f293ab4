"""Property tests: invariants that must hold for any data, not just the examples."""

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

import torchclf as tc
from torchclf.data.dataset import Standardizer, split_indices
from torchclf.run import Predictor

FAST = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(st.lists(st.integers(0, 4), min_size=2, max_size=300), st.floats(0.05, 0.5),
       st.integers(0, 2**31 - 1))
def test_split_is_disjoint_complete_and_stratified(labels, test_size, seed):
    y = np.array(labels)
    if len(y) < 2:
        return
    try:
        train, test = split_indices(y, test_size, seed)
    except tc.UserError as e:  # only when no class can spare a row for the test side
        assert "test split is empty" in str(e)
        assert np.bincount(y).max() < 2  # every class has a single row
        return
    assert len(np.intersect1d(train, test)) == 0
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(len(y)))
    for c in np.unique(y):
        count = int(np.sum(y == c))
        in_test = int(np.sum(y[test] == c))
        if count >= 2:
            assert 1 <= in_test <= count - 1
            assert abs(in_test - test_size * count) <= 1
        else:
            assert in_test == 0


@FAST
@given(st.integers(2, 300), st.floats(0.01, 0.99), st.integers(0, 2**32 - 1))
def test_the_lesson_split_is_train_test_split_or_a_user_error(n, test_size, seed):
    from sklearn.model_selection import train_test_split
    try:
        train, test = split_indices(np.zeros(n), test_size, seed, stratify=False)
    except tc.UserError as e:  # never scikit-learn's ValueError
        assert "leaves no training rows" in str(e)
        return
    want_train, want_test = train_test_split(np.arange(n), test_size=test_size,
                                             random_state=seed)
    assert np.array_equal(train, want_train) and np.array_equal(test, want_test)
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(n))


@FAST
@given(st.integers(1, 50), st.integers(1, 6), st.integers(0, 10_000),
       st.floats(1e-3, 1e3))
def test_standardizer_round_trips(n, d, seed, scale):
    X = np.random.default_rng(seed).normal(0, scale, size=(n, d)).astype(np.float32)
    s = Standardizer().fit(X)
    assert np.allclose(s.inverse_transform(s.transform(X)), X, rtol=1e-4, atol=1e-4 * scale)


@FAST
@given(st.integers(2, 6), st.integers(1, 5), st.integers(0, 10_000))
def test_probabilities_sum_to_one_and_match_labels(k, d, seed):
    model = tc.MLP(d, (7,), k, seed=seed)
    X = np.random.default_rng(seed).normal(0, 3, size=(64, d)).astype(np.float32)
    predictor = Predictor(model, model.task, tuple(range(k)), tuple(f"f{i}" for i in range(d)))
    proba = predictor.predict_proba(X)
    assert proba.shape == (64, k)
    assert np.allclose(proba.sum(1), 1, atol=1e-5) and (proba >= 0).all()
    assert np.array_equal(predictor.predict_codes(X), proba.argmax(1))


@FAST
@given(st.integers(1, 700), st.integers(0, 10_000))
def test_predictions_do_not_depend_on_batch_size(chunk, seed):
    import torchclf.run as run_module
    model = tc.MLP(3, (16, 16), 3, seed=seed)
    X = np.random.default_rng(seed).normal(size=(700, 3)).astype(np.float32)
    predictor = Predictor(model, model.task, (0, 1, 2), ("a", "b", "c"))
    whole = predictor.predict_proba(X)
    old = run_module.PREDICT_CHUNK
    run_module.PREDICT_CHUNK = chunk
    try:
        chunked = predictor.predict_proba(X)
    finally:
        run_module.PREDICT_CHUNK = old
    assert np.allclose(whole, chunked, atol=1e-6)


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 1000))
def test_same_seed_same_weights(seed):
    ds = tc.datasets.moons(n_samples=120, noise=0.1, seed=seed)
    train, test = ds.split(seed=seed)
    runs = [tc.fit(tc.MLP(2, (8,), seed=seed), train, test, optimizer="adam", lr=0.01,
                   epochs=20, batch_size=16, seed=seed) for _ in range(2)]
    for p, q in zip(runs[0].model.parameters(), runs[1].model.parameters()):
        assert torch.equal(p, q)
