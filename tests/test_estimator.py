"""TorchClassifier against scikit-learn's own estimator checks and its tools."""

import io
import pickle
import subprocess
import sys
import warnings

import numpy as np
import torch
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from torchclf import TorchClassifier

from helpers import DIVERGING_LR


@parametrize_with_checks([TorchClassifier(max_iter=60, random_state=0),
                          TorchClassifier(max_iter=60, random_state=0, l1=1e-4,
                                          lr_schedule="cosine", class_weight="balanced")])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


def test_learns_iris_and_reports_training(iris):
    X_train, X_test, y_train, y_test = iris
    clf = TorchClassifier(random_state=0).fit(X_train, y_train)
    assert clf.score(X_test, y_test) > 0.9
    assert clf.n_iter_ == len(clf.loss_curve_) <= 1000
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert clf.n_features_in_ == 4 and list(clf.classes_) == [0, 1, 2]
    proba = clf.predict_proba(X_test)
    assert np.allclose(proba.sum(1), 1) and proba.shape == (len(X_test), 3)
    assert clf.decision_function(X_test).shape == (len(X_test), 3)


def scikit_learn_stop(curve, n_iter_no_change, tol):
    """The epoch count at which MLPClassifier's rule (``_update_no_improvement_count``
    and the check after it, without early stopping) stops on these losses, or None."""
    best, count = np.inf, 0
    for epoch, loss in enumerate(curve, start=1):
        count = count + 1 if loss > best - tol else 0
        best = min(best, loss)
        if count > n_iter_no_change:
            return epoch
    return None


@pytest.mark.parametrize("tol, n_iter_no_change", [(1e-2, 5), (1e-4, 10)])
def test_training_stops_where_scikit_learns_rule_stops(iris, tol, n_iter_no_change):
    """The loss falling by less than tol an epoch counts as levelled off (the best
    follows every improvement), as in scikit-learn; no ConvergenceWarning then."""
    X_train, _, y_train, _ = iris
    clf = TorchClassifier(tol=tol, n_iter_no_change=n_iter_no_change, max_iter=3000,
                          random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.fit(X_train, y_train)
    assert clf.n_iter_ < 3000
    assert scikit_learn_stop(clf.loss_curve_, n_iter_no_change, tol) == clf.n_iter_


def test_max_iter_reached_warns_as_scikit_learn_does(iris):
    X_train, _, y_train, _ = iris
    with pytest.warns(ConvergenceWarning, match="max_iter=20 epochs ran"):
        clf = TorchClassifier(max_iter=20, random_state=0).fit(X_train, y_train)
    assert clf.n_iter_ == 20
    with warnings.catch_warnings():  # partial_fit trains one epoch: nothing to warn about
        warnings.simplefilter("error", ConvergenceWarning)
        clf.partial_fit(X_train, y_train)


def test_early_stopping_stops_and_keeps_the_best_weights(iris):
    X_train, _, y_train, _ = iris
    clf = TorchClassifier(max_iter=2000, early_stopping=True, learning_rate_init=0.05,
                          random_state=0).fit(X_train, y_train)
    assert clf.n_iter_ < 2000
    assert clf.best_validation_score_ == max(clf.validation_scores_)


@pytest.mark.parametrize("labels", [["no", "yes"], [False, True], [-3, 7]])
def test_string_bool_and_integer_labels(labels):
    X = np.random.default_rng(0).normal(size=(120, 2))
    y = np.where(X[:, 0] + X[:, 1] > 0, labels[1], labels[0])
    clf = TorchClassifier(random_state=0).fit(X, y)
    assert set(clf.predict(X)) <= set(labels) and clf.score(X, y) > 0.9
    assert clf.decision_function(X).shape == (120,)


def test_float32_and_float64_give_the_same_model():
    X, y = load_iris(return_X_y=True)
    a = TorchClassifier(random_state=1, max_iter=50).fit(X.astype(np.float32), y)
    b = TorchClassifier(random_state=1, max_iter=50).fit(X.astype(np.float64), y)
    assert np.allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-6)


def test_same_random_state_same_predictions():
    X, y = load_wine(return_X_y=True)
    p1 = TorchClassifier(random_state=3, max_iter=40).fit(X, y).predict_proba(X)
    p2 = TorchClassifier(random_state=3, max_iter=40).fit(X, y).predict_proba(X)
    assert np.array_equal(p1, p2)


