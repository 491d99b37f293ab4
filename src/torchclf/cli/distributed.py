"""``torchclf train --nproc N`` (or under torchrun): launch the ranks, print rank 0's run.

The training itself is ``torchclf.scale.distributed.train_rank``; this module starts
torchrun, shows a rank's error once as one line, prints the lesson's lines on rank 0
and saves the run there.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import IO

from torchclf.cli.console import LessonPrinter, metrics_table
from torchclf.errors import Interrupted, UserError
from torchclf.scale import distributed
from torchclf.scale.processes import run_to_the_end
from torchclf.store.owned import check_destination, release
from torchclf.store.rundir import save_run, unique_run_dir


def train_distributed(config, args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    """Launch N ranks (outside torchrun), or train as one rank (inside it)."""
    if config.train.early_stopping is not None or getattr(args, "checkpoint_every", None) \
            or getattr(args, "resume", None):
        raise UserError("--nproc does not support early stopping, checkpoints or resume yet: "
                        "drop those flags or train in one process")
    if config.train.autograd_only():
        flag = "--" + config.train.autograd_only()[0].replace("_", "-")
        raise UserError(f"--nproc does not support {flag} yet: drop it or train in one "
                        "process")
    if args.out:
        check_destination(args.out, "run")  # before any rank starts: never a user's folder
    if not distributed.inside_torchrun():
        distributed.check_data(config)  # a bad file: one line here, no rank started
        return _launch(args, err)
    main = distributed.is_main_rank()
    printer = [LessonPrinter(out, train=config.train)] if main and not args.quiet else []
    result = distributed.train_rank(config, printer)
    if result is None:
        return 0
    target = Path(args.out) if args.out else unique_run_dir(args.runs_dir, config.name)
    try:
        save_run(result, target, plots=not args.no_plots)
    finally:
        if not args.out:
            release(target)  # removed only if still empty: the save failed
    print(metrics_table(result.metrics), file=out)
    print(f"saved run to {target} ({os.environ.get('WORLD_SIZE', '?')} processes)", file=out,
          flush=True)
    return 0


def _launch(args: argparse.Namespace, err: IO[str]) -> int:
    """Run the ranks through torchrun. A rank's error (every rank raises the same, e.g.
    a divergence) is shown once, as one line, with exit status 2 as in one process.
    SIGINT/SIGTERM go to torchrun, which stops the ranks; we return when all have ended."""
    cmd = distributed.torchrun_command(list(args.argv), args.nproc)
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    code, stderr, signum = run_to_the_end(cmd, env)
    if signum is not None:  # torchrun and every rank have ended; the ranks' words too
        raise Interrupted(signum)
    error = distributed.first_error(stderr)
    if code != 0 and error:
        print(error, file=err, flush=True)
        return 2
    err.write(stderr)
    return code
