"""The ``torchclf`` command line: the only module that prints.

Each command turns flags into library calls (a RunConfig, a run directory) and prints
the result. Heavy imports (torch, matplotlib, pandas) happen inside the commands, so
``torchclf --help`` answers at once. User mistakes exit 2 with one line on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import IO, Sequence

from torchclf.cli.flags import (add_data_options, add_model_options, add_output_options,
                                add_setting, add_train_options, apply_data_options,
                                apply_run_options, output_config)
from torchclf.config.schema import OutputConfig

PROG = "torchclf"
PLOT_FILES = ("boundary.png", "curves.png", "confusion.png")
# Commands that live in their own modules: each has add_parser(subparsers) registering a
# parser whose defaults include handler=run, and run(args, out, err) -> exit code.
EXTENSIONS = ("torchclf.cli.sweep", "torchclf.cli.tune", "torchclf.cli.playground")


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line naming the fix, not a usage dump."""

    def __init__(self, *args, **kwargs) -> None:
        from torchclf.cli.flags import Formatter
        kwargs.setdefault("formatter_class", Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Neural-network classification with PyTorch.")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    sub.add_parser("datasets", help="list the built-in datasets and their parameters")

    t = sub.add_parser("train", help="train a model on a built-in dataset or a CSV/Parquet file")
    t.add_argument("source", nargs="?", help="built-in dataset name or path to a table file")
    t.add_argument("--config", help="a run.toml; flags given here override it")
    _add_run_options(t)

    pr = sub.add_parser("predict", help="probabilities and labels for the rows of a table")
    pr.add_argument("run", help="a run directory written by 'torchclf train'")
    pr.add_argument("input", help="CSV or Parquet file with the run's feature columns")
    pr.add_argument("--output", "-o", help="write CSV here instead of standard output")

    ev = sub.add_parser("evaluate", help="metrics of a saved run on its test split or a file")
    ev.add_argument("run")
    ev.add_argument("data", nargs="?", help="a labelled table (default: the run's test split)")
    ev.add_argument("--target", help="label column of DATA (default: the run's)")

    pl = sub.add_parser("plot", help="write boundary, curves and confusion PNGs for a run")
    pl.add_argument("run")
    pl.add_argument("--out", help="folder for the PNGs (default: the run directory)")
    add_setting(pl, OutputConfig, "resolution", applied=True)

    rc = sub.add_parser("recipes", help="the lesson's experiments: list, show, run")
    rsub = rc.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    rsub.add_parser("list", help="every recipe and the accuracy it promises")
    show = rsub.add_parser("show", help="print a recipe's TOML")
    show.add_argument("name")
    run = rsub.add_parser("run", help="train a recipe and check its promised accuracy")
    run.add_argument("name")
    add_output_options(run)
    for module in _extensions():
        module.add_parser(sub)
    return p


def _extensions() -> list:
    import importlib
    found = []
    for name in EXTENSIONS:
        try:
            found.append(importlib.import_module(name))
        except ModuleNotFoundError as e:
            if e.name is None or not name.startswith(e.name):
                raise
    return found


def _add_run_options(t: argparse.ArgumentParser) -> None:
    add_data_options(t)
    add_model_options(t)
    o = add_train_options(t)
    add_setting(o, OutputConfig, "checkpoint_every", metavar="N")
    o.add_argument("--resume", metavar="CHECKPOINT",
                   help="continue an interrupted run from its .checkpoint.pt file")
    add_setting(o, OutputConfig, "nproc", applied=True)
    add_output_options(t)


# -- commands ---------------------------------------------------------------------------

def cmd_datasets(args: argparse.Namespace, out: IO[str]) -> int:
    from torchclf.data import synthetic
    for name, fn in synthetic.GENERATORS.items():
        params = ", ".join(f"{k}={v}" for k, v in synthetic.parameters(name).items())
        print(f"{name:<8} {(fn.__doc__ or '').strip().splitlines()[0]}", file=out)
        print(f"{'':<8} {params}", file=out)
    print("\nYour own data: torchclf train FILE.csv --target COLUMN (CSV or Parquet)", file=out)
    return 0


def _config_from_args(args: argparse.Namespace):
    from torchclf import config as cfg

    if getattr(args, "resume", None):
        return cfg.from_dict(_checkpoint(args).config, str(args.resume))
    if args.config:
        config = cfg.load(args.config)
        if args.source:
            config = config.replace("data", source=args.source, params={})
    elif args.source:
        config = cfg.RunConfig()
        config = config.replace("data", source=args.source)
    else:
        raise _usage("train needs a dataset name, a table file or --config FILE")
    config = apply_run_options(apply_data_options(config, args), args)
    name = Path(config.data.source).stem if not args.config else config.name
    return config.replace(name=name)


def check_device(config) -> None:
    """Fail on a device this machine lacks before any data is loaded (the schema
    has checked every other value when the config was built)."""
    from torchclf.runtime import resolve_device
    resolve_device(config.train.device)


def _checkpoint(args: argparse.Namespace):
    if getattr(args, "_loaded_checkpoint", None) is None:
        from torchclf.engine.checkpoint import Checkpoint
        args._loaded_checkpoint = Checkpoint.load(args.resume)
    return args._loaded_checkpoint


def _train_and_save(config, args: argparse.Namespace, out: IO[str], err: IO[str]):
    """Train with printing, checkpoints and signal handling; save the run directory.

    Returns (run, path), or (None, exit code) when a signal interrupted training.
    """
    import signal
    from torchclf.cli.console import LessonPrinter, ProgressBar, metrics_table
    from torchclf.experiment import run_config
    from torchclf.store.owned import check_destination
    from torchclf.store.rundir import save_run, unique_run_dir
    from torchclf.engine.callbacks import StopOnSignal
    from torchclf.engine.checkpoint import check_checkpoint_destination
    from torchclf.engine.loop import TrainingInterrupted

    check_device(config)
    resume = _checkpoint(args) if getattr(args, "resume", None) else None
    if resume is not None:
        target = Path(resume.extra.get("out") or unique_run_dir(args.runs_dir, config.name))
    else:
        target = Path(args.out) if args.out else unique_run_dir(args.runs_dir, config.name)
    check_destination(target, "run")  # before training: never replace a user's folder
    show_bar = args.progress if args.progress is not None else err.isatty()
    bar = ProgressBar(err) if show_bar else None
    stopper = StopOnSignal()
    callbacks = [stopper] + ([bar] if bar is not None else [])
    if not args.quiet:
        callbacks.append(LessonPrinter(out, bar))
    checkpoint = check_checkpoint_destination(target.parent / f"{target.name}.checkpoint.pt")
    try:
        run = run_config(config, callbacks, checkpoint_path=checkpoint,
                         checkpoint_every=getattr(args, "checkpoint_every", None),
                         resume=resume, checkpoint_extra={"out": str(target)})
    except TrainingInterrupted as e:
        print(f"{PROG}: {e}; continue with: {PROG} train --resume {e.checkpoint}", file=err)
        return None, 128 + (stopper.received or signal.SIGINT)
    if run.stop_reason:
        print(run.stop_reason, file=out)
    save_run(run, target, plots=not args.no_plots)
    checkpoint.unlink(missing_ok=True)
    print(metrics_table(run.metrics), file=out)
    print(f"saved run to {target}", file=out)
    return run, target


def cmd_train(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    import os
    config = _config_from_args(args)
    if args.nproc > 1 or int(os.environ.get("WORLD_SIZE", "1")) > 1:
        check_device(config)
        if args.out:
            from torchclf.store.owned import check_destination
            check_destination(args.out, "run")
        from torchclf.scale.distributed import train_distributed
        return train_distributed(config, args, out, err)
    run, result = _train_and_save(config, args, out, err)
    return 0 if run is not None else result


def cmd_predict(args: argparse.Namespace, out: IO[str]) -> int:
    import pandas as pd
    from torchclf.data.tabular import read_features
    from torchclf.store.modelfiles import load_model

    predictor = load_model(_run_dir(args.run))
    X, frame = read_features(args.input, predictor.feature_names)
    proba = predictor.predict_proba(X)
    result = pd.DataFrame({f"proba_{c}": proba[:, i] for i, c in enumerate(predictor.classes)})
    result.insert(0, "predicted", predictor.predict(X) if len(X) else [])
    table = pd.concat([frame.reset_index(drop=True), result], axis=1)
    if args.output:
        from torchclf.atomic import atomic_write_text
        from torchclf.store.owned import check_file_destination
        check_file_destination(args.output, "predictions")
        atomic_write_text(args.output, table.to_csv(index=False))
        print(f"wrote {len(table)} predictions to {args.output}", file=out)
    else:
        out.write(table.to_csv(index=False))
    return 0


def cmd_evaluate(args: argparse.Namespace, out: IO[str]) -> int:
    from torchclf.cli.console import confusion_table, metrics_table
    from torchclf.api import load_run

    if args.data:
        from torchclf.store.modelfiles import load_model
        from torchclf.data.tabular import load_table
        predictor = load_model(_run_dir(args.run))
        ds = load_table(args.data, target=args.target)
        _check_classes(ds.classes, predictor.classes, args.data)
        ds = _recode(ds, predictor.classes)
        metrics = {"test": predictor.report(ds)}
        classes = predictor.classes
    else:
        run = load_run(_run_dir(args.run), with_data=True)
        metrics = {"train": run.predictor.report(run.train),
                   "test": run.predictor.report(run.test)}
        classes = run.predictor.classes
    print(metrics_table(metrics), file=out)
    print("\nconfusion matrix (test)", file=out)
    print(confusion_table(metrics["test"]["confusion_matrix"], classes), file=out)
    return 0


def cmd_plot(args: argparse.Namespace, out: IO[str]) -> int:
    from torchclf.api import load_run
    from torchclf.plots import run_figures, save_figure

    run = load_run(_run_dir(args.run), with_data=True)
    folder = Path(args.out) if args.out else Path(args.run)
    _check_plot_folder(folder)
    folder.mkdir(parents=True, exist_ok=True)
    run.metrics = {"train": run.predictor.report(run.train),
                   "test": run.predictor.report(run.test)}
    for name, fig in run_figures(run, args.resolution).items():
        save_figure(fig, folder / name)
        print(f"wrote {folder / name}", file=out)
    return 0


def cmd_recipes(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from torchclf import recipes
    if args.action in (None, "list"):
        for name in recipes.names():
            c = recipes.load(name)
            sign = "<=" if c.expect_at_most else ">="
            print(f"{name:<15} test acc {sign} {100 * c.expect_test_accuracy:5.1f}%  "
                  f"{c.description}", file=out)
        return 0
    if args.action == "show":
        out.write(recipes.text(args.name))
        return 0
    config = recipes.load(args.name)
    print(f"recipe {config.name}: {config.description}", file=out)
    run, result = _train_and_save(config, args, out, err)
    if run is None:
        return result
    acc = run.metrics["test"]["accuracy"]
    sign = "<=" if config.expect_at_most else ">="
    ok = recipes.reached(config, acc)
    print(f"{'PASS' if ok else 'FAIL'}: test accuracy {100 * acc:.2f}% "
          f"(expected {sign} {100 * config.expect_test_accuracy:.1f}%)", file=out)
    return 0 if ok else 1


# -- plumbing ---------------------------------------------------------------------------

def _usage(message: str) -> Exception:
    from torchclf.errors import UserError
    return UserError(message)


def _run_dir(path: str) -> Path:
    from torchclf.errors import UserError
    p = Path(path)
    if not p.is_dir():
        raise UserError(f"run directory not found: {path} (train one with 'torchclf train')")
    return p


def _check_plot_folder(folder: Path) -> None:
    """PNGs go into a run folder, or beside the user's files without replacing any."""
    from torchclf.errors import UserError
    from torchclf.store.owned import check_file_destination, foreign_content
    if folder.is_dir() and foreign_content(folder, "run"):
        taken = [n for n in PLOT_FILES if (folder / n).exists()]
        if taken:
            raise UserError(f"{folder / taken[0]} already exists and was not written by "
                            "torchclf: choose another --out folder")
    elif folder.exists() and not folder.is_dir():
        raise UserError(f"{folder} is a file: give --out a folder for the PNGs")
    for name in PLOT_FILES:
        check_file_destination(folder / name, "plot")


def _check_classes(found: tuple, known: tuple, where: str) -> None:
    from torchclf.errors import UserError
    unknown = [c for c in found if c not in known]
    if unknown:
        raise UserError(f"{where} has labels the model never saw: {unknown[:5]}; "
                        f"known labels: {list(known)}")


def _recode(ds, classes: tuple):
    """Re-express ``ds`` labels as codes of the model's class list."""
    import numpy as np
    from torchclf.data.dataset import Dataset
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[ds.classes[c]] for c in ds.y], dtype=np.int64)
    return Dataset(ds.X, y, classes, ds.feature_names, ds.name)


def main(argv: Sequence[str] | None = None, out: IO[str] | None = None,
         err: IO[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 recipe missed, 2 user mistake)."""
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.version:
        from torchclf.version import __version__
        print(f"torchclf {__version__}", file=out)
        return 0
    if args.command is None:
        parser.print_help(out)
        return 0
    from torchclf.errors import UserError
    try:
        output_config(args)  # bounds of --nproc, --resolution, ... before any work
        if args.command == "datasets":
            return cmd_datasets(args, out)
        if args.command == "train":
            return cmd_train(args, out, err)
        if args.command == "predict":
            return cmd_predict(args, out)
        if args.command == "evaluate":
            return cmd_evaluate(args, out)
        if args.command == "plot":
            return cmd_plot(args, out)
        if args.command == "recipes":
            return cmd_recipes(args, out, err)
        return args.handler(args, out, err)
    except UserError as e:
        print(f"{PROG}: error: {e}", file=err)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=err)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