def test_not_fitted_error():
    with pytest.raises(NotFittedError):
        TorchClassifier().predict(np.zeros((2, 2)))


def test_partial_fit_and_warm_start(iris):
    X_train, X_test, y_train, y_test = iris
    clf = TorchClassifier(random_state=0, learning_rate_init=0.01)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X_train, y_train)
    clf.partial_fit(X_train, y_train, classes=[0, 1, 2])
    first = clf.score(X_test, y_test)
    for _ in range(60):
        clf.partial_fit(X_train, y_train)
    assert clf.n_iter_ == 61 and clf.score(X_test, y_test) > max(first, 0.85)
    warm = TorchClassifier(random_state=0, max_iter=5, warm_start=True, early_stopping=False)
    warm.fit(X_train, y_train)
    before = [p.detach().clone() for p in warm.model_.parameters()]
    warm.fit(X_train, y_train)
    assert warm.n_iter_ == 10
    assert any((p - q).abs().sum() > 0 for p, q in zip(before, warm.model_.parameters()))


def test_pipeline_grid_search_cross_val_clone_and_pickle(iris):
    X_train, X_test, y_train, y_test = iris
    pipe = make_pipeline(StandardScaler(), TorchClassifier(max_iter=100, random_state=0))
    scores = cross_val_score(pipe, X_train, y_train, cv=3)
    assert scores.mean() > 0.85
    search = GridSearchCV(pipe, {"torchclassifier__hidden_layer_sizes": [(8,), (32, 32)]},
                          cv=3).fit(X_train, y_train)
    assert search.best_score_ > 0.85
    clf = TorchClassifier(max_iter=100, random_state=0).fit(X_train, y_train)
    assert clone(clf).get_params() == clf.get_params() and not hasattr(clone(clf), "model_")
    again = pickle.loads(pickle.dumps(clf))
    assert np.array_equal(again.predict_proba(X_test), clf.predict_proba(X_test))


def test_safe_save_and_load_predict_identically(tmp_path):
    import pandas as pd
    X, y = load_wine(return_X_y=True, as_frame=True)
    clf = TorchClassifier(max_iter=80, random_state=0).fit(X, y.map({0: "a", 1: "b", 2: "c"}))
    clf.save(tmp_path / "wine")
    loaded = TorchClassifier.load(tmp_path / "wine")
    assert np.array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert list(loaded.predict(X)) == list(clf.predict(X))
    assert list(loaded.feature_names_in_) == list(X.columns)
    assert {p.name for p in (tmp_path / "wine").iterdir()} == {"model.json",
                                                               "model.safetensors"}


# -- bad parameters and labels --------------------------------------------------------------
def two_blobs(n=40):
    X = np.random.default_rng(0).normal(size=(n, 2))
    return X, (X[:, 0] > 0).astype(int)


@pytest.mark.parametrize("params, message", [
    ({"max_iter": 0}, "The 'max_iter' parameter of TorchClassifier must be an integer >= 1 "
                      "and <= 10,000,000. Got 0 instead."),
    ({"batch_size": -5}, "The 'batch_size' parameter of TorchClassifier must be 'auto' or "
                         "an integer >= 1"),
    ({"hidden_layer_sizes": 0}, "The 'hidden_layer_sizes' parameter of TorchClassifier must "
                                "be an integer or a tuple of layer sizes"),
    ({"hidden_layer_sizes": (8, -1)}, "'hidden_layer_sizes'"),
    ({"device": "tpu"}, "The 'device' parameter of TorchClassifier must be one of auto, cpu"),
    ({"tol": -1.0}, "The 'tol' parameter of TorchClassifier must be a finite number >= 0."),
    ({"early_stopping": "yes"}, "The 'early_stopping' parameter of TorchClassifier must be "
                                "true or false."),
    ({"warm_start": None}, "'warm_start'"),
    ({"standardize": "no"}, "'standardize'"),
])
def test_bad_parameters_are_refused_at_fit_by_their_scikit_learn_name(params, message):
    clf = TorchClassifier(**params)  # __init__ only stores, as scikit-learn's estimators
    assert clf.get_params()[next(iter(params))] == next(iter(params.values()))
    with pytest.raises(ValueError) as info:
        clf.fit(*two_blobs())
    assert message in str(info.value) and not hasattr(clf, "model_")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_an_unavailable_device_is_named_and_auto_trains():
    with pytest.raises(ValueError, match="The 'device' parameter of TorchClassifier asks for "
                                         "'cuda:0', which this machine does not have"):
        TorchClassifier(device="cuda:0").fit(*two_blobs())
    clf = TorchClassifier(device="auto", max_iter=3).fit(*two_blobs())
    assert clf.n_iter_ == 3 and clf.get_params()["device"] == "auto"


