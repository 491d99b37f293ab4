"""One playground session: data, model, optimizer and history for one browser tab.

Sessions are plain objects driven by the server: ``step(k)`` trains k more epochs on
the training engine ``torchclf.fit`` uses (``engine.engine``, with the compiled kernel
for SGD MLPs on the CPU and autograd otherwise; the k epochs are one sync
point, so one kernel call) and ``frame()`` returns what the page draws. Nothing here
knows about HTTP.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, fields

import numpy as np
import torch

from torchclf import task as tasks
from torchclf.config import (DataConfig, ModelConfig, RunConfig, SettingError, TrainConfig,
                             profiles)
from torchclf.data import bundled, synthetic
from torchclf.data.cells import names
from torchclf.data.dataset import Dataset, Standardizer
from torchclf.errors import UserError
from torchclf.grid import decision_grid
from torchclf.metrics import confusion_matrix
from torchclf.model import MLP
from torchclf.run import Predictor
from torchclf.engine.backends import choose_backend
from torchclf.engine.engine import Engine
from torchclf.optimizers import make_optimizer
from torchclf.web import features as input_features
from torchclf.web.limits import LIMITS
from torchclf.web.network_view import network_view, set_weight
from torchclf.web.replay import Replay
from torchclf.web.setting_types import typed
from torchclf.web.sources import check_table, generate, generator_params

GRID_RESOLUTION = 60


def _play(section: str, name: str):
    return profiles.value(profiles.PLAYGROUND, section, name)


def _param(name: str):
    return profiles.PLAYGROUND["data"]["params"][name]


@dataclass
class Settings:
    """Everything the controls set; also what the URL carries.

    Defaults come from the playground profile and the schema; ``check`` translates the
    settings into a RunConfig, so the schema's bounds apply, with the page's names.
    """

    dataset: str = _play("data", "source")
    noise: float = _param("noise")
    points: int = _param("n_samples")
    classes: int = _param("n_classes")
    train_ratio: float = 1 - _play("data", "test_size")
    hidden: tuple[int, ...] = _play("model", "hidden")
    activation: str = _play("model", "activation")
    optimizer: str = _play("train", "optimizer")
    lr: float = _play("train", "lr")
    batch_size: int = 0          # 0: full batch
    l2: float = _play("train", "weight_decay")
    l1: float = _play("train", "l1")
    epochs: int = _play("train", "epochs")  # where Play stops
    seed: int = _play("train", "seed")
    features: tuple[str, ...] = input_features.BASE  # what the network sees (web/features.py)
    data_draw: int = 0           # a new draw of the same generator: its seed is seed + draw

    # what may change while training goes on: the optimizer's step, the L1 penalty and
    # the epoch cap
    LIVE = ("lr", "l2", "l1", "epochs")

    @classmethod
    def parse(cls, data: dict) -> "Settings":
        """Validate a JSON object from the page; unknown keys and bad values are errors."""
        if not isinstance(data, dict):
            raise UserError(f"expected the settings as a JSON object, got {data!r:.60}")
        known = {f.name: f for f in fields(cls)}
        out = {}
        for key, value in data.items():
            if key not in known:
                from torchclf.registry import unknown_name
                raise unknown_name("setting", key, known)
            default = getattr(cls, key)
            # types first (web/setting_types.py): "64" is not [64], 1.5 epochs is not 1
            out[key] = (input_features.parse(value) if key == "features"
                        else typed(key, value, default))
        s = cls(**out)
        s.check()
        return s

    def retuned(self, changes: dict) -> "Settings":
        """These settings with ``changes`` that leave the data and the network alone."""
        new = Settings.parse({**self.__dict__, **changes} if isinstance(changes, dict)
                             else changes)
        fixed = [k for k in changes if k not in self.LIVE and getattr(new, k) != getattr(self, k)]
        if fixed:
            raise UserError(f"{', '.join(fixed)} change the data or the network: start a new "
                            f"session to change them (only {', '.join(self.LIVE)} change "
                            "while training goes on)")
        return new

    def check(self) -> None:
        """The playground's tighter resource limits, then the schema's bounds."""
        if self.dataset in bundled.TABLES:
            check_table(self.dataset)
        elif self.dataset not in synthetic.GENERATORS and self.dataset != "custom":
            from torchclf.registry import unknown_name
            raise unknown_name("dataset", self.dataset,
                               [*synthetic.GENERATORS, *bundled.TABLES, "custom"])
        LIMITS.check_points(self.points)
        LIMITS.check_layers(self.hidden)
        LIMITS.check_epochs(self.epochs)
        LIMITS.check_classes(self.classes)
        LIMITS.check_train_ratio(self.train_ratio)
        LIMITS.check_draw(self.data_draw)
        input_features.parse(self.features)
        self.run_config(self.epochs)

    def run_config(self, epochs: int) -> RunConfig:
        """These settings as a torchclf config, checked by the schema in the page's words."""
        if self.dataset == "custom":
            data = dict(source="points.csv", target="label")
        elif self.dataset in bundled.TABLES:  # fixed data: the generator settings do not apply
            data = dict(source=self.dataset)
        else:
            data = dict(source=self.dataset, params=generator_params(self))
        try:
            return RunConfig(
                name=f"playground-{self.dataset}",
                data=DataConfig(**data, test_size=round(1 - self.train_ratio, 4),
                                split_seed=self.seed),
                model=ModelConfig(hidden=self.hidden, activation=self.activation),
                train=TrainConfig(optimizer=self.optimizer, lr=self.lr, weight_decay=self.l2,
                                  l1=self.l1, epochs=epochs, seed=self.seed,
                                  batch_size=self.batch_size or None,
                                  log_every=max(1, epochs // 10)))
        except SettingError as e:
            key = PAGE_NAMES.get(e.name, e.name)
            raise e.renamed(f"{LABELS[key]} ({key})" if key in LABELS else key) from None


# The page's name of a config setting where they differ, and how the page labels it.
PAGE_NAMES = {"weight_decay": "l2", "n_samples": "points", "n_classes": "classes",
              "test_size": "train_ratio", "split_seed": "seed"}
LABELS = {"lr": "learning rate", "l2": "L2 weight decay", "l1": "L1 penalty",
          "train_ratio": "train ratio"}


@dataclass
class Session:
    """A tab's training state. ``lock`` serialises requests from the same tab."""

    settings: Settings
    data: Dataset
    train: Dataset = field(init=False)
    test: Dataset = field(init=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    last_seen: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.reset()

    # -- building ---------------------------------------------------------------------------
    @classmethod
    def create(cls, settings: Settings, custom: Dataset | None = None) -> "Session":
        return cls(settings, custom if custom is not None else generate(settings))

    def reset(self) -> None:
        """New split, new weights, epoch 0 (the data and added points stay)."""
        s = self.settings
        self.train, self.test = self.data.split(1 - s.train_ratio, seed=s.seed)
        # a table's columns are encoded as its training rows teach (split refits), so the
        # model reads train's features (which may be fewer or more than data.X's), or the
        # input features built from them (web/features.py)
        self.inputs = input_features.InputMap(s.features, self.train)
        self.scaler = Standardizer().fit(self.inputs(self.train.X))
        self.model = MLP(self.inputs.width, s.hidden, self.data.n_classes, s.activation,
                         seed=s.seed)
        self.opt = make_optimizer(s.optimizer, self.model.parameters(), s.lr, s.l2)
        self.gen = torch.Generator().manual_seed(s.seed)
        self.epoch, self.edits = 0, 0  # edits: weights set by hand on the page
        self.replay = Replay()  # the boundary over the training so far (web/replay.py)
        self.replay.add(0, self.model)
        self.history = {"epoch": [], "loss": [], "accuracy": [], "test_loss": [],
                        "test_accuracy": []}
        self._tensors()

    def _tensors(self) -> None:
        task = self.model.task
        self.X = torch.as_tensor(self.scaler.transform(self.inputs(self.train.X)))
        self.y = tasks.targets(torch.as_tensor(self.train.y), task)
        self.Xt = torch.as_tensor(self.scaler.transform(self.inputs(self.test.X)))
        self.yt = tasks.targets(torch.as_tensor(self.test.y), task)
        backend = choose_backend("auto", self.model, self.opt, self.X, self.y, task,
                                 self.settings.batch_size or len(self.X), self.gen,
                                 l1=self.settings.l1)
        self.fast = backend if backend.chunked else None
        self.engine = Engine(backend, test=(self.Xt, self.yt), sync_every=None,
                             start_epoch=self.epoch)

    def add_point(self, x: float, y: float, label: int) -> None:
        """A clicked point joins the training set (in data coordinates)."""
        encoder = self.train.encoder
        if self.train.n_features != 2 or encoder is not None and (
                not encoder.is_identity or len(encoder.inputs) != self.data.raw.shape[1]):
            raise UserError("points can only be added to data of 2 numeric features without "
                            f"gaps; this data has {self.train.n_features} features "
                            f"({names(self.train.feature_names)})")
        if not 0 <= label < self.data.n_classes:
            raise UserError(f"class must be between 0 and {self.data.n_classes - 1}")
        LIMITS.check_points(len(self.data) + 1)
        point = np.array([[x, y]], dtype=np.float32)
        self.data = Dataset(np.vstack([self.data.X, point]), np.r_[self.data.y, label],
                            self.data.classes, self.data.feature_names, self.data.name)
        self.train = Dataset(np.vstack([self.train.X, point]), np.r_[self.train.y, label],
                             self.train.classes, self.train.feature_names, self.train.name)
        self._tensors()

    def retune(self, settings: Settings) -> None:
        """New ``Settings.LIVE`` values without a reset: the optimizer takes the new
        learning rate and weight decay from its next step on (both backends read them
        from its param groups on every run), and training goes on from this epoch. A new L1
        penalty needs a new backend (the kernel has none); the weights, the optimizer's
        state and the shuffling generator carry on."""
        l1_changed = settings.l1 != self.settings.l1
        self.settings = settings
        for group in self.opt.param_groups:
            group["lr"], group["weight_decay"] = settings.lr, settings.l2
        if l1_changed:
            self._tensors()

    def set_weight(self, layer: int, row: int, col: int, value: float) -> None:
        """One weight of the live model, edited on the page; training goes on from it."""
        set_weight(self.model, layer, row, col, value)
        self.edits += 1

    # -- training ---------------------------------------------------------------------------
    def step(self, epochs: int, seconds: float | None = None) -> None:
        """Train up to ``epochs`` more epochs (never past ``settings.epochs``).

        With ``seconds``, stop after the first whole epoch past that budget, so a heavy
        set-up never holds a server thread for long; ``self.epoch`` says how far it got.
        """
        epochs = min(LIMITS.check_step(epochs), self.settings.epochs - self.epoch)
        if epochs <= 0:
            return
        target = self.epoch + epochs
        deadline = None if seconds is None else time.monotonic() + seconds
        chunk = epochs if deadline is None else 1  # time one epoch, then size the rest
        try:
            while self.epoch < target:
                started = time.monotonic()
                self.engine.run(min(target, self.epoch + chunk))
                self.epoch = self.engine.epoch
                left = deadline - time.monotonic() if deadline is not None else 0.0
                if left <= 0:
                    break
                per_epoch = max((time.monotonic() - started) / chunk, 1e-6)
                chunk = max(1, int(left / per_epoch))
        finally:  # a diverged step still counts its epochs
            self.epoch = self.engine.epoch
        row = {k: v[-1] for k, v in self.engine.history.items()}
        self.history["epoch"].append(self.epoch)
        for key in ("loss", "accuracy", "test_loss", "test_accuracy"):
            self.history[key].append(row[key])
        self.replay.add(self.epoch, self.model)

    # -- what the page shows ----------------------------------------------------------------
    @property
    def predictor(self) -> Predictor:
        """The model on its input features (what model.zip holds)."""
        return Predictor(self.model, self.model.task, self.data.classes,
                         self.inputs.feature_names, self.scaler,
                         self.train.encoder if self.inputs.identity else None)

    def proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities for rows as train's are (the input features built first)."""
        return self.predictor.proba_of_features(self.inputs(X))

    def frame(self, with_points: bool = True) -> dict:
        """Epoch, metrics, curves, confusion matrix, boundary grid, the network (and the
        points).

        The view is fitted on every row as the model reads it (train's encoding, which
        may differ from ``data.X``'s): more than 2 features (an uploaded table) are
        shown on their PCA plane."""
        grid, pred = self.boundary(self.proba)
        out = {
            "epoch": self.epoch, "max_epochs": self.settings.epochs,
            "history": self.history, "grid": grid.to_json(),
            "classes": [str(c) for c in self.data.classes],
            "confusion": confusion_matrix(self.test.y, pred, self.data.n_classes).tolist(),
            "n_train": len(self.train), "n_test": len(self.test),
            "engine": "kernel" if self.fast is not None else "autograd",
            "counts": {"train": _counts(self.train), "test": _counts(self.test)},
            "test_pred": pred.astype(int).tolist(), "settings": dict(self.settings.__dict__),
            "network": network_view(self.model, self.inputs, self.scaler, grid),
            "replay_frames": len(self.replay),
        }
        if with_points:
            out["train"] = _points(self.train, grid)
            out["test"] = _points(self.test, grid)
        return out

    def boundary(self, proba) -> tuple:
        """The decision grid of ``proba`` (rows as train's) and its test predictions."""
        grid = decision_grid(proba, np.vstack([self.train.X, self.test.X]),
                             self.train.feature_names, GRID_RESOLUTION)
        return grid, (proba(self.test.X).argmax(axis=1) if len(self.test) else np.zeros(0))

    # -- export -------------------------------------------------------------------------------
    def config(self) -> RunConfig:
        """The run as a torchclf config (a generator or bundled table by name; custom data
        points to points.csv)."""
        return self.settings.run_config(max(self.epoch, 1))

    @property
    def own_data(self) -> bool:
        """Whether the rows are not the named dataset's (uploaded, or points clicked in):
        the exports then carry them as points.csv. A bundled table takes no clicks."""
        s = self.settings
        return s.dataset == "custom" or (s.dataset in synthetic.GENERATORS
                                         and len(self.data) != s.points)

    def points_csv(self) -> str:
        """The data with its labels, for a run that used uploaded or clicked points: an
        uploaded table's rows as uploaded (the run encodes them again), with the label
        column last and named "label" (a column of that name is always the label)."""
        if self.data.raw is not None:
            frame = self.data.raw.assign(label=self.data.decode(self.data.y))
            return frame.to_csv(index=False, lineterminator="\n")
        lines = ["x1,x2,label"] + [f"{a},{b},{self.data.classes[c]}"
                                   for (a, b), c in zip(self.data.X.tolist(), self.data.y)]
        return "\n".join(lines) + "\n"


def _points(ds: Dataset, grid) -> list:
    P = grid.view.to_2d(ds.X)
    return [[round(float(a), 4), round(float(b), 4), int(c)] for (a, b), c in zip(P, ds.y)]


def _counts(ds: Dataset) -> list[int]:
    return np.bincount(ds.y.astype(int), minlength=ds.n_classes).tolist()
