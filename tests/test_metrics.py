"""Metrics agree with scikit-learn's on random and edge-case inputs."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from sklearn import metrics as skm

from torchclf import metrics


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 5), st.integers(1, 60), st.integers(0, 10_000))
def test_metrics_match_sklearn(k, n, seed):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, k, n)
    proba = rng.dirichlet(np.ones(k), size=n)
    y_pred = proba.argmax(1)
    assert metrics.accuracy(y_true, y_pred) == pytest.approx(skm.accuracy_score(y_true, y_pred))
    cm = metrics.confusion_matrix(y_true, y_pred, k)
    assert np.array_equal(cm, skm.confusion_matrix(y_true, y_pred, labels=range(k)))
    p, r, f = metrics.precision_recall_f1(y_true, y_pred, k)
    labels = np.union1d(y_true, y_pred)
    assert p == pytest.approx(skm.precision_score(y_true, y_pred, average="macro",
                                                  labels=labels, zero_division=0))
    assert r == pytest.approx(skm.recall_score(y_true, y_pred, average="macro",
                                               labels=labels, zero_division=0))
    assert f == pytest.approx(skm.f1_score(y_true, y_pred, average="macro", labels=labels,
                                           zero_division=0))
    assert metrics.log_loss(y_true, proba) == pytest.approx(
        skm.log_loss(y_true, proba, labels=range(k)), rel=1e-6)


def test_report_is_json_ready():
    import json
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    report = metrics.classification_report(np.array([0, 1, 1]), proba)
    assert report["accuracy"] == pytest.approx(2 / 3)
    assert report["confusion_matrix"] == [[1, 0], [1, 1]]
    json.dumps(report)
