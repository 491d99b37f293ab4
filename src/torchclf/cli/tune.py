"""``torchclf tune``: an Optuna search that any number of workers can share."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import IO

from torchclf.config.schema import SearchConfig, TrainConfig


TRAIN_FLAGS = ("epochs", "log_every", "optimizer", "seed")


def add_parser(sub) -> None:
    from torchclf.cli.flags import add_data_command, add_setting, path
    from torchclf.config.profiles import TUNE, value
    p = add_data_command(sub, "tune", "search lr, width, depth, activation and weight decay "
                                      "with Optuna; workers on one --storage share the study")
    g = p.add_argument_group("search")
    add_setting(g, SearchConfig, "trials")
    g.add_argument("--storage", type=path, help="sqlite:///study.db, postgresql://user@host/db; "
                                     "default: in memory (one worker)")
    g.add_argument("--study-name", help="default: torchclf-NAME")
    for name in TRAIN_FLAGS:
        add_setting(g, TrainConfig, name, default=value(TUNE, "train", name))
    add_setting(g, SearchConfig, "timeout")
    g.add_argument("--save-best", metavar="DIR", type=path,
                   help="retrain the best configuration on the full training split and "
                        "save it as a run directory")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from torchclf.scale import tune
    from torchclf.cli.train import check_device
    from torchclf.cli.flags import apply_data_options, given
    from torchclf.config import profiles

    base = profiles.apply(profiles.TUNE).replace("data", source=args.source)
    base = apply_data_options(base, args).replace(name=Path(args.source).stem)
    train = given(args, TRAIN_FLAGS)
    if "optimizer" in train:
        train["optimizer"] = train["optimizer"].lower()
    base = base.replace("train", **train)
    search = SearchConfig(**given(args, ("trials", "timeout")))
    check_device(base)
    if args.save_best:
        from torchclf.store.owned import check_destination
        check_destination(args.save_best, "run")  # before searching, not after
    study = tune.open_study(args.study_name or f"torchclf-{base.name}", args.storage)
    tune.optimize(study, base, search.trials, search.timeout)
    print(format_trials(study), file=out)
    if args.save_best:
        from torchclf.experiment import run_config
        from torchclf.store.rundir import save_run
        best = tune.best_config(study)
        result = run_config(best)
        save_run(result, args.save_best)
        print(f"best trial retrained on the full training split: test accuracy "
              f"{100 * result.metrics['test']['accuracy']:.2f}%; saved to {args.save_best}",
              file=out)
    return 0


def format_trials(study, top: int = 5) -> str:
    """A table of the study's best trials and its counts."""
    states = [t.state.name for t in study.trials]
    done = [t for t in study.trials if t.value is not None]
    lines = [f"study {study.study_name}: {len(study.trials)} trials "
             f"({states.count('COMPLETE')} complete, {states.count('PRUNED')} pruned)"]
    lines.append(f"{'trial':>5} {'val acc':>8} {'depth':>5} {'width':>5} {'activation':>10} "
                 f"{'lr':>9} {'weight decay':>12}")
    for t in sorted(done, key=lambda t: -t.value)[:top]:
        p = t.params
        lines.append(f"{t.number:>5} {100 * t.value:7.2f}% {p['depth']:>5} {p['width']:>5} "
                     f"{p['activation']:>10} {p['lr']:9.2e} {p['weight_decay']:12.2e}")
    return "\n".join(lines)
