"""Every registry entry on every backend: the kernel and the stacked engine train each
activation and optimizer as autograd does, or decline it; and every front end offers
every name."""

import functools
import io
import itertools
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import torchclf as tc
from torchclf.activations import ACTIVATIONS, Activation
from torchclf.errors import UserError
from torchclf.engine import fast
from torchclf.engine.batched import ModelSpec, train_many
from torchclf.optimizers import OPTIMIZERS, make_optimizer
from helpers import engines, kernel_only

EPOCHS = 30
SETTINGS = {"sgd": dict(lr=0.1, momentum=0.9, weight_decay=1e-3),
            "adam": dict(lr=0.01, momentum=0.0, weight_decay=1e-3),
            "adamw": dict(lr=0.01, momentum=0.0, weight_decay=1e-2)}
SOURCES = Path(fast.__file__).parent / "kernels"


DATA = {"binary": tc.datasets.moons(n_samples=200, noise=0.1, seed=0).split(seed=0),
        "multiclass": tc.datasets.spirals(n_samples=150).split(seed=0)}


@pytest.fixture(scope="module")
def data():
    return DATA


def fit(train, test, activation, optimizer, engine):
    model = tc.MLP(train.n_features, (8, 8), train.n_classes, activation, seed=0)
    run = tc.fit(model, train, test, optimizer=optimizer, epochs=EPOCHS, standardize=True,
                 engine=engine, **SETTINGS[optimizer])
    return model, np.array(run.history["loss"])


def assert_same_training(model, loss, ref_model, ref_loss, atol=1e-5):
    """Losses of every epoch and the final weights within float32 rounding of autograd
    (the walk below measured at most ~1e-6 for 30 epochs)."""
    assert loss.shape == ref_loss.shape
    assert np.abs(loss - ref_loss).max() <= atol
    for p, q in zip(model.parameters(), ref_model.parameters()):
        assert (p - q).abs().max().item() <= atol


def test_every_entry_has_a_module_a_description_and_its_forms():
    for entry in ACTIVATIONS.values():
        assert isinstance(entry.module(), torch.nn.Module) and entry.description
        assert "\n" not in entry.description
    for entry in OPTIMIZERS.values():
        opt = entry.build([torch.zeros(1, requires_grad=True)], 0.1, 0.0, 0.0)
        assert type(opt) is entry.torch_class and entry.description
        assert "\n" not in entry.description


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_stacked_forward_and_derivative_equal_the_module_and_its_autograd(name):
    entry = ACTIVATIONS[name]
    if not entry.stacked:
        pytest.skip(f"{name} has no stacked form")
    z = torch.cat([torch.linspace(-30, 30, 2001), torch.tensor([0.0, 1e-6, -1e-6, 80, -80])])
    z.requires_grad_(True)
    h = entry.module()(z)
    (grad,) = torch.autograd.grad(h.sum(), z)
    with torch.no_grad():
        assert torch.allclose(entry.forward(z), h, rtol=0, atol=1e-7)
        assert torch.allclose(entry.derivative(z, h), grad, rtol=1e-5, atol=1e-7)


def _enum(source: str, prefix: str) -> dict[str, int]:
    text = (SOURCES / source).read_text()
    return {m[1]: int(m[2]) for m in re.finditer(rf"\b({prefix}_\w+) = (\d+)", text)}


def test_kernel_codes_are_those_the_c_sources_define():
    """The registries are the only Python side of the C enums: each code is distinct,
    and train.c, predict.c and many.c define the same activation codes (train.c and
    many.c the same optimizer codes)."""
    acts = _enum("train.c", "ACT")
    assert acts == _enum("predict.c", "ACT") == _enum("many.c", "ACT")
    assert _enum("train.c", "OPT") == _enum("many.c", "OPT")
    codes = [a.kernel_code for a in ACTIVATIONS.values() if a.kernel_code is not None]
    assert len(set(codes)) == len(codes) and set(codes) <= set(acts.values())
    assert acts["ACT_MANUAL_TANH"] == ACTIVATIONS["manual_tanh"].kernel_code
    assert acts["ACT_TANH"] == ACTIVATIONS["tanh"].kernel_code
    opts = _enum("train.c", "OPT")
    assert {f"OPT_{n.upper()}": o.kernel_code for n, o in OPTIMIZERS.items()
            if o.kernel_code is not None} == opts


def test_the_kernels_read_labels_and_indices_as_fixed_width_integers():
    """Python hands the kernels int64 arrays (torch's long): C's ``long`` is 32 bits on
    Windows, so the sources say ``int64_t`` and never ``long``."""
    for source in sorted(SOURCES.glob("*.[ch]")):
        code = re.sub(r"/\*.*?\*/", "", source.read_text(), flags=re.S)
        assert not re.search(r"\blong\b", code), source.name
    assert "const int64_t *y" in (SOURCES / "train.c").read_text()


@functools.cache
def reference(task, activation, optimizer):
    """The entry trained by autograd: what every backend must give."""
    train, test = DATA[task]
    return fit(train, test, activation, optimizer, "autograd")


