"""``torchclf predict``, ``evaluate`` and ``plot``: using a saved run directory."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import IO

from torchclf.cli.flags import add_setting, path
from torchclf.config.schema import OutputConfig
from torchclf.errors import UserError

PLOT_FILES = ("boundary.png", "curves.png", "confusion.png")


def add_parser(sub) -> None:
    pr = sub.add_parser("predict", help="probabilities and labels for the rows of a table")
    pr.add_argument("run", type=path, help="a run directory written by 'torchclf train'")
    pr.add_argument("input", type=path,
                    help="CSV or Parquet file with the run's feature columns")
    pr.add_argument("--output", "-o", type=path,
                    help="write CSV here instead of standard output")
    pr.set_defaults(handler=cmd_predict)

    ev = sub.add_parser("evaluate", help="metrics of a saved run on its test split or a file")
    ev.add_argument("run", type=path)
    ev.add_argument("data", nargs="?", type=path,
                    help="a labelled table (default: the run's test split)")
    ev.add_argument("--target", help="label column of DATA (default: the run's target "
                    "column if DATA has it, else DATA's last column)")
    ev.set_defaults(handler=cmd_evaluate)

    pl = sub.add_parser("plot", help="write boundary, curves and confusion PNGs for a run")
    pl.add_argument("run", type=path)
    pl.add_argument("--out", type=path, help="folder for the PNGs (default: the run directory)")
    add_setting(pl, OutputConfig, "resolution", applied=True)
    pl.set_defaults(handler=cmd_plot)


def cmd_predict(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    import numpy as np
    import pandas as pd
    from torchclf.data.tabular import echo_frame, read_frame
    from torchclf.store.modelfiles import load_model

    if args.output:  # before any work: never the input, nor a file torchclf did not write
        _check_predictions_file(Path(args.output), Path(args.input))
    predictor = load_model(_run_dir(args.run))
    frame = read_frame(args.input).rename(columns=str)
    proba = predictor.proba_of_features(predictor.features(frame, args.input))
    result = pd.DataFrame({f"proba_{c}": proba[:, i] for i, c in enumerate(predictor.classes)})
    labels = np.asarray(predictor.classes, dtype=object)[proba.argmax(axis=1)]
    result.insert(0, "predicted", labels if len(frame) else [])
    table = pd.concat([echo_frame(args.input, frame).reset_index(drop=True), result], axis=1)
    if args.output:
        from torchclf.atomic import atomic_write_text
        from torchclf.store.owned import write_error
        _check_predictions_file(Path(args.output), Path(args.input))
        try:
            atomic_write_text(args.output, table.to_csv(index=False))
        except OSError as e:
            raise write_error(Path(args.output), "the predictions", e) from None
        print(f"wrote {len(table)} predictions to {args.output}", file=out)
    else:
        out.write(table.to_csv(index=False))
    return 0


def _check_predictions_file(output: Path, source: Path) -> None:
    """``predict -o`` may write a new file or replace predictions it wrote before (a CSV
    whose last columns are ``predicted`` and ``proba_*``), never the input or another
    file (``export -o`` refuses the same)."""
    import csv
    from torchclf.store.owned import check_file_destination
    check_file_destination(output, "predictions")
    if not output.exists():
        return
    if source.exists() and output.samefile(source):
        raise UserError(f"{output} is the input file: give -o another file name")
    try:
        with output.open(newline="", encoding="utf-8") as f:
            header = next(csv.reader([f.readline(65536)]), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        header = []
    last = len(header) - 1 - header[::-1].index("predicted") if "predicted" in header else -1
    probas = header[last + 1:]
    if last < 0 or not probas or not all(c.startswith("proba_") for c in probas):
        raise UserError(f"{output} already exists and was not written by torchclf predict: "
                        "choose another output file, or move it away yourself")


def cmd_evaluate(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from torchclf.cli.console import confusion_table, metrics_table

    if args.data:
        from torchclf.store.modelfiles import load_model
        from torchclf.data.tabular import load_table
        predictor = load_model(_run_dir(args.run))
        ds = load_table(args.data, target=args.target or _run_target(args.run, args.data))
        _check_classes(ds.classes, predictor.classes, args.data)
        ds = _recode(ds, predictor.features(ds.raw, args.data), predictor)
        metrics = {"test": predictor.report(ds)}
        classes = predictor.classes
    else:
        run = _load_run_with_data(args.run)
        metrics = {"train": run.predictor.report(run.train),
                   "test": run.predictor.report(run.test)}
        classes = run.predictor.classes
    print(metrics_table(metrics), file=out)
    print("\nconfusion matrix (test)", file=out)
    print(confusion_table(metrics["test"], classes), file=out)
    return 0


def cmd_plot(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from torchclf.plots import png_bytes, run_figures
    from torchclf.store.owned import write_files

    run = _load_run_with_data(args.run)
    folder = Path(args.out) if args.out else Path(args.run)
    _check_plot_folder(folder)
    run.metrics = {"train": run.predictor.report(run.train),
                   "test": run.predictor.report(run.test)}
    # every picture drawn before anything is written: a failure while drawing leaves
    # the disk as it was
    images = {name: png_bytes(fig) for name, fig in run_figures(run, args.resolution).items()}
    for path in write_files(folder, images):
        print(f"wrote {path}", file=out)
    return 0


def _load_run_with_data(folder: str):
    """The run and its train/test split, rebuilt from its config.toml (which must exist:
    without it the defaults would silently stand in for the run's data)."""
    from torchclf.api import load_run
    from torchclf.store.rundir import load_config
    load_config(_run_dir(folder))
    return load_run(folder, with_data=True)


def _run_target(run: str, data: str) -> str | None:
    """The label column the run was trained on, when ``data`` has a column of that name
    (else None: the file's last column)."""
    from torchclf.data.tabular import column_names
    from torchclf.store.rundir import CONFIG, load_config
    if not (Path(run) / CONFIG).is_file():
        return None
    target = load_config(run).data.target
    return target if target is not None and target in column_names(data) else None


def _run_dir(path: str) -> Path:
    p = Path(path)
    if not p.is_dir():
        raise UserError(f"run directory not found: {path} (train one with 'torchclf train')")
    return p


def _check_plot_folder(folder: Path) -> None:
    """PNGs go into a run folder, or beside the user's files without replacing any."""
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
    unknown = [c for c in found if c not in known]
    if unknown:
        raise UserError(f"{where} has labels the model never saw: {unknown[:5]}; "
                        f"known labels: {list(known)}")


def _recode(ds, X, predictor):
    """``ds`` as the model sees it: features ``X`` (its rows encoded by the model) and
    labels as codes of the model's class list."""
    import numpy as np
    from torchclf.data.dataset import Dataset
    index = {c: i for i, c in enumerate(predictor.classes)}
    y = np.array([index[ds.classes[c]] for c in ds.y], dtype=np.int64)
    return Dataset(X, y, predictor.classes, predictor.feature_names, ds.name)