def test_an_integer_hidden_layer_sizes_is_one_layer_as_in_scikit_learn(tmp_path):
    X, y = two_blobs()
    clf = TorchClassifier(hidden_layer_sizes=7, max_iter=5, random_state=0).fit(X, y)
    assert clf.model_.spec.hidden == (7,) and clf.get_params()["hidden_layer_sizes"] == 7
    same = TorchClassifier(hidden_layer_sizes=(7,), max_iter=5, random_state=0).fit(X, y)
    assert np.array_equal(clf.predict_proba(X), same.predict_proba(X))
    loaded = TorchClassifier.load(clf.save(tmp_path / "m"))
    assert np.array_equal(loaded.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize("y, message", [
    ([0, 1] * 19 + [None, 1], "labels contain missing values (NaN/None) at row 38: "
                              "drop or fill those rows"),
    (np.r_[np.zeros(20), np.ones(18), np.nan, np.nan], "at rows 38, 39:"),
    (__import__("pandas").Series([0, 1] * 19 + [None, 1], dtype="Int64"), "at row 38:"),
    ([0, "a"] * 20, "labels mix types (0 is a number and 'a' is text)"),
])
def test_missing_and_mixed_labels_are_one_clear_error(y, message):
    import torchclf as tc
    X, _ = two_blobs()
    for call in (lambda clf: clf.fit(X, y), lambda clf: clf.partial_fit(X, y, classes=[0, 1])):
        clf = TorchClassifier(max_iter=3)
        with pytest.raises(tc.UserError) as info:
            call(clf)
        assert message in str(info.value) and not hasattr(clf, "model_")
    with pytest.raises(tc.UserError, match="classes contain missing values"):
        TorchClassifier().partial_fit(X, X[:, 0] > 0, classes=[False, True, None])


# -- divergence against the plateau rule -------------------------------------------------------
DIVERGED = (r"^training diverged at epoch \d+ \(loss = [^)]+\): "
            rf"lower the learning rate \(now {DIVERGING_LR}\)$")


@pytest.fixture(scope="module")
def moons():
    import torchclf as tc
    return tc.datasets.moons(n_samples=400, noise=0.1, seed=0)


def test_divergence_raises_even_when_the_plateau_rule_would_stop_first(moons):
    import torchclf as tc
    # tol=10 with n_iter_no_change=1 stops at epoch 1 by scikit-learn's rule alone, with
    # the loss already 1e9 times higher: fit, with no plateau rule, diverges at epoch 4.
    clf = TorchClassifier(hidden_layer_sizes=(100,), optimizer="sgd",
                          learning_rate_init=DIVERGING_LR,
                          n_iter_no_change=1, tol=10.0, random_state=0)
    with pytest.raises(tc.TrainingDiverged, match=DIVERGED):
        clf.fit(moons.X, moons.y)
    assert clf.loss_curve_[1] > 1e6 * clf.loss_curve_[0]
    with pytest.raises(tc.TrainingDiverged, match=DIVERGED):
        tc.fit(tc.MLP(2, (100,), seed=0), moons, lr=DIVERGING_LR, epochs=100, standardize=True,
               batch_size=200)


def test_a_loss_that_recovers_still_stops_on_its_plateau(moons):
    clf = TorchClassifier(hidden_layer_sizes=(100,), optimizer="sgd", learning_rate_init=10,
                          n_iter_no_change=1, tol=10.0, random_state=0).fit(moons.X, moons.y)
    curve = clf.loss_curve_
    assert max(curve) > 100 * curve[0]  # it climbed far above where it started ...
    assert curve[-1] <= curve[0] and clf.n_iter_ < 50  # ... came back, then stopped
    assert clf.score(moons.X, moons.y) > 0.85


# -- tables: DataFrames with text, categories, booleans and gaps; arrays with NaN ----------
SMALL = dict(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=150, random_state=0)

def messy_frame(n=160, seed=0):
    """Numbers, text, a category dtype and booleans, with gaps; the label follows them."""
    import pandas as pd
    rng = np.random.default_rng(seed)
    num = rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    size = pd.Categorical(rng.choice(["S", "M", "L"], size=n), categories=["S", "M", "L", "XL"])
    flag = rng.random(n) > 0.5
    score = num + 2 * (colour == "red") - 2 * flag + 2 * (size == "L") - 1
    y = np.where(score > 0, "yes", "no")
    frame = pd.DataFrame({"num": num, "colour": colour.astype(object), "size": size,
                          "flag": flag})
    frame.loc[::9, "num"] = np.nan
    frame.loc[::11, "colour"] = None
    frame.loc[::13, "size"] = None
    return frame, y


def by_hand(frame, train):
    """``frame`` encoded as the class docstring says, with what ``train`` taught: median
    and missing indicator, sorted one-hot columns (every category of a category dtype)
    filled with the most frequent value, booleans as 0/1."""
    num = frame["num"].fillna(train["num"].median())
    colour = frame["colour"].fillna(train["colour"].value_counts().idxmax())
    size = frame["size"].astype(object).fillna(train["size"].value_counts().idxmax())
    cols = [num, frame["num"].isna()]
    cols += [colour == c for c in sorted(train["colour"].dropna().unique())]
    cols += [frame["colour"].isna()]
    cols += [size == c for c in ["L", "M", "S", "XL"]] + [frame["size"].isna()]
    cols += [frame["flag"].astype(float).fillna(train["flag"].astype(float).median())]
    return np.column_stack([np.asarray(c, dtype=np.float64) for c in cols])


def test_a_dataframe_with_text_categories_booleans_and_gaps_fits_and_predicts():
    import pandas as pd
    frame, y = messy_frame()
    clf = TorchClassifier(**SMALL).fit(frame, y)
    assert clf.score(frame, y) > 0.9
    assert clf.n_features_in_ == 4 and list(clf.feature_names_in_) == list(frame.columns)
    assert clf.encoder_.feature_names == (
        "num", "num (missing)", "colour=blue", "colour=green", "colour=red",
        "colour (missing)", "size=L", "size=M", "size=S", "size=XL", "size (missing)", "flag")
    # the same network fitted on the rows encoded by hand predicts the same
    hand = TorchClassifier(**SMALL).fit(by_hand(frame, frame), y)
    assert np.allclose(hand.predict_proba(by_hand(frame, frame)), clf.predict_proba(frame),
                       atol=1e-12)
    # an unseen category, a gap everywhere, a category dtype missing from the rows
    odd = pd.DataFrame({"num": [np.nan, 0.5], "colour": [None, "purple"],
                        "size": pd.Categorical([None, "XXL"]), "flag": [None, True]})
    proba = clf.predict_proba(odd)
    assert proba.shape == (2, 2) and np.allclose(proba.sum(1), 1) and np.isfinite(proba).all()
    assert set(clf.predict(odd)) <= {"no", "yes"}
    assert np.allclose(proba, hand.predict_proba(by_hand(odd, frame)), atol=1e-12)


def test_penguins_with_default_settings():
    from palmerpenguins import load_penguins
    penguins = load_penguins()  # text (island, sex), gaps in sex and the measurements
    X, y = penguins.drop(columns="species"), penguins["species"]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y,
                                                        random_state=0)
    clf = TorchClassifier().fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.95


