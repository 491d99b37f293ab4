"""Shared fixtures: small datasets and a quickly trained run."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def moons_split():
    import torchclf as tc
    ds = tc.datasets.moons(n_samples=400, noise=0.05, seed=0)
    return ds.split(test_size=0.2, seed=0)


@pytest.fixture(scope="session")
def trained_run(moons_split):
    import torchclf as tc
    train, test = moons_split
    model = tc.MLP(2, (8, 8), 2, seed=0)
    return tc.fit(model, train, test, optimizer="adam", lr=0.05, epochs=200, log_every=50,
                  standardize=True)
