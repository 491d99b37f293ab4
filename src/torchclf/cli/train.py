"""``torchclf train`` and ``torchclf recipes``: a config in, a run directory out.

Flags become a RunConfig (``cli.flags``); training prints the lesson's line, keeps
checkpoints, stops cleanly on SIGTERM/SIGINT and saves the run only where nothing of
the user's would be replaced.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import IO

from torchclf.cli.flags import (add_data_options, add_model_options, add_output_options,
                                add_setting, add_train_options, apply_data_options,
                                apply_run_options, path)
from torchclf.config.schema import OutputConfig
from torchclf.errors import UserError

PROG = "torchclf"


def add_parser(sub) -> None:
    t = sub.add_parser("train", help="train a model on a built-in dataset or a CSV/Parquet file")
    t.add_argument("source", nargs="?", type=path,
                   help="built-in dataset name or path to a table file")
    t.add_argument("--config", type=path, help="a run.toml; flags given here override it")
    add_data_options(t)
    add_model_options(t)
    o = add_train_options(t)
    add_setting(o, OutputConfig, "checkpoint_every", metavar="N")
    o.add_argument("--resume", metavar="CHECKPOINT", type=path,
                   help="continue an interrupted run from its .checkpoint.pt file")
    add_setting(o, OutputConfig, "nproc", applied=True)
    add_output_options(t)
    t.set_defaults(handler=cmd_train)

    rc = sub.add_parser("recipes", help="the lesson's experiments: list, show, run")
    rsub = rc.add_subparsers(dest="action", metavar="ACTION", parser_class=type(rc))
    rsub.add_parser("list", help="every recipe and the accuracy it promises")
    show = rsub.add_parser("show", help="print a recipe's TOML")
    show.add_argument("name")
    run = rsub.add_parser("run", help="train a recipe and check its promised accuracy")
    run.add_argument("name")
    add_output_options(run)
    rc.set_defaults(handler=cmd_recipes)


def _config_from_args(args: argparse.Namespace, resume=None):
    """The run's config: the checkpoint's with --resume, else --config and the flags."""
    from torchclf import config as cfg

    if resume is not None:
        return _resumed_config(args, resume)
    if args.config:
        config = cfg.load(args.config)
        if args.source:
            config = config.replace("data", source=args.source, params={})
    elif args.source:
        config = cfg.RunConfig()
        config = config.replace("data", source=args.source)
    else:
        raise UserError("train needs a dataset name, a table file or --config FILE")
    config = apply_run_options(apply_data_options(config, args), args)
    name = Path(config.data.source).stem if not args.config else config.name
    return config.replace(name=name)


# What --resume may change: how long to train (past the checkpoint). Everything else the
# checkpoint was trained with (data, model, optimizer, seed, device, even --log-every,
# whose log points are in the history) would make the saved config.toml describe another
# run than the one saved, so a flag changing it is refused. Output flags (--out,
# --runs-dir, --no-plots, --quiet, --checkpoint-every) apply as usual, and so does
# --log-format: how the logged lines look changes no number.
RESUMABLE = ("epochs", "log_format")


def _resumed_config(args: argparse.Namespace, ckpt):
    """The checkpoint's config with the flags given applied, or a UserError naming the
    flags that would change what the checkpoint was trained with."""
    import dataclasses
    from torchclf import config as cfg
    saved = cfg.from_dict(ckpt.config, str(args.resume))
    if args.source or args.config:
        raise UserError(f"--resume continues the run in {args.resume} on its own data and "
                        f"config: drop {'--config' if args.config else repr(args.source)}")
    wanted = apply_run_options(apply_data_options(saved, args), args)
    conflicts = [f"{_flag(f.name)} (the checkpoint has {_value(getattr(old, f.name))})"
                 for section in cfg.SECTIONS
                 for old, new in [(getattr(saved, section), getattr(wanted, section))]
                 for f in dataclasses.fields(old)
                 if getattr(old, f.name) != getattr(new, f.name) and f.name not in RESUMABLE]
    if conflicts:
        raise UserError(f"--resume continues the checkpoint's run exactly, so it cannot change "
                        f"{', '.join(conflicts)}: drop {'it' if len(conflicts) == 1 else 'them'}"
                        ", or start a new run")
    if wanted.train.epochs <= ckpt.epoch:
        raise UserError(f"--epochs {wanted.train.epochs}: the checkpoint has already trained "
                        f"{ckpt.epoch} epochs; give more to train on")
    # test evaluations keep the schedule they had, so config.toml still reproduces the run
    return wanted.replace("train", eval_every=saved.train.evaluation_interval())


def _value(v) -> str:
    if isinstance(v, tuple):
        return ",".join(map(str, v)) or "none"
    return "unset" if v is None else repr(v)


def _flag(name: str) -> str:
    return {"params": "--n-samples/--noise/--param", "standardize": "--no-standardize"}.get(
        name, "--" + name.replace("_", "-"))


def _target(args: argparse.Namespace, config, resume) -> tuple[Path, bool]:
    """Where the run is saved, and whether that folder was reserved (made empty) here:
    --out, else a new folder under --runs-dir, taken now so no run started meanwhile
    gets the same name; a resumed run goes where its checkpoint says unless --out or
    --runs-dir say otherwise."""
    from torchclf.spec import default_of
    from torchclf.store.rundir import unique_run_dir
    if args.out:
        return Path(args.out), False
    if resume is not None and resume.extra.get("out") and \
            args.runs_dir == default_of(OutputConfig, "runs_dir"):
        return Path(resume.extra["out"]), False
    return unique_run_dir(args.runs_dir, config.name), True


def check_device(config) -> None:
    """Fail on a device this machine lacks before any data is loaded (the schema
    has checked every other value when the config was built)."""
    from torchclf.runtime import resolve_device
    resolve_device(config.train.device)


def _checkpoint(args: argparse.Namespace):
    """The checkpoint --resume names, read once, or None."""
    if not getattr(args, "resume", None):
        return None
    from torchclf.engine.checkpoint import Checkpoint
    return Checkpoint.load(args.resume)


def _train_and_save(config, args: argparse.Namespace, out: IO[str], err: IO[str],
                    resume=None):
    """Train with printing, checkpoints and signal handling (continuing ``resume``, a
    Checkpoint, if given); save the run directory.

    Returns (run, path), or (None, exit code) when a signal interrupted training.
    """
    from torchclf.store.owned import check_destination, release
    check_device(config)
    target, reserved = _target(args, config, resume)
    try:
        check_destination(target, "run")  # before training: never replace a user's folder
        return _train_into(target, config, args, out, err, resume)
    finally:
        if reserved:
            release(target)  # removed only if still empty: nothing was saved


def _train_into(target: Path, config, args: argparse.Namespace, out: IO[str], err: IO[str],
                resume):
    import signal
    from torchclf.cli.console import LessonPrinter, ProgressBar, metrics_table
    from torchclf.experiment import run_config
    from torchclf.store.rundir import save_run
    from torchclf.engine.callbacks import StopOnSignal
    from torchclf.engine.checkpoint import check_checkpoint_destination
    from torchclf.engine.loop import TrainingInterrupted

    show_bar = args.progress if args.progress is not None else err.isatty()
    bar = ProgressBar(err) if show_bar else None
    stopper = StopOnSignal()
    callbacks = [stopper] + ([bar] if bar is not None else [])
    if not args.quiet:
        callbacks.append(LessonPrinter(out, bar, config.train))
    checkpoint = check_checkpoint_destination(target.parent / f"{target.name}.checkpoint.pt")
    snapshots = _snapshots(args, resume)
    if snapshots is not None:
        callbacks.append(snapshots)
    try:
        run = run_config(config, callbacks, checkpoint_path=checkpoint,
                         checkpoint_every=getattr(args, "checkpoint_every", None),
                         resume=resume, checkpoint_extra={"out": str(target)})
    except TrainingInterrupted as e:
        print(f"{PROG}: {e}; continue with: {PROG} train --resume {e.checkpoint}", file=err)
        return None, 128 + (stopper.received or signal.SIGINT)
    if run.stop_reason:
        print(run.stop_reason, file=out)
    save_run(run, target, plots=not args.no_plots, files=_animation(run, snapshots, args))
    checkpoint.unlink(missing_ok=True)
    print(metrics_table(run.metrics), file=out)
    print(f"saved run to {target}", file=out)
    return run, target


def _snapshots(args: argparse.Namespace, resume):
    """A BoundarySnapshots callback when --animate asks for boundary.gif, else None."""
    if not args.animate:
        return None
    if resume is not None:
        raise UserError("--animate records every log point from the first epoch, which a "
                        "resumed run has not: drop --animate, or train the run again")
    from torchclf.animation import BoundarySnapshots
    return BoundarySnapshots()


def _animation(run, snapshots, args: argparse.Namespace) -> dict[str, bytes]:
    if snapshots is None:
        return {}
    from torchclf.animation import GIF_NAME, boundary_gif
    return {GIF_NAME: boundary_gif(run, snapshots.frames, args.max_frames)}


def cmd_train(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    resume = _checkpoint(args)
    config = _config_from_args(args, resume)
    if args.nproc > 1 or int(os.environ.get("WORLD_SIZE", "1")) > 1:
        check_device(config)
        if args.animate:
            raise UserError("--animate records the boundary in one process: drop --nproc "
                            "(or torchrun) to animate, or drop --animate")
        from torchclf.cli.distributed import train_distributed
        return train_distributed(config, args, out, err)
    run, result = _train_and_save(config, args, out, err, resume)
    return 0 if run is not None else result


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


