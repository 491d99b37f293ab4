"""TorchClassifier: a torchclf MLP behind scikit-learn's estimator contract.

``__init__`` only stores parameters; ``fit`` validates, builds and trains; everything
learned ends in ``_``. So clone, Pipeline, GridSearchCV, cross_val_score and pickling
work as for any scikit-learn classifier. The network runs in float64, like
scikit-learn's own MLP, so predictions do not depend on how rows are batched.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from torchclf import task as tasks
from torchclf.config import profiles
from torchclf.data.dataset import Standardizer, split_indices
from torchclf.model import MLP
from torchclf.engine.optim import make_optimizer

MIN_ROWS_FOR_VALIDATION = 20


def _default(section: str, name: str):
    return profiles.value(profiles.ESTIMATOR, section, name)


class TorchClassifier(ClassifierMixin, BaseEstimator):
    """A multi-layer perceptron classifier trained with PyTorch.

    Parameters keep scikit-learn's names; their defaults are ``profiles.ESTIMATOR``
    (as scikit-learn's MLPClassifier) and their bounds and choices those of the config
    schema (``torchclf.config``), checked at ``fit`` with a ValueError naming the parameter.

    Parameters
    ----------
    hidden_layer_sizes : sizes of the hidden layers (model.hidden); () is logistic
        regression
    activation : a name from ``torchclf.model.ACTIVATIONS`` (model.activation)
    optimizer : a name from ``torchclf.engine.optim.OPTIMIZERS`` (train.optimizer)
    learning_rate_init : step size (train.lr)
    alpha : L2 penalty (train.weight_decay)
    batch_size : rows per step (train.batch_size); "auto" is min(200, n_samples)
    max_iter : maximum epochs (train.epochs)
    early_stopping : hold out ``validation_fraction`` of the rows and stop when the
        validation loss has not improved by ``tol`` for ``n_iter_no_change`` epochs,
        keeping the best weights (needs at least 20 rows). When False (the default, as
        in scikit-learn, since holding rows out costs accuracy on small tables), training
        stops once the training loss has not improved by ``tol`` for
        ``n_iter_no_change`` epochs
    standardize : scale features with statistics of the training rows
    warm_start : continue from the previous fit's weights
    random_state : seeds weights, shuffling and the validation split (train.seed)
    device : "cpu", "cuda", "mps" or "auto" (train.device)
    """

    def __init__(self, hidden_layer_sizes=_default("model", "hidden"),
                 activation=_default("model", "activation"),
                 optimizer=_default("train", "optimizer"),
                 learning_rate_init=_default("train", "lr"),
                 alpha=_default("train", "weight_decay"), batch_size="auto",
                 max_iter=_default("train", "epochs"), early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=10, tol=1e-4, standardize=True,
                 warm_start=False, random_state=None, device=_default("train", "device")):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate_init = learning_rate_init
        self.alpha = alpha
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.standardize = standardize
        self.warm_start = warm_start
        self.random_state = random_state
        self.device = device

    # -- fitting ------------------------------------------------------------------------
    def fit(self, X, y):
        """Train from scratch (or from the last weights with ``warm_start``)."""
        self._check_params()
        X, y = self._validate_xy(X, y, reset=True)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError("Classifier can't train when only one class is present: "
                             f"y holds only {self.classes_[0]!r}")
        keep = self.warm_start and hasattr(self, "model_") and \
            self.model_.n_classes == len(self.classes_)
        if not keep:
            self._initialise(X)
        self._train(X, codes, epochs=self.max_iter, allow_early_stopping=True)
        return self

    def partial_fit(self, X, y, classes=None):
        """One epoch on (X, y); the first call must list every class in ``classes``."""
        self._check_params()
        first = not hasattr(self, "model_")
        X, y = self._validate_xy(X, y, reset=first)
        if first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
            self.classes_ = np.unique(np.asarray(classes))
            if len(self.classes_) < 2:
                raise ValueError("Classifier can't train when only one class is present")
            self._initialise(X)
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes {list(classes)} differ from the first call's "
                             f"{list(self.classes_)}")
        unknown = np.setdiff1d(y, self.classes_)
        if len(unknown):
            raise ValueError(f"y has labels not in classes: {list(unknown)[:5]}")
        codes = np.searchsorted(self.classes_, y)
        self._train(X, codes, epochs=1, allow_early_stopping=False)
        return self

    def _check_params(self) -> None:
        """Refuse a bad parameter before touching the data, naming it as scikit-learn does."""
        from torchclf.config.sklearn_names import check_params
        check_params(self.get_params(deep=False), type(self).__name__)

    def _validate_xy(self, X, y, reset):
        X, y = validate_data(self, X, y, reset=reset, dtype=np.float64)
        check_classification_targets(y)
        return X, y

    def _initialise(self, X) -> None:
        rng = check_random_state(self.random_state)
        self._seed = int(rng.randint(0, 2**31 - 1))
        self.scaler_ = Standardizer().fit(X) if self.standardize else None
        self.model_ = MLP(X.shape[1], tuple(self.hidden_layer_sizes), len(self.classes_),
                          self.activation, seed=self._seed).double().to(self.device)
        self.task_ = self.model_.task
        self._opt = make_optimizer(self.optimizer, self.model_.parameters(),
                                   self.learning_rate_init, self.alpha)
        self.loss_curve_, self.validation_scores_ = [], []
        self.n_iter_ = 0
        self.best_validation_score_ = None

    def _tensor(self, X) -> torch.Tensor:
        X = np.asarray(X, dtype=np.float64)
        if self.scaler_ is not None:
            X = (X - self.scaler_.mean_.astype(np.float64)) / self.scaler_.scale_.astype(np.float64)
        return torch.tensor(X, dtype=torch.float64, device=self.device)

    def _train(self, X, codes, epochs: int, allow_early_stopping: bool) -> None:
        model, opt, task = self.model_, self._opt, self.task_
        loss_fn = tasks.loss_function(task)
        rows = np.arange(len(codes))
        val = None
        if allow_early_stopping and self.early_stopping and len(codes) >= MIN_ROWS_FOR_VALIDATION:
            counts = np.bincount(codes, minlength=len(self.classes_))
            rows, val_rows = split_indices(codes, self.validation_fraction, self._seed,
                                           stratify=bool((counts >= 2).all()))
            val = (self._tensor(X[val_rows]), torch.as_tensor(codes[val_rows]))
        Xt = self._tensor(X[rows])
        yt = tasks.targets(torch.as_tensor(codes[rows], device=self.device), task).double() \
            if task == "binary" else torch.as_tensor(codes[rows], device=self.device)
        n = len(rows)
        bs = min(200, n) if self.batch_size == "auto" else max(1, min(int(self.batch_size), n))
        best_loss, best_state, stale = np.inf, None, 0
        gen = torch.Generator().manual_seed(self._seed + self.n_iter_)
        model.train()
        for _ in range(epochs):
            order = torch.randperm(n, generator=gen).to(self.device)
            total = 0.0
            for i in range(0, n, bs):
                idx = order[i:i + bs]
                loss = loss_fn(model(Xt[idx]), yt[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            self.loss_curve_.append(total / n)
            self.n_iter_ += 1
            if not np.isfinite(self.loss_curve_[-1]):
                raise ValueError(f"training diverged at epoch {self.n_iter_}: lower "
                                 f"learning_rate_init (now {self.learning_rate_init})")
            if val is None and allow_early_stopping:  # stop when the training loss plateaus
                if self.loss_curve_[-1] < best_loss - self.tol:
                    best_loss, stale = self.loss_curve_[-1], 0
                else:
                    stale += 1
                    if stale >= self.n_iter_no_change:
                        break
            if val is not None:
                model.eval()
                with torch.no_grad():
                    logits = model(val[0])
                    target = tasks.targets(val[1], task)
                    v_loss = float(loss_fn(logits, target.double() if task == "binary"
                                           else target))
                    v_acc = float((tasks.labels(logits, task).cpu() == val[1]).double().mean())
                model.train()
                self.validation_scores_.append(v_acc)
                if v_loss < best_loss - self.tol:
                    best_loss, stale = v_loss, 0
                    best_state = copy.deepcopy(model.state_dict())
                    self.best_validation_score_ = v_acc
                else:
                    stale += 1
                    if stale >= self.n_iter_no_change:
                        break
        if best_state is not None:
            model.load_state_dict(best_state)
        model.eval()

    # -- prediction -----------------------------------------------------------------------
    def _logits(self, X) -> torch.Tensor:
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        with torch.no_grad():
            return self.model_(self._tensor(X))

    def decision_function(self, X):
        """(n,) logit of the second class for two classes; (n, K) logits otherwise."""
        logits = self._logits(X).cpu().numpy()
        return logits[:, 0] if self.task_ == "binary" and logits.shape[1] == 1 else logits

    def predict_proba(self, X):
        """(n, K) class probabilities in the order of ``classes_``."""
        return tasks.probabilities(self._logits(X), self.task_).cpu().numpy()

    def predict(self, X):
        """(n,) labels from ``classes_``."""
        check_is_fitted(self, "model_")
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    # -- safe files -----------------------------------------------------------------------
    def save(self, directory) -> Path:
        """Write model.safetensors + model.json (no pickle) into ``directory``."""
        from torchclf.store.modelfiles import save_model
        from torchclf.run import Predictor
        check_is_fitted(self, "model_")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        names = getattr(self, "feature_names_in_", None)
        names = tuple(names) if names is not None else tuple(
            f"x{i}" for i in range(self.n_features_in_))
        save_model(Predictor(self.model_, self.task_, tuple(self.classes_.tolist()), names,
                             self.scaler_), directory)
        return directory

    @classmethod
    def load(cls, directory) -> "TorchClassifier":
        """A fitted estimator from ``save``'s files; predictions are identical."""
        from torchclf.store.modelfiles import load_model
        predictor = load_model(directory)
        model = predictor.model
        spec = model.spec
        est = cls(hidden_layer_sizes=spec.hidden, activation=spec.activation,
                  standardize=predictor.scaler is not None)
        est.model_, est.task_, est.scaler_ = model, predictor.task, predictor.scaler
        est.classes_ = np.asarray(predictor.classes)
        est.n_features_in_ = spec.in_features
        if not all(n == f"x{i}" for i, n in enumerate(predictor.feature_names)):
            est.feature_names_in_ = np.asarray(predictor.feature_names, dtype=object)
        est.loss_curve_, est.validation_scores_, est.n_iter_ = [], [], 0
        return est
