"""The compiled fast engine gives the plain autograd loop's results, only sooner."""

import numpy as np
import pytest
import torch

import torchclf as tc
from torchclf.errors import UserError
from torchclf.engine import fast
from helpers import DEEP, DIVERGING_LR, InterruptAt
from torchclf.engine.checkpoint import Checkpoint
from torchclf.engine.loop import TrainingInterrupted

pytestmark = pytest.mark.skipif(fast.load_kernel() is None,
                                reason="no C compiler: the fast engine is unavailable")


@pytest.fixture(scope="module")
def moons():
    return tc.datasets.moons(n_samples=1000, noise=0.03, seed=42).split(seed=42)


@pytest.fixture(scope="module")
def spirals():
    return tc.datasets.spirals(n_samples=300).split(seed=0)


def both(train, test, model_kwargs, **fit_kwargs):
    out = {}
    for engine in ("autograd", "fast"):
        model = tc.MLP(train.n_features, seed=0, **model_kwargs)
        run = tc.fit(model, train, test, engine=engine, **fit_kwargs)
        out[engine] = (model, run)
    return out


def max_weight_diff(a, b):
    return max((p - q).abs().max().item() for p, q in zip(a.parameters(), b.parameters()))


def test_lesson_moons_job_matches_autograd_to_1e_5(moons):
    """The benchmark job: 2-8-8-1 ReLU, full-batch SGD 0.1, 1000 epochs."""
    train, test = moons
    res = both(train, test, dict(hidden=(8, 8)), optimizer="sgd", lr=0.1, epochs=1000,
               log_every=100)
    assert max_weight_diff(res["autograd"][0], res["fast"][0]) < 1e-5
    a, f = res["autograd"][1], res["fast"][1]
    assert np.allclose(a.history["loss"], f.history["loss"], atol=1e-5)
    # a point whose logit sits within rounding of 0 may flip for an epoch
    assert np.allclose(a.history["accuracy"], f.history["accuracy"], atol=1.5 / len(train))
    assert a.metrics["test"]["accuracy"] == f.metrics["test"]["accuracy"]


@pytest.mark.parametrize("activation,optimizer,extra", [
    ("tanh", "sgd", dict(momentum=0.9, weight_decay=1e-3)),
    ("manual_tanh", "sgd", dict(momentum=0.5)),
    ("sigmoid", "sgd", dict(lr=0.5)),
    ("leaky_relu", "sgd", dict()),
    ("gelu", "sgd", dict(weight_decay=1e-2)),
    ("identity", "sgd", dict()),
])
def test_every_activation_with_sgd_matches_autograd(moons, activation, optimizer, extra):
    train, test = moons
    kwargs = dict(optimizer=optimizer, lr=0.1, epochs=300)
    kwargs.update(extra)
    res = both(train, test, dict(hidden=(8, 8), activation=activation), **kwargs)
    # float32 rounding differs between the kernel and BLAS; it stays at this level
    assert max_weight_diff(res["autograd"][0], res["fast"][0]) < 5e-5
    assert np.allclose(res["autograd"][1].history["loss"], res["fast"][1].history["loss"],
                       atol=1e-5)


@pytest.mark.parametrize("optimizer,weight_decay", [("adam", 0.0), ("adam", 1e-3),
                                                    ("adamw", 1e-2)])
def test_adam_multiclass_matches_autograd(spirals, optimizer, weight_decay):
    """Adam divides by tiny second moments, so float rounding shows in the weights a
    little; losses and predictions stay the same.

    The bounds hold on any CPU, not one CPU's digits: Adam's step is about ``lr`` whatever
    the gradient's size, so a weight whose gradient hovers around zero steps either way
    as the kernel's and BLAS's roundings fall, and the two runs drift apart by a few such
    steps. Measured on an Intel Xeon and an AMD EPYC and with torch's and MKL's other
    kernel paths (ATEN_CPU_CAPABILITY=default/avx2, MKL_CBWR=COMPATIBLE/AVX2) and a kernel
    built without AVX2/FMA: weights at most 0.014 (1.4 steps of lr 0.01) apart, losses at
    most 4.4e-5. We allow 5 steps (0.05) and 2e-4."""
    train, test = spirals
    lr = 0.01
    res = both(train, test, dict(hidden=(16, 16), n_classes=3), optimizer=optimizer,
               lr=lr, weight_decay=weight_decay, epochs=300, standardize=True)
    a, f = res["autograd"][1], res["fast"][1]
    assert np.allclose(a.history["loss"], f.history["loss"], atol=2e-4)
    assert max_weight_diff(res["autograd"][0], res["fast"][0]) < 5 * lr
    assert abs(a.metrics["test"]["accuracy"] - f.metrics["test"]["accuracy"]) <= 1 / len(test)


