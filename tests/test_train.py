"""fit(): history, log points, determinism, mini-batches, early stopping, divergence."""

import math

import numpy as np
import pytest
import torch

import torchclf as tc
from torchclf.errors import UserError
from torchclf.engine.callbacks import Callback
from torchclf.engine.loop import HISTORY_COLUMNS

from helpers import DEEP, DIVERGING_LR


class Recorder(Callback):
    def __init__(self):
        self.logged, self.epochs = [], 0

    def on_epoch_end(self, state, row):
        self.epochs += 1

    def on_log(self, state, row):
        self.logged.append(dict(row))


def test_history_has_a_row_per_epoch_and_test_at_log_points(moons_split):
    train, test = moons_split
    rec = Recorder()
    run = tc.fit(tc.MLP(2, (8,), seed=0), train, test, epochs=25, log_every=10, callbacks=[rec])
    h = run.history
    assert list(h)[:len(HISTORY_COLUMNS)] == list(HISTORY_COLUMNS)
    assert h["epoch"] == list(range(25))
    assert all(math.isfinite(v) for v in h["loss"])
    logged = [e for e, v in zip(h["epoch"], h["test_loss"]) if not math.isnan(v)]
    assert logged == [0, 10, 20, 24]
    assert [r["epoch"] for r in rec.logged] == [0, 10, 20, 24]
    assert rec.epochs == 25
    assert set(run.metrics) == {"train", "test"}


def test_training_loss_falls_and_accuracy_rises(moons_split):
    train, test = moons_split
    run = tc.fit(tc.MLP(2, (8, 8), seed=0), train, test, optimizer="sgd", lr=0.1, epochs=1000,
                 standardize=True)
    assert run.history["loss"][-1] < 0.5 * run.history["loss"][0]
    assert run.metrics["test"]["accuracy"] > 0.96


def test_same_seed_gives_bit_identical_weights_and_metrics(moons_split):
    train, test = moons_split

    def once():
        model = tc.MLP(2, (8, 8), dropout=0.1, seed=3)
        run = tc.fit(model, train, test, optimizer="adam", lr=0.01, epochs=30, batch_size=32,
                     seed=3, standardize=True)
        return model, run

    (m1, r1), (m2, r2) = once(), once()
    for p, q in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(p, q)
    assert r1.history["loss"] == r2.history["loss"]
    assert r1.metrics == r2.metrics


def test_minibatch_training_learns_and_records_epoch_means(moons_split):
    train, test = moons_split
    run = tc.fit(tc.MLP(2, (16, 16), seed=1), train, test, optimizer="adam", lr=0.01,
                 epochs=60, batch_size=32, standardize=True)
    assert len(run.history["loss"]) == 60
    assert run.metrics["test"]["accuracy"] > 0.9


def test_multiclass_and_forced_multiclass_binary():
    ds = tc.datasets.spirals(n_samples=300)
    train, test = ds.split(seed=0)
    run = tc.fit(tc.MLP(2, (32, 32), 3, seed=0), train, test, optimizer="adam", lr=0.02,
                 epochs=300, standardize=True)
    assert run.predictor.task == "multiclass"
    assert run.metrics["test"]["accuracy"] > 0.9
    moons = tc.datasets.moons(n_samples=200).split(seed=0)
    naive = tc.fit(tc.MLP(2, (16,), 2, task="multiclass", seed=0), *moons, epochs=5)
    assert naive.predictor.task == "multiclass"
    assert naive.predict_proba(moons[1].X).shape == (len(moons[1]), 2)


def test_early_stopping_stops_and_restores_best(moons_split):
    train, test = moons_split
    run = tc.fit(tc.MLP(2, (64, 64), seed=0), train, test, optimizer="adam", lr=0.05,
                 epochs=2000, early_stopping=15, standardize=True)
    assert len(run.history["epoch"]) < 2000
    assert "early stopping" in run.stop_reason
    val = np.array(run.history["val_loss"])
    best = int(np.nanargmin(val))
    assert f"best at epoch {best}" in run.stop_reason
    assert run.metrics["test"]["accuracy"] > 0.9


def test_divergence_names_the_epoch_and_suggests_lower_lr(moons_split):
    train, test = moons_split
    with pytest.raises(tc.TrainingDiverged, match=r"diverged at epoch \d+.*lower the learning rate"):
        tc.fit(tc.MLP(2, DEEP, seed=0), train, test, optimizer="sgd", lr=DIVERGING_LR, epochs=50,
               log_every=10)


@pytest.mark.parametrize("kwargs,match", [
    ({"lr": -0.1}, "lr > 0"), ({"epochs": 0}, "epochs"), ({"optimizer": "adamm"}, "did you mean"),
    ({"batch_size": 0}, "batch.size"), ({"momentum": 1.5}, "momentum"),
    ({"device": "tpu"}, "unknown device"),
])
def test_bad_training_options(moons_split, kwargs, match):
    train, test = moons_split
    with pytest.raises(UserError, match=match):
        tc.fit(tc.MLP(2, (4,)), train, test, **kwargs)


def test_device_auto_resolves_to_cpu_here():
    assert tc.resolve_device("auto").type in ("cpu", "cuda", "mps")
    assert tc.resolve_device("cpu").type == "cpu"


def test_standardizer_is_fitted_on_train_only(moons_split):
    train, test = moons_split
    run = tc.fit(tc.MLP(2, (4,), seed=0), train, test, epochs=2, standardize=True)
    assert np.allclose(run.predictor.scaler.mean_, train.X.mean(0), atol=1e-5)


def test_notebook_fit_records_a_reproducible_config(moons_split):
    from torchclf.config import from_dict
    from torchclf.experiment import run_config
    ds = tc.datasets.moons(n_samples=300, noise=0.1, seed=4)
    train, test = ds.split(test_size=0.25, seed=9)
    run = tc.fit(tc.MLP(2, (8,), seed=42), train, test, lr=0.2, epochs=40, seed=42,
                 standardize=True)
    again = run_config(from_dict(run.config))
    assert again.metrics == run.metrics