@pytest.mark.parametrize("backend", engines("fast", "stacked", "kernel"))
@pytest.mark.parametrize("task", ["binary", "multiclass"])
@pytest.mark.parametrize("activation,optimizer",
                         list(itertools.product(sorted(ACTIVATIONS), sorted(OPTIMIZERS))))
def test_every_backend_trains_every_entry_as_autograd_does(activation, optimizer, task, backend):
    train, test = DATA[task]
    ref_model, ref_loss = reference(task, activation, optimizer)
    act, opt = ACTIVATIONS[activation], OPTIMIZERS[optimizer]
    if backend == "fast":
        if act.kernel_code is None or opt.kernel_code is None:
            with pytest.raises(UserError, match="engine 'fast' needs"):
                fit(train, test, activation, optimizer, "fast")
        else:
            assert_same_training(*fit(train, test, activation, optimizer, "fast"),
                                 ref_model, ref_loss)
        return
    spec = ModelSpec((8, 8), activation, optimizer, seed=0, **SETTINGS[optimizer])
    has_form = (act.stacked and opt.stacked_update is not None if backend == "stacked"
                else act.kernel_code is not None and opt.kernel_code is not None)
    if not has_form:
        with pytest.raises(UserError, match="no form"):
            train_many([spec], train, test, epochs=EPOCHS, engine=backend)
        return
    (result,), _ = train_many([spec], train, test, epochs=EPOCHS, engine=backend)
    assert_same_training(result.model, result.loss, ref_model, ref_loss)


def test_an_entry_without_kernel_or_stacked_form_is_declined_not_replaced(data, monkeypatch):
    """What a new activation gets until someone writes its C and stacked forms."""
    monkeypatch.setitem(ACTIVATIONS, "softplus", Activation(
        "softplus", "log(1 + exp(x))", torch.nn.Softplus, kernel_code=None))
    train, test = data["binary"]
    model = tc.MLP(2, (8,), 2, "softplus", seed=0)
    opt = make_optimizer("sgd", model.parameters(), 0.1)
    assert not fast.eligible(model, opt, torch.as_tensor(train.X))
    assert fast.predict_proba(model, train.X) is None
    with pytest.raises(UserError, match="engine 'fast' needs"):
        fit(train, test, "softplus", "sgd", "fast")
    auto_model, auto_loss = fit(train, test, "softplus", "sgd", "auto")
    ref_model, ref_loss = fit(train, test, "softplus", "sgd", "autograd")
    assert_same_training(auto_model, auto_loss, ref_model, ref_loss, atol=0)
    spec = ModelSpec((8,), "softplus", "sgd", 0.1)
    for engine in ("auto", "stacked", "kernel"):
        with pytest.raises(UserError, match="no form|needs the CPU"):
            train_many([spec], train, test, epochs=2, engine=engine)


@kernel_only
def test_a_kernel_build_that_predicts_manual_tanh_computes_the_formula():
    """The predictor runs the hand-written formula for manual_tanh (not tanh): the same
    probabilities as torch for large and tiny pre-activations alike."""
    model = tc.MLP(2, (16,), 3, "manual_tanh", seed=0)
    X = np.random.default_rng(0).normal(0, 30, size=(5000, 2)).astype(np.float32)
    X[:100] *= 1e-7
    with torch.no_grad():
        expected = torch.softmax(model(torch.from_numpy(X)), 1).numpy()
    assert np.allclose(fast.predict_proba(model, X), expected, atol=1e-6, rtol=0)


# ---- front ends: every name in every list that offers choices ----------------------

def pairs():
    """Each activation once, each optimizer at least once."""
    opts = sorted(OPTIMIZERS)
    return [(a, opts[i % len(opts)]) for i, a in enumerate(sorted(ACTIVATIONS))]


def test_cli_help_lists_and_train_accepts_every_name(tmp_path, capsys):
    from torchclf.cli.main import main
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for name in [*ACTIVATIONS, *OPTIMIZERS]:
        assert re.search(rf"\b{name}\b", help_text), name
    for activation, optimizer in pairs():
        out, err = io.StringIO(), io.StringIO()
        code = main(["train", "moons", "--n-samples", "100", "--epochs", "2", "--no-plots",
                     "--no-progress", "--activation", activation, "--optimizer", optimizer,
                     "--out", str(tmp_path / activation)], out=out, err=err)
        assert code == 0, err.getvalue()


def test_playground_offers_and_accepts_every_name():
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from torchclf.web.server import create_app
    client = TestClient(create_app(), base_url="http://localhost")
    options = client.get("/api/options").json()
    assert sorted(options["activations"]) == sorted(ACTIVATIONS)
    assert sorted(options["optimizers"]) == sorted(OPTIMIZERS)
    for activation, optimizer in pairs():
        r = client.post("/api/session", json={"settings": {
            "activation": activation, "optimizer": optimizer, "points": 100}})
        assert r.status_code == 200, r.text


def test_estimator_and_tune_accept_every_name(data):
    from torchclf.scale import tune
    train, _ = data["binary"]
    for activation, optimizer in pairs():
        clf = tc.TorchClassifier(hidden_layer_sizes=(4,), activation=activation,
                                 optimizer=optimizer, max_iter=2)
        clf.fit(train.X, train.y)
    assert set(tune.ACTIVATIONS) <= set(ACTIVATIONS)
