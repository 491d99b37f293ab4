"""TorchClassifier trains on the compiled kernel (a float32 copy of its float64 model)
wherever the kernel can: the results must be autograd's, predictions must not depend
on how rows are batched, and settings the kernel lacks must still train."""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_wine

from torchclf import TorchClassifier
from torchclf.engine import fast

pytestmark = pytest.mark.skipif(fast.load_kernel() is None, reason="no C compiler")


@pytest.fixture(scope="module")
def cancer():
    return load_breast_cancer(return_X_y=True)


@pytest.fixture
def kernel_calls(monkeypatch):
    """How many times the kernel trained (FastTrainer.run calls)."""
    calls = []
    run = fast.FastTrainer.run
    monkeypatch.setattr(fast.FastTrainer, "run",
                        lambda self, *a: (calls.append(1), run(self, *a))[1])
    return calls


def autograd_fit(monkeypatch, make, *fits):
    """The same fits with the kernel declined: float64 autograd, the reference."""
    with monkeypatch.context() as m:
        m.setattr(fast, "eligible", lambda *a: False)
        est = make()
        for how, X, y, kw in fits:
            getattr(est, how)(X, y, **kw)
    return est


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "adamw"])
def test_default_fit_runs_the_kernel_and_matches_autograd(cancer, monkeypatch, kernel_calls,
                                                          optimizer):
    X, y = cancer
    make = lambda: TorchClassifier(max_iter=30, random_state=0, optimizer=optimizer)
    fast_est = make().fit(X, y)
    # the plateau rule (n_iter_no_change=10) cannot fire within 11 epochs of a reset, so
    # the kernel runs up to 11 epochs a call and the rule reads each one's loss after
    assert 3 <= len(kernel_calls) < 30
    ref = autograd_fit(monkeypatch, make, ("fit", X, y, {}))
    assert fast_est.n_iter_ == ref.n_iter_ == 30
    np.testing.assert_allclose(fast_est.loss_curve_, ref.loss_curve_, rtol=1e-4)
    np.testing.assert_allclose(fast_est.predict_proba(X), ref.predict_proba(X), atol=1e-4)
    assert (fast_est.predict(X) == ref.predict(X)).mean() > 0.99


def test_plateau_stops_at_autograd_epoch(monkeypatch, kernel_calls):
    X, y = load_wine(return_X_y=True)
    make = lambda: TorchClassifier(random_state=0, tol=1e-2, n_iter_no_change=5)
    fast_est = make().fit(X, y)
    ref = autograd_fit(monkeypatch, make, ("fit", X, y, {}))
    assert kernel_calls and fast_est.n_iter_ == ref.n_iter_ < fast_est.max_iter
    np.testing.assert_allclose(fast_est.loss_curve_, ref.loss_curve_, rtol=1e-3)


def test_early_stopping_on_the_kernel_matches_autograd(cancer, monkeypatch, kernel_calls):
    X, y = cancer
    make = lambda: TorchClassifier(random_state=0, early_stopping=True, max_iter=40)
    fast_est = make().fit(X, y)
    ref = autograd_fit(monkeypatch, make, ("fit", X, y, {}))
    assert kernel_calls
    assert fast_est.n_iter_ == ref.n_iter_
    np.testing.assert_allclose(fast_est.validation_scores_, ref.validation_scores_)
    assert fast_est.best_validation_score_ == pytest.approx(ref.best_validation_score_)


def test_partial_fit_and_warm_start_continue_on_the_kernel(cancer, monkeypatch, kernel_calls):
    X, y = cancer
    make = lambda: TorchClassifier(random_state=0, warm_start=True, max_iter=5)
    fits = [("partial_fit", X, y, {"classes": [0, 1]}), ("partial_fit", X, y, {}),
            ("fit", X, y, {}), ("fit", X, y, {})]
    fast_est = make()
    for how, X_, y_, kw in fits:
        getattr(fast_est, how)(X_, y_, **kw)
    ref = autograd_fit(monkeypatch, make, *fits)
    # each partial_fit one epoch, each fit its 5 epochs in one call
    assert len(kernel_calls) == 4 and fast_est.n_iter_ == ref.n_iter_ == 12
    np.testing.assert_allclose(fast_est.loss_curve_, ref.loss_curve_, rtol=1e-4)


def test_predictions_do_not_depend_on_batching(cancer):
    X, y = cancer
    est = TorchClassifier(max_iter=20, random_state=0).fit(X, y)
    together = est.predict_proba(X)
    one_by_one = np.vstack([est.predict_proba(X[i:i + 1]) for i in range(len(X))])
    # float64 arithmetic on the float32-trained weights: BLAS may sum a matrix product
    # in another order, so agreement is to float64 rounding, far inside float32's
    np.testing.assert_allclose(together, one_by_one, rtol=1e-12, atol=1e-15)
    assert together.dtype == np.float64


@pytest.mark.parametrize("setting", [{"l1": 1e-3}, {"class_weight": "balanced"},
                                     {"lr_schedule": "cosine"}])
def test_settings_the_kernel_lacks_train_with_autograd(cancer, kernel_calls, setting):
    X, y = cancer
    est = TorchClassifier(max_iter=20, random_state=0, **setting).fit(X, y)
    assert not kernel_calls and est.n_iter_ == 20 and est.score(X, y) > 0.9


def test_saved_kernel_trained_model_loads_and_predicts_identically(cancer, tmp_path):
    X, y = cancer
    est = TorchClassifier(max_iter=20, random_state=0).fit(X, y)
    again = TorchClassifier.load(est.save(tmp_path / "m"))
    assert np.array_equal(again.predict_proba(X), est.predict_proba(X))
