"""``torchclf sweep``: a hyperparameter grid across seeds, as one batched computation."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import IO

from torchclf.config.schema import ModelConfig, RunConfig, SearchConfig, TrainConfig


GRID_FLAGS = {"hidden": ModelConfig, "lr": TrainConfig, "activation": ModelConfig,
              "optimizer": TrainConfig}
FIXED_FLAGS = {"momentum": TrainConfig, "weight_decay": TrainConfig, "epochs": TrainConfig,
               "task": ModelConfig, "device": TrainConfig}


def add_parser(sub) -> None:
    from torchclf.cli.flags import add_data_command, add_progress_options, add_setting, path
    p = add_data_command(sub, "sweep", "train a grid of configurations x seeds at once and "
                                       "report mean ± std test accuracy")
    g = p.add_argument_group("grid (several values each; every combination is trained)")
    for name, cls in GRID_FLAGS.items():
        add_setting(g, cls, name, nargs="+",
                    **({"metavar": "SIZES"} if name == "hidden" else {}))
    add_setting(g, SearchConfig, "seeds")
    for name, cls in FIXED_FLAGS.items():
        add_setting(g, cls, name)
    add_setting(g, SearchConfig, "engine")
    o = p.add_argument_group("output")
    o.add_argument("--out", type=path, help="folder for results.csv, summary.csv, summary.png "
                                 "(default: sweeps/NAME)")
    o.add_argument("--save-best", metavar="DIR", type=path,
                   help="save the best run as a run directory")
    add_progress_options(o)
    p.set_defaults(handler=run)


def grid_from_args(args: argparse.Namespace, base: RunConfig) -> Grid:
    """The grid the flags ask for; a flag not given tries the base config's value."""
    from torchclf.cli.flags import given
    from torchclf.model import parse_hidden
    from torchclf.scale.sweep import Grid
    values = {name: getattr(args, name) or [getattr(getattr(base, _section(cls)), name)]
              for name, cls in GRID_FLAGS.items()}
    values["hidden"] = [parse_hidden(h) if isinstance(h, str) else h for h in values["hidden"]]
    values["optimizer"] = [o.lower() for o in values["optimizer"]]
    search = SearchConfig(**given(args, ("seeds",)))
    return Grid(**values, seeds=search.seeds, momentum=base.train.momentum,
                weight_decay=base.train.weight_decay)


def run(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from torchclf.cli.flags import apply_data_options, given
    from torchclf.store.owned import release
    from torchclf.store.rundir import unique_run_dir

    base = RunConfig().replace("data", source=args.source)
    base = apply_data_options(base, args).replace(name=Path(args.source).stem)
    for name, cls in FIXED_FLAGS.items():
        if getattr(args, name) is not None:
            base = base.replace(_section(cls), **{name: getattr(args, name)})
    grid = grid_from_args(args, base)  # checks every value before any training
    engine = SearchConfig(**given(args, ("engine",))).engine
    folder = Path(args.out) if args.out else unique_run_dir("sweeps", base.name)
    try:  # the default name is taken (made empty) now, so a sweep started meanwhile gets another
        return _sweep_into(folder, args, base, grid, engine, out, err)
    finally:
        if not args.out:
            release(folder)  # removed only if still empty: nothing was saved


def _sweep_into(folder: Path, args: argparse.Namespace, base: RunConfig, grid, engine,
                out: IO[str], err: IO[str]) -> int:
    from torchclf.store.owned import check_destination
    from torchclf.scale.sweep import run_sweep
    check_destination(folder, "sweep")  # before training: never replace a user's folder
    if args.save_best:
        check_destination(args.save_best, "run")
    n_models, epochs = len(grid.specs()), base.train.epochs
    show_bar = args.progress if args.progress is not None else err.isatty()
    bar = None
    if show_bar:
        from tqdm import tqdm
        bar = tqdm(total=n_models * epochs, file=err, unit="model-epoch",
                   unit_scale=True, leave=False, mininterval=0.2)
    print(f"sweep {base.name}: {n_models // grid.seeds} configurations x {grid.seeds} seeds, "
          f"{epochs} epochs each", file=out)
    try:
        result = run_sweep(base, grid, engine=engine,
                           progress=bar.update if bar is not None else None)
    finally:
        if bar is not None:
            bar.close()
    print(format_summary(result.summary), file=out)
    result.save(folder)
    print(f"saved results.csv, summary.csv and summary.png to {folder}", file=out)
    if args.save_best:
        path = result.save_best(args.save_best)
        print(f"saved the best run ({result.summary.iloc[0]['config']}, "
              f"seed {result.best().spec.seed}) to {path}", file=out)
    return 0


def _section(cls: type) -> str:
    return {ModelConfig: "model", TrainConfig: "train"}[cls]


def format_summary(summary) -> str:
    """The per-configuration table, best first."""
    seeds = int(summary["seeds"].max())
    header = f"{'configuration':<32} {'test acc (mean ± std, ' + str(seeds) + ' seeds)':>34} {'train acc':>10}"
    lines = [header, "-" * len(header)]
    for _, r in summary.iterrows():
        lines.append(f"{r['config']:<32} {100 * r['test_mean']:>25.2f}% ± {100 * r['test_std']:5.2f}"
                     f" {100 * r['train_mean']:>9.2f}%")
    return "\n".join(lines)
