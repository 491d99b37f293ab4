"""Every recipe keeps the accuracy it promises: the lesson's results, reproduced."""

import pytest

from torchclf import recipes
from torchclf.experiment import run_config


def test_recipes_are_listed():
    assert {"circles-linear", "circles-linear-3layer", "circles-relu", "moons", "spirals",
            "blobs", "moons-naive"} <= set(recipes.names())


@pytest.mark.parametrize("name", recipes.names())
def test_recipe_reaches_its_stated_accuracy(name):
    config = recipes.load(name)
    run = run_config(config)
    acc = run.metrics["test"]["accuracy"]
    assert recipes.reached(config, acc), f"{name}: test accuracy {acc:.3f}"


def test_linear_model_fails_on_circles_where_relu_succeeds():
    linear = run_config(recipes.load("circles-linear")).metrics["test"]["accuracy"]
    relu = run_config(recipes.load("circles-relu")).metrics["test"]["accuracy"]
    assert linear < 0.6 < 0.95 < relu
