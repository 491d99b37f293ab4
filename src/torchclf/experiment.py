"""From a RunConfig to a trained Run: the path the CLI, recipes and playground share."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from torchclf.config import DataConfig, RunConfig, TrainConfig
from torchclf.data import synthetic
from torchclf.data.dataset import Dataset
from torchclf.errors import UserError
from torchclf.model import MLP
from torchclf.run import Result
from torchclf.memory import release_free_memory
from torchclf.engine.callbacks import Callback
from torchclf.engine.loop import fit

FILE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq", ".gz")


def is_file_source(source: str) -> bool:
    """A path (has a separator or a table suffix) rather than a built-in name.

    A built-in name wins over a file of that name in the working directory: ``wine``
    is the bundled table, ``./wine`` the file.
    """
    return ("/" in source or "\\" in source or Path(source).suffix.lower() in FILE_SUFFIXES
            or Path(source).exists() and not synthetic.is_builtin(source))


def load_data(data: DataConfig) -> Dataset:
    """The full dataset named by ``data.source``: a generator, a bundled table or a file."""
    if is_file_source(data.source):
        if data.params:
            raise UserError("dataset parameters apply to built-in datasets only, "
                            f"not to the file {data.source}")
        from torchclf.data.tabular import load_table
        return load_table(data.source, target=data.target)
    if data.target is not None:
        raise UserError(f"--target applies to CSV/Parquet files; {data.source!r} is built in")
    return synthetic.load(data.source, **data.params)


def pin_data(config: RunConfig, target: str | None = None) -> RunConfig:
    """``config`` as a run records it, so its data is rebuilt the same from any folder: a
    table file's ``source`` made absolute and its ``target`` named (``target``, the label
    column the data was read with, else the file's last column). Built-ins are as given."""
    data = config.data
    if not is_file_source(data.source):
        return config
    if data.target is None and target is None:
        from torchclf.data.tabular import column_names
        target = column_names(data.source)[-1]
    return config.replace("data", source=os.path.abspath(data.source),
                          target=data.target or target)


def split_data(config: RunConfig) -> tuple[Dataset, Dataset]:
    """(train, test) exactly as a run with this config saw them."""
    ds = load_data(config.data)
    parts = ds.split(config.data.test_size, seed=config.data.split_seed,
                     stratify=config.data.stratify, reuse=True)  # loaded for this only
    del ds  # its rows are the parts' now
    release_free_memory()
    return parts


def build_model(config: RunConfig, ds: Dataset) -> MLP:
    """The config's MLP for this data, its initial weights fixed by the train seed."""
    m = config.model
    return MLP(ds.n_features, m.hidden, ds.n_classes, m.activation, m.dropout,
               task=m.task, seed=config.train.seed)


def run_config(config: RunConfig, callbacks: Sequence[Callback] = (), **fit_options) -> Result:
    """Load, split, build and train as the config says.

    ``fit_options`` pass through to ``fit`` (checkpointing and resuming).
    """
    train, test = split_data(config)
    config = pin_data(config, train.meta.get("target"))
    model = build_model(config, train)
    t = config.train
    outcome = fit(model, train, test, optimizer=t.optimizer, lr=t.lr, epochs=t.epochs,
                  batch_size=t.batch_size, weight_decay=t.weight_decay, momentum=t.momentum,
                  seed=t.seed, log_every=t.log_every,
                  eval_every=t.evaluation_interval(),
                  standardize=config.data.standardize,
                  early_stopping=t.early_stopping, device=t.device, callbacks=callbacks,
                  config=config.to_dict(), engine=t.engine, **options_of(t), **fit_options)
    return Result.from_outcome(outcome)


def options_of(t: TrainConfig) -> dict:
    """The ``fit`` arguments of the options beyond the lesson's loop (l1, schedule,
    class weights), as ``t`` sets them."""
    return dict(l1=t.l1, lr_schedule=t.lr_schedule, lr_step_size=t.lr_step_size,
                lr_gamma=t.lr_gamma, lr_patience=t.lr_patience, class_weight=t.class_weight)
