"""Grids of hyperparameters x seeds, trained at once, reported as mean ± std.

One lucky seed says little; a sweep trains every configuration with several seeds on
the same split (``engine.batched``) and reports each configuration's spread. The best
configuration can be saved as an ordinary run directory, whose config retrains to the
same weights with ``torchclf train --config``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from torchclf.config import RunConfig
from torchclf.config.schema import ModelConfig, SearchConfig, TrainConfig
from torchclf.spec import check_each, default_of
from torchclf.data.dataset import Dataset, Standardizer
from torchclf.errors import UserError
from torchclf.engine.batched import ModelSpec, Trained, train_many

CONFIG_COLUMNS = ["hidden", "activation", "optimizer", "lr"]


# Each grid field is a setting of the schema: (its config class, several values or one).
GRID_FIELDS = {"hidden": (ModelConfig, True), "lr": (TrainConfig, True),
               "activation": (ModelConfig, True), "optimizer": (TrainConfig, True),
               "seeds": (SearchConfig, False), "momentum": (TrainConfig, False),
               "weight_decay": (TrainConfig, False)}


def _default(name: str):
    cls, several = GRID_FIELDS[name]
    return (default_of(cls, name),) if several else default_of(cls, name)


@dataclass(frozen=True)
class Grid:
    """The values to cross; every combination is trained once per seed.

    Every value is checked by the config schema when the grid is built, so a bad grid
    fails before any model is trained, with the same message as a bad run config.
    """

    hidden: Sequence[tuple[int, ...]] = _default("hidden")
    lr: Sequence[float] = _default("lr")
    activation: Sequence[str] = _default("activation")
    optimizer: Sequence[str] = _default("optimizer")
    seeds: int = _default("seeds")
    momentum: float = _default("momentum")
    weight_decay: float = _default("weight_decay")

    def __post_init__(self) -> None:
        for name, (cls, several) in GRID_FIELDS.items():
            value = getattr(self, name)
            checked = check_each(cls, name, value if several else [value])
            object.__setattr__(self, name, checked if several else checked[0])

    def specs(self) -> list[ModelSpec]:
        return [ModelSpec(tuple(h), a, o, float(lr), self.momentum, self.weight_decay, seed)
                for h, a, o, lr in itertools.product(self.hidden, self.activation,
                                                     self.optimizer, self.lr)
                for seed in range(self.seeds)]


@dataclass
class SweepResult:
    """Per-run rows, per-configuration summary, and what is needed to save the best."""

    runs: "pandas.DataFrame"       # noqa: F821  one row per (configuration, seed)
    summary: "pandas.DataFrame"    # noqa: F821  one row per configuration, best first
    trained: list[Trained] = field(repr=False)
    base: RunConfig = field(repr=False)
    train: Dataset = field(repr=False)
    test: Dataset = field(repr=False)
    scaler: Standardizer | None = field(repr=False)
    epochs: int                    # each model's, as the base config says

    def best(self) -> Trained:
        """The best seed of the configuration with the best mean test accuracy."""
        top = self.summary.iloc[0]
        rows = [t for t in self.trained if _label(t.spec) == top["config"]]
        return max(rows, key=lambda t: (t.test_accuracy, -t.test_loss))

    def config_of(self, t: Trained) -> RunConfig:
        """A RunConfig that retrains ``t`` exactly with ``fit``."""
        s = t.spec
        c = self.base.replace("model", hidden=tuple(s.hidden), activation=s.activation,
                              dropout=0.0)
        return c.replace("train", optimizer=s.optimizer, lr=s.lr, momentum=s.momentum,
                         weight_decay=s.weight_decay, seed=s.seed, epochs=self.epochs,
                         batch_size=None, early_stopping=None)

    def save(self, folder: str | Path) -> Path:
        """results.csv (every run), summary.csv and summary.png, written as one folder.

        ``folder`` must be new, empty, or a sweep folder torchclf wrote (``owned``).
        """
        from torchclf.store.owned import write_folder
        from torchclf.plots import save_figure

        def fill(tmp: Path) -> None:
            (tmp / "results.csv").write_text(self.runs.to_csv(index=False), encoding="utf-8")
            (tmp / "summary.csv").write_text(self.summary.to_csv(index=False),
                                             encoding="utf-8")
            save_figure(plot_summary(self.summary), tmp / "summary.png")

        return write_folder(folder, "sweep", fill)

    def save_best(self, path: str | Path) -> Path:
        """The best run as a run directory (model files, config, history, plots).

        It is trained again, alone, by ``fit`` from ``config_of(best())``: exactly what
        ``torchclf train --config`` on the saved config gives, to the byte, whichever
        engine trained the sweep. (The sweep's own model is the same to float rounding,
        ``tests/test_batched.py``, not to the bit: the kernel's lanes and the stacked
        engine sum in another order than one model's kernel or autograd.)
        """
        from torchclf.experiment import run_config
        from torchclf.store.rundir import save_run
        return save_run(run_config(self.config_of(self.best())), path)


def run_sweep(base: RunConfig, grid: Grid, engine: str = "auto",
              progress: Callable[[int], None] | None = None) -> SweepResult:
    """Train the grid on ``base``'s data and split; ``base.train.epochs`` epochs each."""
    import pandas as pd
    from torchclf.experiment import split_data
    if base.train.autograd_only():
        raise UserError(f"a sweep trains its models without {base.train.autograd_only()[0]}: "
                        "train such a configuration with fit or torchclf train")
    train, test = split_data(base)
    trained, scaler = train_many(grid.specs(), train, test, base.train.epochs,
                                 task=base.model.task, standardize=base.data.standardize,
                                 device=base.train.device, engine=engine, progress=progress)
    runs = pd.DataFrame([{
        "config": _label(t.spec), "hidden": ",".join(map(str, t.spec.hidden)) or "none",
        "activation": t.spec.activation, "optimizer": t.spec.optimizer, "lr": t.spec.lr,
        "seed": t.spec.seed, "train_accuracy": t.train_accuracy,
        "test_accuracy": t.test_accuracy, "test_loss": t.test_loss,
        "final_loss": float(t.loss[-1])} for t in trained])
    summary = (runs.groupby(["config", *CONFIG_COLUMNS], sort=False)
               .agg(test_mean=("test_accuracy", "mean"), test_std=("test_accuracy", "std"),
                    train_mean=("train_accuracy", "mean"), seeds=("seed", "count"))
               .reset_index().fillna({"test_std": 0.0})
               .sort_values(["test_mean", "test_std"], ascending=[False, True])
               .reset_index(drop=True))
    return SweepResult(runs, summary, trained, base, train, test, scaler, base.train.epochs)


def plot_summary(summary):
    """Mean test accuracy per configuration with ± one standard deviation."""
    from matplotlib.figure import Figure
    k = len(summary)
    fig = Figure(figsize=(8, 1.2 + 0.35 * k), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(k)[::-1]
    ax.barh(y, 100 * summary["test_mean"], xerr=100 * summary["test_std"], color="#2b6cb0",
            alpha=0.8, capsize=3)
    ax.set_yticks(y, summary["config"], fontsize=8)
    lo = max(0.0, 100 * float((summary["test_mean"] - summary["test_std"]).min()) - 5)
    ax.set_xlim(lo, 100.5)
    ax.set_xlabel(f"test accuracy, % (mean ± std over {int(summary['seeds'].max())} seeds)")
    ax.set_title("Sweep")
    ax.grid(axis="x", alpha=0.3)
    return fig


def _label(spec: ModelSpec) -> str:
    hidden = "-".join(map(str, spec.hidden)) or "linear"
    return f"{hidden} {spec.activation} {spec.optimizer} lr={spec.lr:g}"
