"""``torchclf sweep``: a hyperparameter grid across seeds, as one batched computation."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import IO


def add_parser(sub) -> None:
    from torchclf.cli.main import _float, _positive_int, add_data_options
    p = sub.add_parser("sweep", help="train a grid of configurations x seeds at once and "
                                     "report mean ± std test accuracy")
    p.add_argument("source", help="built-in dataset name or path to a table file")
    add_data_options(p)
    g = p.add_argument_group("grid")
    g.add_argument("--hidden", nargs="+", default=["8,8"], metavar="SIZES",
                   help="hidden sizes to try, e.g. 8 16,16 none")
    g.add_argument("--lr", nargs="+", type=_float, default=[0.1])
    g.add_argument("--activation", nargs="+", default=["relu"])
    g.add_argument("--optimizer", nargs="+", default=["sgd"])
    g.add_argument("--seeds", type=_positive_int, default=5, help="seeds per configuration")
    g.add_argument("--momentum", type=_float, default=0.0)
    g.add_argument("--weight-decay", type=_float, default=0.0)
    g.add_argument("--epochs", type=_positive_int, default=1000)
    g.add_argument("--task", choices=["auto", "binary", "multiclass"], default="auto")
    g.add_argument("--engine", default="auto", help="auto, kernel (CPU) or stacked (bmm)")
    g.add_argument("--device", default="auto")
    o = p.add_argument_group("output")
    o.add_argument("--out", help="folder for results.csv, summary.csv, summary.png "
                                 "(default: sweeps/NAME)")
    o.add_argument("--save-best", metavar="DIR", help="save the best run as a run directory")
    bar = o.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None)
    bar.add_argument("--no-progress", dest="progress", action="store_false")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from torchclf import config as cfg
    from torchclf.cli.main import apply_data_options
    from torchclf.model import MLPSpec, parse_hidden
    from torchclf.store.owned import check_destination
    from torchclf.store.rundir import unique_run_dir
    from torchclf.scale.sweep import Grid, run_sweep

    base = cfg.RunConfig().replace("data", source=args.source)
    base = apply_data_options(base, args)
    base = base.replace(name=Path(args.source).stem)
    base = base.replace("model", task=args.task)
    base = base.replace("train", epochs=args.epochs, device=args.device)
    folder = Path(args.out) if args.out else unique_run_dir("sweeps", base.name)
    check_destination(folder, "sweep")  # before training: never replace a user's folder
    if args.save_best:
        check_destination(args.save_best, "run")
    hidden = [parse_hidden(h) for h in args.hidden]
    for h in hidden:
        for a in args.activation:
            MLPSpec(1, h, 1, a)  # validates names and sizes before any training
    grid = Grid(hidden, args.lr, args.activation, [o.lower() for o in args.optimizer],
                args.seeds, args.momentum, args.weight_decay)
    n_models = len(grid.specs())
    show_bar = args.progress if args.progress is not None else err.isatty()
    bar = None
    if show_bar:
        from tqdm import tqdm
        bar = tqdm(total=n_models * args.epochs, file=err, unit="model-epoch",
                   unit_scale=True, leave=False, mininterval=0.2)
    print(f"sweep {base.name}: {n_models // args.seeds} configurations x {args.seeds} seeds, "
          f"{args.epochs} epochs each", file=out)
    try:
        result = run_sweep(base, grid, engine=args.engine,
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


def format_summary(summary) -> str:
    """The per-configuration table, best first."""
    seeds = int(summary["seeds"].max())
    header = f"{'configuration':<32} {'test acc (mean ± std, ' + str(seeds) + ' seeds)':>34} {'train acc':>10}"
    lines = [header, "-" * len(header)]
    for _, r in summary.iterrows():
        lines.append(f"{r['config']:<32} {100 * r['test_mean']:>25.2f}% ± {100 * r['test_std']:5.2f}"
                     f" {100 * r['train_mean']:>9.2f}%")
    return "\n".join(lines)
