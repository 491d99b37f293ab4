"""Many models at once: each equals the same model trained alone."""

import numpy as np
import pytest
import torch

import torchclf as tc
from torchclf.errors import UserError
from torchclf.engine import fast
from torchclf.engine.batched import ModelSpec, train_many

ENGINES = ["stacked"] + (["kernel"] if fast.load_kernel() is not None else [])


@pytest.fixture(scope="module")
def moons():
    return tc.datasets.moons(n_samples=400, noise=0.1, seed=1).split(seed=1)


SPECS = [ModelSpec((8, 8), "relu", "sgd", 0.1, seed=0),
         ModelSpec((8, 8), "relu", "sgd", 0.3, seed=1),
         ModelSpec((4,), "tanh", "sgd", 0.2, momentum=0.9, weight_decay=1e-3, seed=2),
         ModelSpec((8, 8), "relu", "adam", 0.01, seed=3),
         ModelSpec((6,), "gelu", "adamw", 0.01, weight_decay=1e-2, seed=4),
         ModelSpec((), "identity", "sgd", 0.1, seed=5)]


@pytest.mark.parametrize("engine", ENGINES)
def test_each_model_equals_training_it_alone(moons, engine):
    train, test = moons
    results, _ = train_many(SPECS, train, test, epochs=150, engine=engine)
    for r in results:
        s = r.spec
        alone = tc.MLP(2, s.hidden, 2, s.activation, seed=s.seed)
        run = tc.fit(alone, train, test, optimizer=s.optimizer, lr=s.lr, momentum=s.momentum,
                     weight_decay=s.weight_decay, epochs=150, standardize=True,
                     engine="autograd")
        tol = 1e-5 if s.optimizer == "sgd" else 1e-3  # Adam magnifies float rounding
        for p, q in zip(r.model.parameters(), alone.parameters()):
            assert (p - q).abs().max().item() < tol, s
        assert np.allclose(r.loss, run.history["loss"], atol=1e-5)
        assert r.test_accuracy == pytest.approx(run.metrics["test"]["accuracy"], abs=0.01)


def test_multiclass_batches(moons):
    train, test = tc.datasets.spirals(n_samples=300).split(seed=0)
    specs = [ModelSpec((16, 16), "relu", "adam", 0.02, seed=s) for s in range(3)]
    by_engine = {e: train_many(specs, train, test, epochs=200, engine=e)[0] for e in ENGINES}
    for results in by_engine.values():
        assert all(r.test_accuracy > 0.85 for r in results)
    accs = [[r.test_accuracy for r in res] for res in by_engine.values()]
    assert all(np.allclose(a, accs[0], atol=0.02) for a in accs)


def test_bad_batches(moons):
    train, test = moons
    with pytest.raises(UserError, match="empty"):
        train_many([], train, test, epochs=5)
    with pytest.raises(UserError, match="lr > 0"):
        train_many([ModelSpec(lr=-1.0)], train, test, epochs=5)
    with pytest.raises(UserError, match="unknown batch engine"):
        train_many(SPECS[:1], train, test, epochs=5, engine="gpu")
