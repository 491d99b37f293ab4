"""Many models at once: each equals the same model trained alone."""

import functools
import numpy as np
import pytest
import torch

import torchclf as tc
from torchclf.errors import UserError
from torchclf.engine.batched import ModelSpec, train_many
from helpers import engines, kernel_only

ENGINES = engines("stacked", "kernel")


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


MULTICLASS_SPECS = [ModelSpec((16, 16), "relu", "adam", 0.02, seed=s) for s in range(3)]


@functools.cache
def multiclass_accuracies(engine):
    train, test = tc.datasets.spirals(n_samples=300).split(seed=0)
    results, _ = train_many(MULTICLASS_SPECS, train, test, epochs=200, engine=engine)
    return [r.test_accuracy for r in results]


@pytest.mark.parametrize("engine", ENGINES)
def test_multiclass_batches(engine):
    assert all(acc > 0.85 for acc in multiclass_accuracies(engine))


@kernel_only
def test_multiclass_batches_agree_across_engines():
    assert np.allclose(multiclass_accuracies("stacked"), multiclass_accuracies("kernel"),
                       atol=0.02)


def test_bad_batches(moons):
    train, test = moons
    with pytest.raises(UserError, match="empty"):
        train_many([], train, test, epochs=5)
    with pytest.raises(UserError, match="lr > 0"):
        train_many([ModelSpec(lr=-1.0)], train, test, epochs=5)
    with pytest.raises(UserError, match="unknown batch engine"):
        train_many(SPECS[:1], train, test, epochs=5, engine="gpu")


# ---- the kernel's lanes: eight models to a vector, each as if trained alone ----------

def assert_each_trained_alone(results, train, test, epochs, tol=1e-5):
    """Each result's weights and per-epoch losses are those of ``fit`` (autograd) on
    the same model alone; its reported numbers are those of its returned model."""
    for r in results:
        s = r.spec
        alone = tc.MLP(train.n_features, s.hidden, train.n_classes, s.activation, seed=s.seed)
        run = tc.fit(alone, train, test, optimizer=s.optimizer, lr=s.lr,
                     momentum=s.momentum, weight_decay=s.weight_decay, epochs=epochs,
                     standardize=True, engine="autograd")
        for p, q in zip(r.model.parameters(), alone.parameters()):
            assert (p - q).abs().max().item() < tol, s
        assert np.abs(r.loss - np.array(run.history["loss"])).max() < tol, s
        assert r.test_loss == pytest.approx(run.history["test_loss"][-1], abs=tol)
        for ours, theirs, rows in ((r.test_accuracy, run.history["test_accuracy"][-1], test),
                                   (r.train_accuracy, run.metrics["train"]["accuracy"], train)):
            assert ours == pytest.approx(theirs, abs=1.01 / len(rows.y))  # a row on the edge


@kernel_only
def test_eleven_models_with_their_own_settings_share_the_lanes(moons):
    """11 models: one full vector of 8 and 3 in a second, the spare lanes unused; lr,
    momentum and weight decay differ lane by lane within the one architecture."""
    train, test = moons
    specs = [ModelSpec((8, 8), "relu", "sgd", lr=0.05 * (1 + s % 4),
                       momentum=(0.0, 0.9, 0.5)[s % 3], weight_decay=(0.0, 1e-2)[s % 2],
                       seed=s) for s in range(11)]
    results, _ = train_many(specs, train, test, epochs=60, engine="kernel")
    assert [r.spec for r in results] == specs
    assert_each_trained_alone(results, train, test, 60)


@kernel_only
@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
def test_adam_lanes_with_mixed_weight_decay(moons, optimizer):
    train, test = moons
    specs = [ModelSpec((8,), "tanh", optimizer, lr=0.01 * (s + 1), weight_decay=0.01 * s,
                       seed=s) for s in range(3)]
    results, _ = train_many(specs, train, test, epochs=50, engine="kernel")
    assert_each_trained_alone(results, train, test, 50, tol=1e-4)


@kernel_only
def test_multiclass_lanes_train_as_cross_entropy_alone():
    train, test = tc.datasets.spirals(n_samples=150, n_classes=3).split(seed=0)
    specs = [ModelSpec((16, 8), "relu", "sgd", lr=0.2, momentum=0.9 * (s % 2), seed=s)
             for s in range(9)]
    results, _ = train_many(specs, train, test, epochs=40, engine="kernel")
    assert_each_trained_alone(results, train, test, 40)


@kernel_only
@pytest.mark.parametrize("activation", sorted(a for a, e in tc.activations.ACTIVATIONS.items()
                                              if e.kernel_code is not None))
def test_every_activation_in_lanes(moons, activation):
    """Each activation the kernel has, in three lanes of one group, as autograd alone."""
    train, test = moons
    specs = [ModelSpec((6, 5), activation, "sgd", lr=0.1 * (s + 1), momentum=0.5, seed=s)
             for s in range(3)]
    results, _ = train_many(specs, train, test, epochs=30, engine="kernel")
    assert_each_trained_alone(results, train, test, 30)


@kernel_only
def test_a_diverging_lane_raises_as_fit_would_alone(moons):
    """One lane's lr is huge: train_many raises TrainingDiverged with fit's message for
    that model (its epoch and lr), whatever its neighbours in the vector do."""
    train, test = moons
    specs = [ModelSpec((64, 64, 64), "relu", "sgd", lr=lr, seed=s)
             for s, lr in enumerate([0.1, 0.2, 1000, 0.3])]
    with pytest.raises(tc.TrainingDiverged) as many:
        train_many(specs, train, test, epochs=50, engine="kernel")
    with pytest.raises(tc.TrainingDiverged) as alone:
        tc.fit(tc.MLP(2, (64, 64, 64), seed=2), train, test, lr=1000, epochs=50,
               standardize=True, engine="autograd")
    assert str(many.value) == str(alone.value)


@pytest.mark.parametrize("engine", ENGINES)
def test_progress_counts_every_model_epoch(moons, engine, monkeypatch):
    """The sweep's progress bar: every model-epoch reported once, in several calls."""
    from torchclf.engine import many_kernel
    monkeypatch.setattr(many_kernel, "MODEL_ROWS_PER_CALL", 16 * 320 * 7)  # 7 epochs a call
    train, test = moons
    specs = [ModelSpec((4,), "relu", "sgd", 0.1, seed=s) for s in range(9)] + \
            [ModelSpec((3,), "tanh", "adam", 0.01, seed=s) for s in range(2)]
    calls = []
    train_many(specs, train, test, epochs=30, engine=engine, progress=calls.append)
    assert sum(calls) == 11 * 30 and len(calls) > 2


@kernel_only
def test_lanes_give_the_same_numbers_on_one_thread_or_two(moons):
    train, test = moons
    specs = [ModelSpec((8, 8), "relu", "sgd", 0.1, seed=s) for s in range(24)]
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one, _ = train_many(specs, train, test, epochs=20, engine="kernel")
        torch.set_num_threads(2)
        two, _ = train_many(specs, train, test, epochs=20, engine="kernel")
    finally:
        torch.set_num_threads(before)
    for a, b in zip(one, two):
        assert np.array_equal(a.loss, b.loss)
        assert all(torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters()))
