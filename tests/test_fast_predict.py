"""The compiled predictor (train/predict.c) gives torch's probabilities, on any shape of
MLP and input, on one thread or several, and never touches the model."""

import numpy as np
import pytest
import torch

import torchclf as tc
from torchclf import task as tasks
from torchclf.model import ACTIVATIONS
from torchclf.engine import fast

pytestmark = pytest.mark.skipif(fast.load_kernel() is None,
                                reason="no C compiler: the fast engine is unavailable")


def torch_proba(model: tc.MLP, X: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return tasks.probabilities(model(torch.from_numpy(X)), model.task).numpy()


def inputs(n: int, d: int, scale: float = 5.0, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, scale, size=(n, d)).astype(np.float32)


def assert_same_predictions(kernel: np.ndarray, reference: np.ndarray) -> None:
    assert kernel.dtype == np.float32 and kernel.shape == reference.shape
    assert np.allclose(kernel, reference, atol=1e-6, rtol=0)
    assert np.array_equal(kernel.argmax(1), reference.argmax(1))


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("n_classes,task", [(2, None), (2, "multiclass"), (5, None)])
def test_probabilities_equal_torch_for_every_activation_and_output(activation, n_classes, task):
    model = tc.MLP(3, (16, 7), n_classes, activation, task=task, seed=0)
    X = inputs(4133, 3)  # not a whole number of tiles: the last one is padded
    assert_same_predictions(fast.predict_proba(model, X), torch_proba(model, X))


@pytest.mark.parametrize("in_features,hidden", [(1, (4,)), (2, ()), (2, (8, 8)),
                                                (7, (3, 3, 3)), (20, (100,)), (2, (33, 1))])
def test_probabilities_equal_torch_for_any_layer_sizes(in_features, hidden):
    model = tc.MLP(in_features, hidden, 3, "tanh", seed=1)
    X = inputs(3001, in_features, scale=2.0, seed=1)
    assert_same_predictions(fast.predict_proba(model, X), torch_proba(model, X))


@pytest.mark.parametrize("n", [0, 1, 31, 32, 33, 65])
def test_short_inputs(n):
    model = tc.MLP(2, (8, 8), 2, seed=0)
    X = inputs(n, 2)
    out = fast.predict_proba(model, X)
    assert out.shape == (n, 2)
    if n:
        assert_same_predictions(out, torch_proba(model, X))


def test_rows_split_over_threads_give_bit_identical_results():
    model = tc.MLP(2, (8, 8), 4, "gelu", seed=0)
    X = inputs(100_003, 2)
    one = fast.predict_proba(model, X, threads=1)
    for threads in (2, 3, 64, 500):
        assert np.array_equal(fast.predict_proba(model, X, threads=threads), one)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_extreme_inputs_give_finite_probabilities(activation):
    model = tc.MLP(2, (8,), 3, activation, seed=0)
    X = np.array([[1e30, -1e30], [-1e30, 1e30], [3e38, 0], [0, 0]] * 20, dtype=np.float32)
    out = fast.predict_proba(model, X)
    assert np.isfinite(out).all() and (out >= 0).all() and (out <= 1).all()
    assert np.allclose(out.sum(axis=1), 1, atol=1e-6)


def test_non_contiguous_rows_are_accepted():
    model = tc.MLP(2, (8,), 2, seed=0)
    X = np.asfortranarray(inputs(5000, 4))[:, ::2]
    assert_same_predictions(fast.predict_proba(model, X), torch_proba(model, np.ascontiguousarray(X)))


def test_models_the_kernel_cannot_run_are_declined():
    X = inputs(100, 2)
    assert fast.predict_proba(tc.MLP(2, (8,), 2, seed=0).double(), X) is None
    assert fast.predict_proba(torch.nn.Sequential(torch.nn.Linear(2, 2)), X) is None


def test_predictor_reads_the_weights_in_place_and_leaves_the_model_as_it_was(monkeypatch):
    model = tc.MLP(2, (8, 8), 2, dropout=0.3, seed=0)  # in train mode, with dropout
    X = inputs(50_000, 2)
    expected = torch_proba(model.eval(), X)
    model.train()
    before = {name: (p.data_ptr(), p._version, p.detach().clone())
              for name, p in model.named_parameters()}

    def no_torch_forward(*args):
        raise AssertionError("the Predictor ran torch's forward instead of the kernel")

    monkeypatch.setattr(tc.MLP, "forward", no_torch_forward)
    predictor = tc.Predictor(model, model.task, (0, 1), ("a", "b"))
    assert_same_predictions(predictor.predict_proba(X), expected)  # eval mode: no dropout
    assert model.training
    for name, p in model.named_parameters():
        ptr, version, value = before[name]
        assert p.data_ptr() == ptr and p._version == version and torch.equal(p, value)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_a_nan_weight_gives_nan_as_in_torch(activation):
    model = tc.MLP(2, (8,), 3, activation, seed=0)
    with torch.no_grad():
        model.layers[0].weight.fill_(float("nan"))
    X = inputs(100, 2)
    assert np.isnan(fast.predict_proba(model, X)).all() and np.isnan(torch_proba(model, X)).all()


class TinyNet(torch.nn.Module):
    """Not a torchclf MLP: predicted by torch's own forward, not by the kernel."""

    def __init__(self) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(),
                                        torch.nn.Linear(8, 1))
        self.task = "binary"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


@pytest.mark.parametrize("make_model", [lambda: tc.MLP(2, (8, 8), 2, seed=0), TinyNet],
                         ids=["mlp-kernel", "own-module-torch"])
def test_plotting_a_boundary_never_copies_or_moves_the_model(monkeypatch, make_model):
    import copy

    train, test = tc.datasets.moons(n_samples=200, noise=0.1, seed=0).split(seed=0)
    torch.manual_seed(0)
    run = tc.fit(make_model(), train, test, lr=0.1, epochs=20)
    model = run.model
    model.train()
    before = [(p.data_ptr(), p._version) for p in model.parameters()]

    def forbidden(name):
        def call(*args, **kwargs):
            raise AssertionError(f"plotting called {name}")
        return call

    monkeypatch.setattr(copy, "deepcopy", forbidden("copy.deepcopy"))
    for name in ("to", "cpu", "cuda", "double", "half", "state_dict", "load_state_dict"):
        monkeypatch.setattr(torch.nn.Module, name, forbidden(f"Module.{name}"))
    monkeypatch.setattr(torch.Tensor, "clone", forbidden("Tensor.clone"))
    fig = run.plot_boundary(resolution=300)  # 90,000 grid points: the kernel's size
    monkeypatch.undo()
    assert len(fig.axes) == 2
    assert model.training
    assert [(p.data_ptr(), p._version) for p in model.parameters()] == before