def test_forced_multiclass_binary_matches(moons):
    train, test = moons
    res = both(train, test, dict(hidden=(16,), task="multiclass"), lr=0.1, epochs=200)
    assert max_weight_diff(res["autograd"][0], res["fast"][0]) < 1e-5


def test_fast_engine_is_deterministic_and_resumes_bit_identically(spirals, tmp_path):
    train, test = spirals

    def go(**kw):
        model = tc.MLP(2, (16, 16), 3, seed=3)
        run = tc.fit(model, train, test, optimizer="adam", lr=0.01, epochs=400,
                     log_every=50, engine="fast", **kw)
        return model, run

    (m1, r1), (m2, r2) = go(), go()
    assert max_weight_diff(m1, m2) == 0 and r1.history["loss"] == r2.history["loss"]
    ckpt = tmp_path / "c.pt"
    with pytest.raises(TrainingInterrupted):
        go(checkpoint_path=ckpt, checkpoint_every=100, callbacks=[InterruptAt(149)])
    m3, r3 = go(resume=Checkpoint.load(ckpt))
    assert max_weight_diff(m1, m3) == 0
    assert r3.history["loss"] == r1.history["loss"]


def test_optimizer_state_is_left_as_torch_keeps_it(moons):
    """So checkpoints and anything reading optimizer.state_dict() work with either engine."""
    train, test = moons
    model = tc.MLP(2, (8,), seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    X = torch.as_tensor(train.X)
    trainer = fast.FastTrainer(model, opt, X, torch.as_tensor(train.y).float(), "binary")
    trainer.run(5, torch.zeros(5), torch.zeros(5))
    state = opt.state_dict()["state"]
    assert len(state) == 4 and all(float(s["step"]) == 5 for s in state.values())
    assert all(s["exp_avg"].abs().sum() > 0 for s in state.values())


def test_ineligible_models_fall_back_or_refuse(moons):
    train, test = moons
    dropout = tc.MLP(2, (8,), dropout=0.2, seed=0)
    run = tc.fit(dropout, train, test, epochs=5)  # auto: autograd handles dropout
    assert len(run.history["loss"]) == 5
    with pytest.raises(UserError, match="engine 'fast' needs"):
        tc.fit(tc.MLP(2, (8,), dropout=0.2), train, test, epochs=5, engine="fast")
    with pytest.raises(UserError, match="unknown engine"):
        tc.fit(tc.MLP(2, (8,)), train, test, epochs=5, engine="turbo")


def test_divergence_is_still_caught(moons):
    train, test = moons
    with pytest.raises(tc.TrainingDiverged):
        tc.fit(tc.MLP(2, DEEP, seed=0), train, test, lr=DIVERGING_LR, epochs=500, engine="fast")


@pytest.mark.parametrize("optimizer,engine_ran", [("sgd", "fast"), ("adam", "autograd")])
def test_auto_prints_what_autograd_prints(spirals, optimizer, engine_ran):
    """The lesson's spirals exercise (Adam lr 0.1) is where the kernel's other summation
    order shows at the 4th decimal by epoch 900; auto must print autograd's numbers."""
    train, test = spirals
    printed = {}
    for engine in ("auto", "autograd"):
        run = tc.fit(tc.MLP(2, (8, 8), 3, seed=42), train, test, optimizer=optimizer, lr=0.1,
                     epochs=1000, log_every=100, engine=engine)
        printed[engine] = [f"{loss:.4f}" for loss in run.history["loss"][::100]]
        if engine == "auto":
            assert run.config["train"]["engine"] == engine_ran  # recorded for a rerun
    assert printed["auto"] == printed["autograd"]


def test_a_saved_config_reruns_the_engine_that_ran(tmp_path):
    run = tc.run_config(tc.config.RunConfig(name="m").replace("train", epochs=20))
    assert run.config["train"]["engine"] == "fast"
    again = tc.run_config(tc.config.from_dict(run.config, "saved"))
    assert again.history["loss"] == run.history["loss"]
