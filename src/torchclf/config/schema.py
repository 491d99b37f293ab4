"""The run's settings: every default, bound, choice and help text, defined once.

A config is frozen dataclasses (data, model, train) whose fields carry a ``Spec``;
constructing one (directly, with ``replace``, from TOML or from any front end) checks
every field, so a bad value is a one-line UserError before any data or weights exist.
``config.toml`` in a run directory is this object, and running it again reproduces it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from torchclf.data.dataset import DEFAULT_TEST_SIZE, TEST_SIZE
from torchclf.data.synthetic import GENERATOR_PARAMS
from torchclf.hyper import (CLASS_WEIGHT, DEFAULT_ACTIVATION, DEFAULT_GAMMA,
                            DEFAULT_PATIENCE, DEFAULT_STEP_SIZE, DROPOUT, L1, LR, LR_GAMMA,
                            LR_PATIENCE, LR_STEP_SIZE, MAX_EPOCHS, MOMENTUM, NO_CLASS_WEIGHT,
                            NO_DROPOUT, NO_L1, NO_MOMENTUM, NO_SCHEDULE, NO_WEIGHT_DECAY,
                            WEIGHT_DECAY)
from torchclf.spec import (DEFAULT_SEED, RANDOM_STATE, SEED, SettingError, Spec, field_of,
                           setting, spec_of, validate)
from torchclf.errors import UserError

MAX_UNITS = 65_536            # per hidden layer: a 200,000,000-unit layer is refused
MAX_LAYERS = 64
MAX_ROWS = 1_000_000_000
MAX_PORT = 65_535
EVAL_POINTS = 100             # test evaluations over a run when eval_every is unset
MAX_FEATURES = 1_000_000      # input columns of a saved model (model.json)
MAX_CLASSES = 1_000_000       # classes of a saved model (model.json)


def _activations():
    from torchclf.model import ACTIVATIONS
    return ACTIVATIONS


def _optimizers():
    from torchclf.optimizers import OPTIMIZERS
    return OPTIMIZERS


def _schedules():
    from torchclf.schedules import SCHEDULES
    return SCHEDULES


def _tasks():
    from torchclf.task import TASKS
    return ("auto", *TASKS)


def _devices():
    from torchclf.runtime import DEVICES
    return DEVICES


# The engines a run or a batch of models can ask for.
FIT_ENGINES = ("auto", "autograd", "fast")
BATCH_ENGINES = ("auto", "stacked", "kernel")
# How the rows are split: stratified (ours, the default) or as the lesson does.
SPLITS = ("stratified", "lesson")
# How a logged line looks (cli/console.py writes them): torchclf's aligned columns, or a
# lesson's own print: Acc 0.86 (the exercises), Acc 86.00% with commas (the blobs chapter),
# ``Epoch 0 loss is 0.76...`` (Neuromatch's NaiveNet). The lessons print only the epochs
# that are multiples of log_every.
LOG_FORMATS = ("torchclf", "fraction", "percent", "naive")


def split_name(stratify: bool) -> str:
    """The ``split`` setting of ``Dataset.split(stratify=...)``."""
    return SPLITS[0] if stratify else SPLITS[1]


def _device_kind(name: str) -> str:
    return name.lower().split(":")[0]  # cuda:1 is a cuda device


def seed_setting(help: str) -> Any:
    return field_of(SEED, DEFAULT_SEED, help)


def _count(default: int | None, help: str, hi: int, lo: int = 1) -> Any:
    return setting(default, help, kind=int, lo=lo, hi=hi, optional=default is None)


# TorchClassifier's parameters that no run setting matches, under scikit-learn's names
# (the others are settings: ``config.sklearn_names``); bounded as scikit-learn bounds them.
ESTIMATOR_PARAMS = {
    "tol": Spec(float, "loss improvement that counts as progress", lo=0),
    "early_stopping": Spec(bool, "stop on a validation split's loss"),
    "warm_start": Spec(bool, "continue from the previous fit's weights"),
}


@dataclass(frozen=True)
class DataConfig:
    """Where the rows come from and how they are split and scaled."""

    source: str = setting("moons", "built-in dataset name or path to a CSV/Parquet file",
                          nonblank=True)
    params: dict = setting({}, "generator parameters of a built-in dataset")
    target: str | None = setting(None, "label column of a table file (default: last column)",
                                 kind=str, optional=True)
    test_size: float = field_of(TEST_SIZE, DEFAULT_TEST_SIZE)
    split_seed: int = seed_setting("seed of the train/test split")
    split: str = setting("stratified", "stratified keeps each class's share on both sides; "
                         "lesson is scikit-learn's train_test_split(test_size=test_size, "
                         "random_state=split_seed), unstratified, as the lesson splits",
                         choices=SPLITS)
    standardize: bool = setting(True, "scale features by the training rows' mean and std")

    def __post_init__(self) -> None:
        validate(self)
        if not self.stratify:  # scikit-learn's random_state
            RANDOM_STATE.check("split_seed", self.split_seed)
        object.__setattr__(self, "params", {k: _generator_param(k, v)
                                            for k, v in self.params.items()})

    @property
    def stratify(self) -> bool:
        """Whether the split keeps each class's share (``Dataset.split(stratify=...)``)."""
        return self.split == split_name(True)


