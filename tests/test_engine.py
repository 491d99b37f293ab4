"""One training engine: every front end diverges alike, and its backends agree."""

import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, strategies as st
import torch

import torchclf as tc
from torchclf import TorchClassifier
from torchclf.engine.backends import (AutogradBackend, KernelBackend, batch_size_for,
                                     choose_backend)
from torchclf.engine.batched import ModelSpec, train_many
from torchclf.engine.callbacks import Callback
from torchclf.engine.engine import Engine
from torchclf.optimizers import make_optimizer
from torchclf.web.session import Session, Settings

from helpers import DEEP, DIVERGING_LR, engines, kernel_only

DIVERGED = re.compile(r"^training diverged at epoch \d+ \(loss = [^)]+\): "
                      r"lower the learning rate \(now 1000\)$")
LR = DIVERGING_LR


@pytest.fixture(scope="module")
def moons():
    return tc.datasets.moons(n_samples=400, noise=0.1, seed=0).split(test_size=0.2, seed=0)


def diverged(train_call) -> str:
    with pytest.raises(tc.TrainingDiverged) as info:
        train_call()
    assert DIVERGED.match(str(info.value)), str(info.value)
    return str(info.value)


def test_fit_diverges(moons):
    train, test = moons
    for engine in ("autograd", "auto"):
        diverged(lambda: tc.fit(tc.MLP(2, DEEP, seed=0), train, test, lr=LR,
                                epochs=200, engine=engine))


def test_estimator_divergence_wins_over_its_plateau_rule(moons):
    train, _ = moons
    clf = TorchClassifier(DEEP, optimizer="sgd", learning_rate_init=LR, random_state=0)
    message = diverged(lambda: clf.fit(train.X, train.y))
    epoch = int(re.search(r"epoch (\d+)", message).group(1))
    assert epoch < clf.n_iter_no_change  # float32's range is left before the plateau stops
    assert len(clf.loss_curve_) == clf.n_iter_ == epoch + 1


def test_playground_session_diverges():
    session = Session.create(Settings(lr=LR, hidden=DEEP))
    diverged(lambda: session.step(100))
    assert session.epoch == 100  # the step's epochs still count; Reset starts over


@pytest.mark.parametrize("engine", engines("stacked", "kernel"))
def test_a_sweep_member_diverges(moons, engine):
    train, test = moons
    specs = [ModelSpec(DEEP, lr=0.1, seed=0), ModelSpec(DEEP, lr=LR, seed=1)]
    diverged(lambda: train_many(specs, train, test, epochs=50, engine=engine))


def test_a_ddp_run_diverges_with_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "torchclf", "train", "moons", "--nproc", "2",
                           "--lr", str(LR), "--hidden", "64,64,64", "--epochs", "20", "--no-plots", "--out", "run"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("torchclf: error: "), proc.stderr
    assert DIVERGED.match(lines[0].removeprefix("torchclf: error: "))
    assert not (tmp_path / "run").exists()


def train_with(backend_cls, optimizer, lr, X, y, epochs=100):
    model = tc.MLP(2, (8, 8), seed=0)
    opt = make_optimizer(optimizer, model.parameters(), lr)
    args = (model, opt, X, y, "binary")
    backend = backend_cls(*args) if backend_cls is KernelBackend else \
        backend_cls(*args, len(X), torch.Generator().manual_seed(0))
    history = Engine(backend, log_every=10).run(epochs).history
    return np.array(history["loss"]), model


@kernel_only
@pytest.mark.parametrize("optimizer, lr", [("sgd", 0.1), ("adam", 0.01)])
def test_kernel_and_autograd_backends_agree(moons, optimizer, lr):
    train, _ = moons
    X, y = torch.as_tensor(train.X), torch.as_tensor(train.y).float().reshape(-1, 1)
    loss_k, model_k = train_with(KernelBackend, optimizer, lr, X, y)
    loss_a, model_a = train_with(AutogradBackend, optimizer, lr, X, y)
    assert len(loss_k) == len(loss_a) == 100
    assert np.abs(loss_k - loss_a).max() < 1e-5
    for p, q in zip(model_k.parameters(), model_a.parameters()):
        assert (p - q).abs().max() < 1e-5


