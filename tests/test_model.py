"""The lesson's models: parameter counts, the hand-written tanh, task and loss choice."""

import numpy as np
import pytest
import torch
from torch import nn

from torchclf import task as tasks
from torchclf.errors import UserError
from torchclf.model import MLP, count_parameters, manual_tanh, parse_hidden


@pytest.mark.parametrize("hidden,n_classes,activation,expected", [
    ((5,), 2, "identity", 2 * 5 + 5 + 5 * 1 + 1),     # CircleModelV0: 21
    ((10, 10), 2, "relu", 30 + 110 + 11),            # CircleModelV2: 151
    ((8, 8), 2, "relu", 24 + 72 + 9),                # MoonModelV0: 105
    ((8, 8), 3, "relu", 24 + 72 + 27),               # SpiralModel: 123
    ((8, 8), 4, "identity", 24 + 72 + 36),           # BlobModel: 132
    ((), 2, "relu", 3),                              # logistic regression
])
def test_parameter_counts_match_the_lesson(hidden, n_classes, activation, expected):
    assert count_parameters(MLP(2, hidden, n_classes, activation)) == expected


def test_moons_naive_two_logits_when_forced_multiclass():
    m = MLP(2, (16,), 2, task="multiclass")
    assert m(torch.zeros(5, 2)).shape == (5, 2)
    assert count_parameters(m) == 2 * 16 + 16 + 16 * 2 + 2


def test_linear_only_model_is_affine():
    m = MLP(2, (5,), 2, "identity", seed=0)
    x, y = torch.randn(4, 2), torch.randn(4, 2)
    zero = m(torch.zeros(1, 2))
    assert torch.allclose(m(x + y) - zero, (m(x) - zero) + (m(y) - zero), atol=1e-5)


def test_seeded_models_are_identical_and_leave_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a, b = MLP(2, (8, 8), seed=5), MLP(2, (8, 8), seed=5)
    assert torch.rand(1) == before
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def test_a_seed_gives_the_weights_torch_manual_seed_gives():
    """MLP(seed=s) seeds the CPU generator alone, and draws what torch.manual_seed(s)
    followed by building gives: runs saved before retrain to the same weights."""
    torch.manual_seed(7)
    expected = MLP(2, (8, 8), 3, "tanh")
    seeded = MLP(2, (8, 8), 3, "tanh", seed=7)
    for p, q in zip(seeded.parameters(), expected.parameters()):
        assert torch.equal(p, q)


def test_manual_tanh_matches_torch_over_wide_range():
    x = torch.linspace(-100, 100, 200_001)
    assert torch.max(torch.abs(manual_tanh(x) - torch.tanh(x))) < 1e-6
    small = torch.tensor([1e-8, -1e-8, 0.0])
    assert torch.allclose(manual_tanh(small), torch.tanh(small), rtol=1e-5, atol=0)
    assert torch.isfinite(manual_tanh(torch.tensor([1e4, -1e4]))).all()


def test_manual_tanh_gradient_matches_autograd_of_torch_tanh():
    # an even count: no point at exactly 0, where torch's gradients of sign and abs (and so
    # manual_tanh's) are 0. linspace(-5, 5, 101)'s middle point is 0 or a rounding off it
    # depending on which of torch's CPU kernels computed it.
    x = torch.linspace(-5, 5, 100, requires_grad=True)
    manual_tanh(x).sum().backward()
    expected = 1 - torch.tanh(x.detach()) ** 2
    assert torch.allclose(x.grad, expected, atol=1e-6)


def test_task_inference_and_loss_choice():
    assert tasks.resolve_task(2) == "binary"
    assert tasks.resolve_task(3) == "multiclass"
    assert tasks.resolve_task(2, "multiclass") == "multiclass"
    assert isinstance(tasks.loss_function("binary"), nn.BCEWithLogitsLoss)
    assert isinstance(tasks.loss_function("multiclass"), nn.CrossEntropyLoss)
    with pytest.raises(UserError, match="exactly 2 classes"):
        tasks.resolve_task(3, "binary")
    with pytest.raises(UserError, match="at least 2 classes"):
        tasks.resolve_task(1)


def test_logits_to_probabilities_and_labels():
    logits = torch.tensor([[-2.0], [0.5], [3.0]])
    p = tasks.probabilities(logits, "binary")
    assert p.shape == (3, 2) and torch.allclose(p.sum(1), torch.ones(3))
    assert tasks.labels(logits, "binary").tolist() == [0, 1, 1]
    multi = torch.tensor([[1.0, 2.0, 0.0], [5.0, 0.0, 0.0]])
    assert torch.allclose(tasks.probabilities(multi, "multiclass").sum(1), torch.ones(2))
    assert tasks.labels(multi, "multiclass").tolist() == [1, 0]


@pytest.mark.parametrize("text,expected", [("8,8", (8, 8)), ("none", ()), ("", ()),
                                           ("16", (16,)), ([4, 4], (4, 4))])
def test_parse_hidden(text, expected):
    assert parse_hidden(text) == expected


@pytest.mark.parametrize("bad", ["8,x", "0", "-1,4"])
def test_parse_hidden_rejects(bad):
    with pytest.raises(UserError):
        parse_hidden(bad)


def test_bad_model_spec_errors():
    with pytest.raises(UserError, match="did you mean 'relu'"):
        MLP(2, (4,), activation="rellu")
    with pytest.raises(UserError, match="dropout"):
        MLP(2, (4,), dropout=1.5)