@dataclass(frozen=True)
class ModelConfig:
    """The MLP: hidden sizes (empty = linear), activation, dropout, task."""

    hidden: tuple[int, ...] = setting((8, 8), "hidden layer sizes, e.g. 8,8; none or [] for a "
                                      "linear model",
                                      kind=tuple, lo=1, hi=MAX_UNITS, max_items=MAX_LAYERS)
    activation: str = setting(DEFAULT_ACTIVATION, "nonlinearity after each hidden layer",
                              choices=_activations)
    dropout: float = field_of(DROPOUT, NO_DROPOUT)
    task: str = setting("auto", "the loss; binary is 1 logit + BCE, multiclass K logits + "
                        "CE, auto picks by the number of classes", choices=_tasks)

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True)
class TrainConfig:
    """Optimizer and schedule; ``seed`` fixes weights, shuffling and dropout."""

    optimizer: str = setting("sgd", "update rule", choices=_optimizers)
    lr: float = field_of(LR, 0.1)
    momentum: float = field_of(MOMENTUM, NO_MOMENTUM)
    weight_decay: float = field_of(WEIGHT_DECAY, NO_WEIGHT_DECAY)
    l1: float = field_of(L1, NO_L1)
    lr_schedule: str = setting(NO_SCHEDULE, "how the lr changes over the epochs (stepped "
                               "once per epoch)", choices=_schedules)
    lr_step_size: int = field_of(LR_STEP_SIZE, DEFAULT_STEP_SIZE)
    lr_gamma: float = field_of(LR_GAMMA, DEFAULT_GAMMA)
    lr_patience: int = field_of(LR_PATIENCE, DEFAULT_PATIENCE)
    class_weight: str | dict = field_of(CLASS_WEIGHT, NO_CLASS_WEIGHT)
    epochs: int = _count(1000, "passes over the training rows", MAX_EPOCHS)
    batch_size: int | None = _count(None, "rows per step; unset: full batch on small data",
                                    MAX_ROWS)
    seed: int = seed_setting("seeds weights, shuffling and dropout")
    log_every: int = _count(100, "epochs between logged lines", MAX_EPOCHS)
    log_format: str = setting("torchclf", "how a logged line looks: torchclf (aligned, "
                              "plus the last epoch), or a lesson's print: fraction "
                              "(Acc: 0.86), percent (Loss: 1.0432, Acc: 65.50%), naive "
                              "(Epoch 0 loss is 0.76...)", choices=LOG_FORMATS)
    eval_every: int | None = _count(None, "epochs between test evaluations; "
                                    "unset: about 100 over the run", MAX_EPOCHS)
    early_stopping: int | None = _count(None, "stop when the validation loss stalls this "
                                        "many epochs; keep the best", MAX_EPOCHS)
    device: str = setting("auto", "where to train; auto picks cuda, then mps, then cpu",
                          choices=_devices, match=_device_kind)
    engine: str = setting("auto", "how epochs are computed: auto takes the compiled kernel "
                          "where it prints autograd's numbers (SGD MLPs on the CPU, full "
                          "batch or mini-batches), fast insists on it; a saved run "
                          "records which one ran",
                          choices=FIT_ENGINES)

    def __post_init__(self) -> None:
        validate(self)

    def autograd_only(self) -> list[str]:
        """The settings given that only one-process autograd training implements."""
        return [name for name, unset in (("l1", NO_L1), ("lr_schedule", NO_SCHEDULE),
                                         ("class_weight", NO_CLASS_WEIGHT))
                if getattr(self, name) != unset]

    def evaluation_interval(self) -> int:
        """Epochs between test evaluations: ``eval_every``, else about EVAL_POINTS."""
        return self.eval_every or max(1, self.epochs // EVAL_POINTS)


@dataclass(frozen=True)
class RunConfig:
    """A whole run. ``expect_test_accuracy`` is what a recipe promises, if anything."""

    name: str = setting("run", "folder name of the run under the runs directory")
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    description: str = setting("", "what the run shows")
    expect_test_accuracy: float | None = setting(None, "accuracy a recipe promises",
                                                 kind=float, lo=0, hi=1, optional=True)
    expect_at_most: bool = setting(False, "the promise is an upper bound (a failing model)")

    def __post_init__(self) -> None:
        validate(self)
        name = self.name
        if not name or name in (".", "..") or any(c in name for c in "/\\\0"):
            raise UserError(f"run name {name!r} must be a plain folder name "
                            "(no '/', '\\' or '..'): it names a folder under the runs directory")

    def replace(self, section: str | None = None, **changes: Any) -> "RunConfig":
        """A copy with fields changed, in a section (``"train"``) or at the top level."""
        if section is None:
            return dataclasses.replace(self, **changes)
        return dataclasses.replace(
            self, **{section: dataclasses.replace(getattr(self, section), **changes)})

    def to_dict(self) -> dict:
        """Plain data (TOML has no None: unset options are left out)."""
        return _drop_none(dataclasses.asdict(self))

    def to_toml(self) -> str:
        import tomli_w
        return tomli_w.dumps(self.to_dict())


# What a saved model's model.json may say: read back before any weights are allocated
# (the hidden sizes, activation and dropout are ModelConfig's own settings).
MODEL_FILE_PARAMS = {
    "in_features": Spec(int, "input columns", lo=1, hi=MAX_FEATURES),
    "n_classes": Spec(int, "classes", lo=2, hi=MAX_CLASSES),
    "task": Spec(str, "the loss the model was trained with", choices=lambda: _tasks()[1:]),
    **{name: spec_of(ModelConfig, name) for name in ("hidden", "activation", "dropout")},
}

SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}