def test_dataframes_in_cross_val_score_a_pipeline_clone_and_pickle():
    frame, y = messy_frame()
    pipe = make_pipeline(TorchClassifier(**SMALL))
    assert cross_val_score(pipe, frame, y, cv=3).mean() > 0.8
    clf = clone(pipe).fit(frame, y)
    again = pickle.loads(pickle.dumps(clf))
    assert np.array_equal(again.predict_proba(frame), clf.predict_proba(frame))


def test_a_dataframe_model_saves_loads_and_predicts_identically(tmp_path):
    import json
    frame, y = messy_frame()
    clf = TorchClassifier(max_iter=50, random_state=0).fit(frame, y)
    loaded = TorchClassifier.load(clf.save(tmp_path / "m"))
    assert np.array_equal(loaded.predict_proba(frame), clf.predict_proba(frame))
    assert list(loaded.feature_names_in_) == list(frame.columns) and loaded.n_features_in_ == 4
    assert loaded.encoder_ == clf.encoder_
    saved = json.loads((tmp_path / "m" / "model.json").read_text())
    assert saved["encoder"]["columns"][1]["categories"] == ["blue", "green", "red"]
    with pytest.raises(ValueError, match="feature names"):  # as scikit-learn's own
        loaded.predict(frame[["colour", "num", "size", "flag"]])
    # the CLI reads the same files and the raw rows (text, gaps) from a CSV
    import pandas as pd
    frame.to_csv(tmp_path / "rows.csv", index=False)
    out = subprocess.run([sys.executable, "-m", "torchclf", "predict", str(tmp_path / "m"),
                          str(tmp_path / "rows.csv")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    cli = pd.read_csv(io.StringIO(out.stdout))
    assert np.allclose(cli[["proba_no", "proba_yes"]], clf.predict_proba(frame), atol=1e-5)


def test_arrays_with_nan_are_imputed_with_indicators_and_infinity_refused():
    X, y = two_blobs(200)
    gappy = X.copy()
    gappy[::7, 0] = np.nan
    clf = TorchClassifier(**SMALL).fit(gappy, y)
    assert clf.encoder_.feature_names == ("x0", "x0 (missing)", "x1")
    assert clf.score(gappy, y) > 0.8 and clf.score(X, y) > 0.8
    assert np.isfinite(clf.predict_proba(np.full((3, 2), np.nan))).all()
    clean = TorchClassifier(max_iter=5, random_state=0).fit(X, y)
    assert clean.encoder_.feature_names == ("x0", "x1")
    assert np.isfinite(clean.predict_proba(gappy)).all()  # gaps at predict: the median
    inf = X.copy()
    inf[3, 1] = np.inf
    for call in (lambda: TorchClassifier(max_iter=5).fit(inf, y), lambda: clf.predict(inf)):
        with pytest.raises(ValueError, match="infinity"):
            call()


def test_numeric_arrays_pass_through_unchanged(monkeypatch):
    """The shortcut for NaN-free arrays (as before encoders) equals the encoder's path,
    and a DataFrame of the same numbers fits the same model."""
    import pandas as pd
    from torchclf.data.encoding import TableEncoder
    X, y = load_wine(return_X_y=True)
    direct = TorchClassifier(max_iter=30, random_state=0).fit(X, y)
    assert direct.encoder_.is_identity
    frame = TorchClassifier(max_iter=30, random_state=0).fit(pd.DataFrame(X), y)
    assert np.array_equal(frame.predict_proba(pd.DataFrame(X)), direct.predict_proba(X))
    monkeypatch.setattr(TableEncoder, "is_identity", property(lambda self: False))
    encoded = TorchClassifier(max_iter=30, random_state=0).fit(X, y)
    assert np.array_equal(encoded.predict_proba(X), direct.predict_proba(X))


def test_partial_fit_and_warm_start_keep_the_first_encoder():
    import pandas as pd
    frame, y = messy_frame()
    clf = TorchClassifier(random_state=0).partial_fit(frame[:80], y[:80], classes=["no", "yes"])
    first = clf.encoder_
    later = frame[80:].assign(colour="violet")  # a category the first call never saw
    clf.partial_fit(later, y[80:])
    assert clf.encoder_ is first and clf.n_iter_ == 2
    warm = TorchClassifier(max_iter=5, warm_start=True, random_state=0).fit(frame, y)
    encoder = warm.encoder_
    warm.fit(later, y[80:])
    assert warm.encoder_ is encoder and warm.n_iter_ == 10
    with pytest.raises(ValueError, match="feature names"):
        warm.fit(frame.rename(columns={"num": "number"}), y)
    assert isinstance(warm.predict(pd.DataFrame(frame)), np.ndarray)


def test_verbose_prints_sklearns_iteration_lines_and_quiet_prints_nothing(iris, capsys):
    X, y = iris[0], iris[2]
    clf = TorchClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0,
                          verbose=True).fit(X, y)
    out = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in out] == [f"Iteration {i}" for i in range(1, 6)]
    assert out[0] == f"Iteration 1, loss = {clf.loss_curve_[0]:.8f}"
    clf.partial_fit(X, y)  # counts on across calls, as scikit-learn's
    assert capsys.readouterr().out.startswith("Iteration 6, loss = ")
    TorchClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X, y)
    assert capsys.readouterr().out == ""
