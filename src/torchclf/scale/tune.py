"""Hyperparameter search with Optuna: one study, any number of workers, any machines.

Workers that share a storage URL (SQLite on one machine, PostgreSQL across many) share
the study. Each trial trains on the training split minus a validation part and reports
validation accuracy at every log point, so Optuna's MedianPruner can stop poor trials
early; the test split is never looked at while searching. Every trial stores its full
RunConfig, so ``best_config(study)`` retrains the best trial to the same score.
"""

from __future__ import annotations

import logging
import math
import signal
import threading

from torchclf.config import RunConfig
from torchclf.errors import Interrupted, UserError
from torchclf.engine.callbacks import Callback

WIDTHS = (4, 8, 16, 32, 64)
DEPTHS = (1, 3)                       # smallest and largest number of hidden layers
ACTIVATIONS = ("relu", "tanh", "gelu")
LOG_RANGES = {"lr": (1e-3, 0.3), "weight_decay": (1e-6, 1e-2)}  # sampled log-uniformly
VALIDATION_FRACTION = 0.2


def check_space() -> None:
    """Every point of the search space is a valid config, by the schema's bounds."""
    from torchclf.config.schema import ModelConfig, TrainConfig
    from torchclf.spec import check_each
    check_each(ModelConfig, "hidden", [(w,) * d for w in WIDTHS for d in DEPTHS])
    check_each(ModelConfig, "activation", ACTIVATIONS)
    for name, bounds in LOG_RANGES.items():
        check_each(TrainConfig, name, bounds)


class PruneCallback(Callback):
    """Reports validation accuracy to the trial at log points; prunes when told."""

    def __init__(self, trial) -> None:
        self.trial = trial

    def on_log(self, state, row: dict) -> None:
        value = row.get("test_accuracy", math.nan)  # the validation part, see objective
        if math.isnan(value):
            return
        self.trial.report(value, state.epoch)
        if self.trial.should_prune():
            import optuna
            raise optuna.TrialPruned(f"pruned at epoch {state.epoch}")


def suggest_config(trial, base: RunConfig) -> RunConfig:
    """The trial's point in the search space, as a full RunConfig."""
    depth = trial.suggest_int("depth", *DEPTHS)
    width = trial.suggest_categorical("width", WIDTHS)
    config = base.replace("model", hidden=(width,) * depth,
                          activation=trial.suggest_categorical("activation", ACTIVATIONS))
    return config.replace("train",
                          **{name: trial.suggest_float(name, *bounds, log=True)
                             for name, bounds in LOG_RANGES.items()},
                          seed=base.train.seed + trial.number)


def validation_score(config: RunConfig, callbacks=()) -> float:
    """Train on the training split minus 20% and return accuracy on that 20%."""
    from torchclf.experiment import build_model, options_of, split_data
    from torchclf.engine.loop import fit
    from torchclf.run import Result
    train, _ = split_data(config)
    fit_part, val_part = train.split(VALIDATION_FRACTION, seed=config.data.split_seed)
    t = config.train
    run = fit(build_model(config, fit_part), fit_part, val_part, optimizer=t.optimizer,
              lr=t.lr, epochs=t.epochs, batch_size=t.batch_size, weight_decay=t.weight_decay,
              momentum=t.momentum, seed=t.seed, log_every=t.log_every,
              standardize=config.data.standardize, device=t.device, callbacks=callbacks,
              config=config.to_dict(), **options_of(t))
    return Result.from_outcome(run).metrics["test"]["accuracy"]


def open_study(name: str, storage: str | None, seed: int | None = None):
    """Create or join the study ``name`` on ``storage`` (None: in memory)."""
    import time

    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for attempt in range(6):
        try:
            return optuna.create_study(
                study_name=name, storage=storage, direction="maximize", load_if_exists=True,
                sampler=optuna.samplers.TPESampler(seed=seed),
                pruner=optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=1))
        except (ValueError, ImportError, ModuleNotFoundError) as e:
            raise UserError(f"cannot open storage {storage!r}: {e}") from None
        except Exception as e:  # SQLAlchemy's errors: unreachable, or a schema race
            if not type(e).__module__.startswith("sqlalchemy"):
                raise
            racing = any(w in str(e) for w in ("already exists", "UNIQUE", "locked"))
            if racing and attempt < 5:
                time.sleep(0.2 * (attempt + 1))  # another worker is creating the tables
                continue
            raise UserError(f"cannot open storage {storage!r}: {str(e).splitlines()[0]}") \
                from None


def optimize(study, base: RunConfig, trials: int, timeout: float | None = None) -> None:
    """Run ``trials`` trials of this worker on the (possibly shared) study.

    SIGINT or SIGTERM stops it at a safe point (see ``StopTrials``) and raises
    ``Interrupted``; a second signal acts at once."""
    check_space()
    stop = StopTrials()

    def objective(trial) -> float:
        stop.check()
        config = suggest_config(trial, base)
        trial.set_user_attr("config", config.to_dict())
        return validation_score(config, [stop, PruneCallback(trial)])

    def no_new_trial(study, trial) -> None:
        if stop.received is not None:
            study.stop()

    with stop:
        study.optimize(objective, n_trials=trials, timeout=timeout, catch=(),
                       callbacks=[no_new_trial])
        stop.check()


class StopTrials(Callback):
    """While searching, SIGINT and SIGTERM only set a flag: the running trial raises
    ``Interrupted`` at its next epoch end, which Optuna records as a failed trial before
    passing it on, so the signal never lands inside a storage write (a trial left
    RUNNING for ever); no new trial starts. Optuna's warning about that trial (60 lines
    of traceback) is dropped: the front end says "interrupted"."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)
    LOGGER = "optuna.study._optimize"  # where Optuna logs "Trial N failed ..."

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict = {}

    def __enter__(self) -> "StopTrials":
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        logging.getLogger(self.LOGGER).addFilter(self._quiet)
        return self

    def __exit__(self, *exc) -> None:
        self._restore()
        logging.getLogger(self.LOGGER).removeFilter(self._quiet)

    def _handle(self, signum, frame) -> None:
        self.received = signum
        self._restore()  # a second signal acts at once

    def _restore(self) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}

    def _quiet(self, record: logging.LogRecord) -> bool:
        return self.received is None or not record.getMessage().startswith("Trial ")

    def check(self) -> None:
        if self.received is not None:
            raise Interrupted(self.received)

    def on_epoch_end(self, state, row) -> None:
        self.check()


def best_config(study) -> RunConfig:
    """The best trial's RunConfig, which retrains to the same validation score."""
    from torchclf.config import from_dict
    completed = [t for t in study.trials if t.value is not None and "config" in t.user_attrs]
    if not completed:
        raise UserError(f"study {study.study_name!r} has no completed trials yet")
    return from_dict(study.best_trial.user_attrs["config"], f"study {study.study_name}")