class CountingKernel(KernelBackend):
    calls: list

    def run(self, epochs, loss_out, acc_out):
        self.calls.append(epochs)
        super().run(epochs, loss_out, acc_out)


@kernel_only
def test_the_kernel_runs_every_epoch_up_to_a_sync_point_in_one_call(moons):
    train, _ = moons
    X, y = torch.as_tensor(train.X), torch.as_tensor(train.y).float().reshape(-1, 1)
    model = tc.MLP(2, (8, 8), seed=0)
    backend = CountingKernel(model, make_optimizer("sgd", model.parameters(), 0.1), X, y,
                             "binary")
    backend.calls = []
    engine = Engine(backend, sync_every=None)
    engine.run(300)
    assert backend.calls == [300]
    backend.calls = []
    Engine(backend, log_every=100, sync_every=None, start_epoch=300).run(600)
    assert backend.calls == [1, 100, 100, 99] and engine.epoch == 300


def test_batching_policy_and_backend_choice(moons):
    assert batch_size_for(8192) == 8192 and batch_size_for(8193) == 256
    assert batch_size_for(100, 32) == 32
    train, _ = moons
    X, y = torch.as_tensor(train.X), torch.as_tensor(train.y).float().reshape(-1, 1)
    model = tc.MLP(2, (8, 8), seed=0)
    opt = make_optimizer("sgd", model.parameters(), 0.1)
    gen = torch.Generator()
    assert isinstance(choose_backend("autograd", model, opt, X, y, "binary", len(X), gen),
                      AutogradBackend)
    dropout = tc.MLP(2, (8, 8), dropout=0.2, seed=0)
    with pytest.raises(tc.UserError, match="engine 'fast' needs"):
        choose_backend("fast", dropout, make_optimizer("sgd", dropout.parameters(), 0.1), X,
                       y, "binary", 32, gen)


def test_a_loaded_estimator_keeps_its_hyperparameters_and_trains_on(tmp_path, moons):
    train, test = moons
    clf = TorchClassifier(hidden_layer_sizes=(6,), optimizer="sgd", learning_rate_init=0.05,
                          alpha=1e-3, max_iter=30, batch_size=64, random_state=3)
    clf.fit(train.X, train.y)
    loaded = TorchClassifier.load(clf.save(tmp_path / "m"))
    assert loaded.get_params() == clf.get_params()
    assert np.array_equal(loaded.predict_proba(test.X), clf.predict_proba(test.X))
    loaded.partial_fit(train.X, train.y)  # a fresh optimizer: no AttributeError
    assert loaded.n_iter_ == 1
    loaded.set_params(warm_start=True, max_iter=5).fit(train.X, train.y)
    assert loaded.n_iter_ == 6 and loaded.score(test.X, test.y) > 0.7


class Horizon(Callback):
    def __init__(self, epochs):
        self.epochs = epochs

    def horizon(self):
        return self.epochs


@given(st.integers(0, 300), st.integers(1, 300), st.integers(0, 300),
       *[st.one_of(st.none(), st.integers(1, 60)) for _ in range(5)], st.booleans())
def test_next_event_is_the_first_epoch_the_engine_must_look_at(e, ahead, behind, sync, log,
                                                                  ev, ckpt, horizon, val):
    """The kernel runs every epoch up to the next event in one call: computing that epoch
    by arithmetic must give the first epoch a scan would stop at; a callback's horizon
    (epochs it lets pass unseen) bounds the call like ``sync_every``."""
    engine = Engine.__new__(Engine)
    engine.val, engine.sync_every, engine.log_every = (object() if val else None), sync, log
    engine.eval_every, engine.checkpoint_every = ev, ckpt
    engine.callbacks = [Callback(), Horizon(horizon)]
    until, synced = e + ahead, max(0, e - behind)
    scan = next(x for x in range(e, until) if engine._is_event(x, until, synced))
    assert engine._next_event(e, until, synced) == scan
