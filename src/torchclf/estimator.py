"""TorchClassifier: a torchclf MLP behind scikit-learn's estimator contract.

``__init__`` only stores parameters; ``fit`` validates, builds and trains; everything
learned ends in ``_``. So clone, Pipeline, GridSearchCV, cross_val_score and pickling
work as for any scikit-learn classifier. The network predicts in float64, like
scikit-learn's own MLP, so predictions do not depend on how rows are batched; on the CPU
it trains a float32 copy in the compiled kernel where the kernel can (see ``fit``).
X may be a DataFrame of text, categories and gaps (see ``TorchClassifier``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (check_array, check_consistent_length, check_is_fitted,
                                      column_or_1d, validate_data)

from torchclf import task as tasks
from torchclf.config import profiles
from torchclf.config.sklearn_names import check_params, layer_sizes
from torchclf.data.dataset import Standardizer, check_labels, split_indices
from torchclf.data.frames import encode, is_frame, learn_encoder
from torchclf.errors import UserError
from torchclf.estimator_display import ShortDisplay
from torchclf.runtime import resolve_device
from torchclf.model import MLP
from torchclf.engine.backends import AutogradBackend
from torchclf.engine.callbacks import EarlyStopping
from torchclf.engine.engine import Engine
from torchclf.optimizers import make_optimizer
from torchclf.callbacks import IterationLog
from torchclf.estimator_training import (Plateau, class_weight_tensor, column_names,
                                         copy_back, fit_schedule, float32_split,
                                         kernel_backend, warn_unconverged)

MIN_ROWS_FOR_VALIDATION = 20
# arrays: converted to float64; NaN is imputed by the encoder, infinity refused
ARRAY_CHECKS = {"dtype": np.float64, "ensure_all_finite": "allow-nan"}


def _default(section: str, name: str):
    return profiles.value(profiles.ESTIMATOR, section, name)


class TorchClassifier(ShortDisplay, ClassifierMixin, BaseEstimator):
    """A multi-layer perceptron classifier trained with PyTorch.

    Parameters keep scikit-learn's names; their defaults are ``profiles.ESTIMATOR``
    (as scikit-learn's MLPClassifier) and their bounds and choices those of the config
    schema (``torchclf.config``), checked at ``fit`` with a ValueError naming the parameter.

    Parameters
    ----------
    hidden_layer_sizes : sizes of the hidden layers (model.hidden); an integer n is one
        layer (n,), as in scikit-learn; () is logistic regression
    activation : a name from ``torchclf.model.ACTIVATIONS`` (model.activation)
    optimizer : a name from ``torchclf.optimizers.OPTIMIZERS`` (train.optimizer)
    learning_rate_init : step size (train.lr)
    alpha : L2 penalty (train.weight_decay)
    batch_size : rows per step (train.batch_size); "auto" is min(200, n_samples)
    max_iter : maximum epochs (train.epochs); a ``fit`` that runs them all without the
        stopping rule below firing warns with scikit-learn's ``ConvergenceWarning``
    early_stopping : hold out ``validation_fraction`` of the rows and stop when the
        validation loss has not improved by ``tol`` for ``n_iter_no_change`` epochs,
        keeping the best weights (needs at least 20 rows). When False (the default, as
        in scikit-learn, since holding rows out costs accuracy on small tables), training
        stops by scikit-learn's rule: once the training loss has not come below its best
        by more than ``tol`` for more than ``n_iter_no_change`` epochs in a row, though
        not while it is above the first epoch's loss (a run climbing away goes on until
        it recovers or diverges, as ``fit``'s would)
    standardize : scale features with statistics of the training rows
    warm_start : continue from the previous fit's weights
    random_state : seeds weights, shuffling and the validation split (train.seed)
    device : "cpu", "cuda", "mps" or "auto" (train.device); one the machine lacks is
        refused at ``fit``
    l1 : L1 penalty on the weight matrices, not the biases (train.l1); ``loss_curve_``
        leaves it out
    lr_schedule, lr_step_size, lr_gamma, lr_patience : the lr schedule of each ``fit``,
        over ``max_iter`` epochs (``torchclf.schedules``); with one, there is no
        ``partial_fit`` (as MLPClassifier has none for solver 'lbfgs')
    class_weight : "none", "balanced" or a dict {label: weight}, as scikit-learn's
        (train.class_weight); "balanced" counts the rows trained on
    verbose : as MLPClassifier's: True prints "Iteration N, loss = ..." for every epoch
        on stdout (and the validation score, and why training stopped); False is silent

    Labels may be text, integers or booleans; missing ones (None, NaN, pd.NA) or labels
    mixing text with numbers are a ``UserError`` naming the rows or the types.

    X is a numeric array (NaN allowed, infinity refused) or a pandas DataFrame whose
    columns may be numbers, booleans, text or ``category`` dtype, with missing cells
    (NaN, None, pd.NA). The first fit learns ``encoder_`` (a ``TableEncoder``): numbers
    and booleans stay numbers, missing ones filled with the training median; text and
    categories are one-hot encoded (a ``category`` column gets a column for every
    category of its dtype), missing ones filled with the most frequent value; a 0/1
    "missing" column is added wherever the training rows had gaps. No column is left
    out. At predict time a category never seen in training lights no one-hot column, and
    a gap is filled as in training. ``warm_start`` fits and later ``partial_fit`` calls
    keep the first fit's encoder, so its categories are those of the first call's rows.
    A numeric array fitted and predicted without NaN is used as it is, as before the
    encoder existed; ``save``/``load`` keep the encoder in model.json.

    On the CPU, training without ``l1``, ``class_weight`` or ``lr_schedule`` runs in
    torchclf's compiled kernel (``torchclf.engine.fast``) on a float32 copy of the
    weights, the same mini-batches and updates autograd would make, and copies them back
    into the float64 model; otherwise (or with no C compiler, or
    ``TORCHCLF_ENGINE=autograd``) it runs float64 autograd.

    Training runs on torchclf's engine (``torchclf.engine``): the same divergence check
    as ``torchclf.fit`` (``TrainingDiverged``), with the plateau rule and validation
    early stopping as its early-stopping callbacks. ``save``/``load`` keep the weights
    and hyperparameters but not the optimizer's state: ``partial_fit`` or a warm-start
    ``fit`` after ``load`` continue with a fresh optimizer.
    """

    def __init__(self, hidden_layer_sizes=_default("model", "hidden"),
                 activation=_default("model", "activation"),
                 optimizer=_default("train", "optimizer"),
                 learning_rate_init=_default("train", "lr"),
                 alpha=_default("train", "weight_decay"), batch_size="auto",
                 max_iter=_default("train", "epochs"), early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=10, tol=1e-4, standardize=True,
                 warm_start=False, random_state=None, device=_default("train", "device"),
                 l1=_default("train", "l1"), lr_schedule=_default("train", "lr_schedule"),
                 lr_step_size=_default("train", "lr_step_size"),
                 lr_gamma=_default("train", "lr_gamma"),
                 lr_patience=_default("train", "lr_patience"),
                 class_weight=_default("train", "class_weight"), verbose=False):
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
        self.l1 = l1
        self.lr_schedule = lr_schedule
        self.lr_step_size = lr_step_size
        self.lr_gamma = lr_gamma
        self.lr_patience = lr_patience
        self.class_weight = class_weight
        self.verbose = verbose

    # -- fitting ------------------------------------------------------------------------
    def fit(self, X, y):
        """Train from scratch (or from the last weights with ``warm_start``)."""
        device = self._check_params()
        warm = self.warm_start and hasattr(self, "model_")  # keeps the first fit's encoder
        X, y = self._validate_xy(X, y, reset=not warm)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError("Classifier can't train when only one class is present: "
                             f"y holds only {self.classes_[0]!r}")
        keep = self.warm_start and hasattr(self, "model_") and \
            self.model_.n_classes == len(self.classes_)
        if not keep:
            self._initialise(X, device)
        tasks.warn_rare_classes(codes, tuple(self.classes_))
        self._train(X, codes, epochs=self.max_iter, allow_early_stopping=True)
        return self

    def _without_schedule(self) -> bool:
        if self.lr_schedule != _default("train", "lr_schedule"):
            raise AttributeError(f"partial_fit is not available with lr_schedule="
                                 f"{self.lr_schedule!r}: a schedule spans fit's max_iter "
                                 "epochs and partial_fit trains one; use fit, or "
                                 "lr_schedule='none'")
        return True

    @available_if(_without_schedule)
    def partial_fit(self, X, y, classes=None):
        """One epoch on (X, y); the first call must list every class in ``classes``."""
        device = self._check_params()
        first = not hasattr(self, "model_")
        X, y = self._validate_xy(X, y, reset=first)
        if classes is not None:
            classes = check_labels(classes, "classes")
        if first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
            self.classes_ = np.unique(classes)
            if len(self.classes_) < 2:
                raise ValueError("Classifier can't train when only one class is present")
            self._initialise(X, device)
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes {list(classes)} differ from the first call's "
                             f"{list(self.classes_)}")
        unknown = np.setdiff1d(y, self.classes_)
        if len(unknown):
            raise ValueError(f"y has labels not in classes: {list(unknown)[:5]}")
        codes = np.searchsorted(self.classes_, y)
        self._train(X, codes, epochs=1, allow_early_stopping=False)
        return self

    def _check_params(self) -> torch.device:
        """Refuse a bad parameter before touching the data, naming it as scikit-learn
        does; the device to train on."""
        owner = type(self).__name__
        check_params(self.get_params(deep=False), owner)
        try:
            return resolve_device(self.device)
        except UserError:
            raise ValueError(f"The 'device' parameter of {owner} asks for {self.device!r}, "
                             "which this machine does not have: use 'auto' or 'cpu'.") from None

    def _validate_xy(self, X, y, reset):
        """(encoded float64 X, labels); ``reset`` learns a new ``encoder_`` from X."""
        if y is not None:  # missing and mixed labels, named before scikit-learn's checks
            y = check_labels(y)
        X, y = self._validate(X, y, reset)
        y = column_or_1d(y, warn=True)
        check_consistent_length(X, y)
        check_classification_targets(y)
        if reset:
            self.encoder_ = learn_encoder(X, column_names(self))
        return self._encode(X), y

    def _validate(self, X, y="no_validation", reset=False):
        """scikit-learn's checks: a DataFrame's names and width, unconverted (the encoder
        reads its columns as they are); an array converted to float64."""
        if not is_frame(X):
            return validate_data(self, X, y, reset=reset, **ARRAY_CHECKS)
        out = validate_data(self, X, y, reset=reset, skip_check_array=True)
        if len(X) == 0:
            raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a minimum "
                             f"of 1 is required by {type(self).__name__}.")
        return out

    def _encode(self, X) -> np.ndarray:
        """Validated X -> the model's float64 input features (see the class docstring)."""
        encoder = getattr(self, "encoder_", None)
        if encoder is None:  # a model saved before estimators kept an encoder
            return check_array(X, dtype=np.float64)
        return encode(encoder, X)

    def _initialise(self, X, device: torch.device) -> None:
        rng = check_random_state(self.random_state)
        self._seed = int(rng.randint(0, 2**31 - 1))
        self.scaler_ = Standardizer().fit(X) if self.standardize else None
        self.model_ = MLP(X.shape[1], layer_sizes(self.hidden_layer_sizes), len(self.classes_),
                          self.activation, seed=self._seed).double().to(device)
        self.task_ = self.model_.task
        self._work = None  # the float32 copy the compiled kernel trains
        self._new_optimizer()
        self.loss_curve_, self.validation_scores_ = [], []
        self.n_iter_ = 0
        self.best_validation_score_ = None

    def _new_optimizer(self) -> torch.optim.Optimizer:
        self._opt = make_optimizer(self.optimizer, self.model_.parameters(),
                                   self.learning_rate_init, self.alpha)
        return self._opt

    def _tensor(self, X) -> torch.Tensor:
        X = np.asarray(X, dtype=np.float64)
        if self.scaler_ is not None:
            X = (X - self.scaler_.mean_.astype(np.float64)) / self.scaler_.scale_.astype(np.float64)
        return torch.tensor(X, dtype=torch.float64, device=self._device())

    def _device(self) -> torch.device:
        """Where the model is (``load`` puts it on the CPU whatever ``device`` says)."""
        return next(self.model_.parameters()).device

    def _targets(self, codes) -> torch.Tensor:
        y = tasks.targets(torch.as_tensor(codes, device=self._device()), self.task_)
        return y.double() if self.task_ == "binary" else y

    def _train(self, X, codes, epochs: int, allow_early_stopping: bool) -> None:
        rows, val = np.arange(len(codes)), None
        if allow_early_stopping and self.early_stopping and len(codes) >= MIN_ROWS_FOR_VALIDATION:
            counts = np.bincount(codes, minlength=len(self.classes_))
            rows, val_rows = split_indices(codes, self.validation_fraction, self._seed,
                                           stratify=bool((counts >= 2).all()))
            val = (self._tensor(X[val_rows]), self._targets(codes[val_rows]))
        n = len(rows)
        bs = min(200, n) if self.batch_size == "auto" else max(1, min(int(self.batch_size), n))
        gen = torch.Generator().manual_seed(self._seed + self.n_iter_)
        opt = getattr(self, "_opt", None) or self._new_optimizer()  # none after load()
        schedule = fit_schedule(self, opt, epochs)
        weights = class_weight_tensor(self, codes[rows], self._device())
        X_rows, y_rows = self._tensor(X[rows]), self._targets(codes[rows])
        backend = kernel_backend(self, X_rows, y_rows, bs, gen, epochs, bool(
            self.l1) or weights is not None or schedule is not None) or AutogradBackend(
            self.model_, opt, X_rows, y_rows, self.task_, bs, gen, shuffle_full_batch=True,
            l1=self.l1, class_weight=weights)
        if backend.chunked and val is not None:
            val = float32_split(val)
        stopping = [] if not allow_early_stopping else [
            Plateau(self.n_iter_no_change, self.tol) if val is None else
            EarlyStopping(self.n_iter_no_change, self.tol, restore_best=True)]
        start = self.n_iter_
        engine = Engine(backend, callbacks=stopping + [IterationLog()] * bool(self.verbose),
                        val=val, start_epoch=start,
                        sync_every=None if backend.chunked else 1, schedule=schedule)
        try:
            stopped = engine.run(start + epochs).stop
        finally:  # also the epochs before a divergence
            copy_back(self, backend)
            self.loss_curve_ += engine.history["loss"]
            self.n_iter_ += len(engine.history["loss"])
            self.validation_scores_ += engine.history.get("val_accuracy", [])
        if allow_early_stopping and not stopped:
            warn_unconverged(self)
        if val is not None and stopping[0].best_epoch >= 0:
            best = stopping[0].best_epoch - start
            self.best_validation_score_ = engine.history["val_accuracy"][best]

    # -- prediction -----------------------------------------------------------------------
    def _logits(self, X) -> torch.Tensor:
        check_is_fitted(self, "model_")
        X = self._encode(self._validate(X))
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
        encoder = getattr(self, "encoder_", None)
        names = encoder.feature_names if encoder is not None else column_names(self)
        save_model(Predictor(self.model_, self.task_, tuple(self.classes_.tolist()), names,
                             self.scaler_, encoder), directory, estimator=self._description())
        return directory

    def _description(self) -> dict:
        """Hyperparameters and seed as JSON values, for ``load`` to restore."""
        params = self.get_params()
        params["hidden_layer_sizes"] = list(layer_sizes(params["hidden_layer_sizes"]))
        if not isinstance(params["random_state"], (int, type(None))):
            params["random_state"] = None  # a RandomState object has no JSON form
        return {"params": params, "seed": getattr(self, "_seed", 0)}

    @classmethod
    def load(cls, directory) -> "TorchClassifier":
        """A fitted estimator from ``save``'s files; predictions are identical.

        The saved hyperparameters come back (``get_params``), except ``device``: the
        model is loaded onto the CPU. Training it further starts a fresh optimizer.
        """
        from torchclf.store.modelfiles import load_model, read_description
        predictor = load_model(directory)
        model = predictor.model
        spec = model.spec
        saved = read_description(directory).get("estimator") or {}
        params = {k: v for k, v in (saved.get("params") or {}).items()
                  if k in cls._get_param_names() and k != "device"}
        params.update(hidden_layer_sizes=tuple(spec.hidden), activation=spec.activation,
                      standardize=predictor.scaler is not None)
        est = cls(**params)
        est._seed = int(saved.get("seed", 0))
        est.model_, est.task_, est.scaler_ = model, predictor.task, predictor.scaler
        est.classes_ = np.asarray(predictor.classes)
        est.encoder_ = predictor.encoder
        inputs = predictor.input_names  # the raw columns, not the encoded ones
        est.n_features_in_ = len(inputs)
        if not all(n == f"x{i}" for i, n in enumerate(inputs)):
            est.feature_names_in_ = np.asarray(inputs, dtype=object)
        est.loss_curve_, est.validation_scores_, est.n_iter_ = [], [], 0
        return est

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # imputed by ``encoder_``
        return tags
