"""The notebook's mistakes, each refused before training with one line naming the fix,
and the warning for a learning rate that keeps the loss from falling."""

import warnings

import numpy as np
import pytest
import torch
from torch import nn

import torchclf as tc


@pytest.fixture(scope="module")
def data():
    ds = tc.datasets.circles(200)
    return ds, *ds.split()


def one_line(excinfo) -> str:
    text = str(excinfo.value)
    assert "\n" not in text
    return text


@pytest.mark.parametrize("kind", [np.asarray, torch.as_tensor])
def test_fit_on_arrays_says_to_use_from_arrays(data, kind):
    ds, _, _ = data
    with pytest.raises(tc.UserError) as e:
        tc.fit(tc.MLP(2), kind(ds.X), kind(ds.y), epochs=1)
    assert "tc.from_arrays(X, y)" in one_line(e)


def test_from_arrays_takes_tensors_and_checks_shapes(data):
    ds, _, _ = data
    made = tc.from_arrays(torch.as_tensor(ds.X), torch.as_tensor(ds.y).reshape(-1, 1))
    assert made.n_features == 2 and made.classes == (0, 1) and len(made) == len(ds)
    with pytest.raises(tc.UserError) as e:
        tc.from_arrays(ds.X, ds.y[:-1])
    assert one_line(e) == f"X has {len(ds)} rows but y has {len(ds) - 1} labels: give one label per row"


def test_test_metrics_of_a_run_without_test_data_say_how_to_get_them(data):
    _, train, _ = data
    run = tc.fit(tc.MLP(2), train, epochs=1)
    with pytest.raises(KeyError) as e:
        run.metrics["test"]
    assert "trained without test data" in one_line(e) and "tc.fit(model, train, test)" in str(e.value)
    assert "test" not in run.metrics and run.metrics.get("test") is None


def test_in_features_other_than_the_data_names_the_right_one(data):
    _, train, test = data
    with pytest.raises(tc.UserError) as e:
        tc.fit(tc.MLP(3), train, test, epochs=1)
    assert one_line(e) == ("the model takes 3 input features but the data has 2: "
                           "build it with in_features=2")


def test_two_outputs_on_binary_data_say_one_output_or_multiclass(data):
    _, train, test = data
    model = nn.Sequential(nn.Linear(2, 5), nn.ReLU(), nn.Linear(5, 2))
    with pytest.raises(tc.UserError) as e:
        tc.fit(model, train, test, epochs=1)
    assert "1 output" in one_line(e) and "task='multiclass'" in str(e.value)
    tc.fit(model, train, test, epochs=1, task="multiclass")  # what the message offers


def test_n_classes_other_than_the_labels_is_refused(data):
    _, train, test = data
    with pytest.raises(tc.UserError) as e:
        tc.fit(tc.MLP(2, n_classes=3), train, test, epochs=1)
    assert "build it with n_classes=2" in one_line(e)


def test_fractional_labels_are_refused_not_truncated():
    with pytest.raises(tc.UserError) as e:
        tc.Dataset(np.zeros((2, 2)), np.array([0.2, 1.7]), (0, 1), ("a", "b"))
    assert "0.2" in one_line(e) and "tc.from_arrays(X, y)" in str(e.value)
    assert tc.Dataset(np.zeros((2, 2)), np.array([0.0, 1.0]), (0, 1), ("a", "b")).y.tolist() == [0, 1]


def test_an_int_for_hidden_is_one_layer():
    assert tc.MLP(2, hidden=8).spec.hidden == (8,)
    assert tc.count_parameters(tc.MLP(2, hidden=5)) == 21


def test_a_numpy_array_given_to_the_model_says_how_to_convert_it(data):
    ds, _, _ = data
    with pytest.raises(tc.UserError) as e:
        tc.MLP(2)(ds.X)
    assert "torch.as_tensor(X, dtype=torch.float32)" in one_line(e)


def test_a_learning_rate_that_sits_at_chance_is_warned_about(data):
    _, train, test = data
    with pytest.warns(UserWarning, match=r"stayed at chance \(50%\).*lr=10 is probably too high"):
        tc.fit(tc.MLP(2, (8, 8), seed=0), train, test, lr=10, epochs=100)
    with pytest.warns(UserWarning, match=r"loss exploded.*lr=100 is probably too high"):
        tc.fit(tc.MLP(2, (8, 8), seed=0), train, test, lr=100, epochs=100)


def test_a_run_that_learns_is_not_warned_about(data):
    _, train, test = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run = tc.fit(tc.MLP(2, (8, 8), seed=0), train, test, lr=0.5, epochs=300)
    assert run.metrics["train"]["accuracy"] > 0.8