def _generator_param(key: str, value: Any) -> Any:
    """A known generator parameter, bounded; text from ``--param K=V`` read as a number."""
    spec = GENERATOR_PARAMS.get(key)
    if spec is None:
        return value
    if isinstance(value, str):
        try:
            value = int(value) if spec.kind is int else float(value)
        except ValueError:
            raise SettingError(key, value, spec.requirement(), "an integer"
                               if spec.kind is int else "a finite number") from None
    return spec.check(key, value)


def _drop_none(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _drop_none(v) for k, v in d.items() if v is not None}
    if isinstance(d, tuple):
        return list(d)
    return d


@dataclass(frozen=True)
class OutputConfig:
    """Where and how a command writes; not part of a run's config.toml."""

    runs_dir: str = setting("runs", "parent folder of default run directories",
                            nonblank=True)
    checkpoint_every: int | None = _count(None, "write a resumable checkpoint next to the run "
                                          "every N epochs", MAX_EPOCHS)
    nproc: int = _count(1, "data-parallel processes (DDP: gloo on CPU, nccl on GPUs); also "
                        "used when started by torchrun", 1024)
    resolution: int = _count(200, "grid points per side of the decision-boundary plot", 4000,
                             lo=2)
    max_frames: int = _count(100, "most frames in boundary.gif; log points beyond are thinned "
                         "evenly", 1000, lo=2)

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True)
class SearchConfig:
    """How much a sweep or a tune worker trains."""

    seeds: int = _count(5, "seeds per sweep configuration", 10_000)
    engine: str = setting("auto", "how a sweep trains its models at once; kernel needs "
                          "the CPU, stacked batches them as matrices", choices=BATCH_ENGINES)
    trials: int = _count(20, "trials for this tune worker", 1_000_000)
    timeout: float | None = setting(None, "stop this tune worker after this many seconds",
                                    kind=float, lo=0, lo_open=True, optional=True)

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True)
class ServeConfig:
    """Where ``torchclf playground`` listens; not part of a run."""

    host: str = setting("127.0.0.1", "address to bind; the default serves this machine only")
    port: int = _count(8000, "port to listen on; 0 picks a free one", MAX_PORT, lo=0)

    def __post_init__(self) -> None:
        validate(self)
