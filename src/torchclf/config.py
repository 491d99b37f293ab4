"""One typed config for a run, read from and written to TOML.

Front ends (CLI flags, recipe files, the playground) build a ``RunConfig``; the library
never sees an argparse namespace. ``config.toml`` in a run directory is this object, and
running it again reproduces the run exactly.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torchclf.errors import UserError
from torchclf.registry import unknown_name

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class DataConfig:
    """Where the rows come from and how they are split and scaled."""

    source: str = "moons"          # a built-in dataset name or a CSV/Parquet path
    params: dict = field(default_factory=dict)  # generator parameters (built-ins)
    target: str | None = None      # label column (files); None = last column
    test_size: float = 0.2
    split_seed: int = 42
    standardize: bool = True


@dataclass(frozen=True)
class ModelConfig:
    """The MLP: hidden sizes (empty = linear), activation, dropout, task."""

    hidden: tuple[int, ...] = (8, 8)
    activation: str = "relu"
    dropout: float = 0.0
    task: str = "auto"


@dataclass(frozen=True)
class TrainConfig:
    """Optimizer and schedule; ``seed`` fixes weights, shuffling and dropout."""

    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.0
    weight_decay: float = 0.0
    epochs: int = 1000
    batch_size: int | None = None
    seed: int = 42
    log_every: int = 100
    eval_every: int | None = None  # test evaluations; None: about 100 over the run
    early_stopping: int | None = None
    device: str = "auto"


@dataclass(frozen=True)
class RunConfig:
    """A whole run. ``expect_test_accuracy`` is what a recipe promises, if anything."""

    name: str = "run"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    description: str = ""
    expect_test_accuracy: float | None = None
    expect_at_most: bool = False   # the lesson's failing model: accuracy stays near chance

    def __post_init__(self) -> None:
        name = str(self.name)
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


SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}


def from_dict(d: dict, where: str = "config") -> RunConfig:
    """Validate names and types; unknown keys get a suggestion instead of being ignored."""
    top = {f.name: f for f in dataclasses.fields(RunConfig)}
    kwargs: dict[str, Any] = {}
    for key, value in d.items():
        if key not in top:
            raise unknown_name(f"key in {where}", key, top)
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise UserError(f"expected a [{key}] table in {where}, got {value!r}")
            kwargs[key] = _section(SECTIONS[key], value, f"{where} [{key}]")
        else:
            kwargs[key] = value
    return RunConfig(**kwargs)


def load(path: str | Path) -> RunConfig:
    """Read a TOML config; a missing or malformed file is a UserError naming it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read config file {path}: {e}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{path} is not valid TOML: {e}") from None
    return from_dict(data, str(path))


def _section(cls: type, values: dict, where: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    defaults = cls()
    out = {}
    for key, value in values.items():
        if key not in fields:
            raise unknown_name(f"key in {where}", key, fields)
        default = getattr(defaults, key)
        out[key] = _coerce(value, default, key, where)
    return cls(**out)


def _coerce(value: Any, default: Any, key: str, where: str) -> Any:
    if isinstance(default, tuple):
        if not isinstance(value, (list, tuple)) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise UserError(f"expected a list of integers for {key} in {where}, got {value!r}")
        return tuple(value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise UserError(f"expected true or false for {key} in {where}, got {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"expected a number for {key} in {where}, got {value!r}")
        return float(value)
    if isinstance(default, int) or key in ("batch_size", "early_stopping", "eval_every"):
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"expected an integer for {key} in {where}, got {value!r}")
        return value
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise UserError(f"expected a table for {key} in {where}, got {value!r}")
        return dict(value)
    if isinstance(default, str) or key == "target":
        if not isinstance(value, str):
            raise UserError(f"expected a string for {key} in {where}, got {value!r}")
    return value


def _drop_none(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _drop_none(v) for k, v in d.items() if v is not None}
    if isinstance(d, tuple):
        return list(d)
    return d
