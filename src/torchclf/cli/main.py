"""The ``torchclf`` command line: the parser and the dispatch; commands live beside it.

Each command turns flags into library calls (a RunConfig, a run directory) and prints
the result; the command line is the only code that prints. Heavy imports (torch, matplotlib, pandas) happen inside the commands, so
``torchclf --help`` answers at once. User mistakes exit 2 with one line on stderr.
"""

from __future__ import annotations

import argparse
import sys
from typing import IO, Sequence

from torchclf.cli.flags import output_config

PROG = "torchclf"
# One module per command group: each has add_parser(subparsers), registering parsers
# whose defaults include handler(args, out, err) -> exit code. A group whose optional
# dependencies are missing (the playground without FastAPI) is left out.
COMMANDS = ("torchclf.cli.datasets", "torchclf.cli.train", "torchclf.cli.predict",
            "torchclf.cli.sweep", "torchclf.cli.tune", "torchclf.cli.playground",
            "torchclf.cli.export")


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
    for module in _command_modules():
        module.add_parser(sub)
    return p


def _command_modules() -> list:
    import importlib
    found = []
    for name in COMMANDS:
        try:
            found.append(importlib.import_module(name))
        except ModuleNotFoundError as e:
            if e.name is None or not name.startswith(e.name):
                raise
    return found


def main(argv: Sequence[str] | None = None, out: IO[str] | None = None,
         err: IO[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 recipe missed, 2 user mistake)."""
    from torchclf.cli.pipe import ReaderMayLeave
    # `torchclf train ... | head`: when a reader leaves, printing stops, the work goes on
    out = ReaderMayLeave(out or sys.stdout)
    err = ReaderMayLeave(err or sys.stderr)
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
    import warnings
    from torchclf.errors import UserError
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default", UserWarning)
            warnings.showwarning = _one_line_warning(err)
            output_config(args)  # bounds of --nproc, --resolution, ... before any work
            from torchclf.memory import map_big_blocks
            map_big_blocks()  # this process is ours: big freed blocks go back at once
            code = args.handler(args, out, err)
        if out.left and code == 0:
            print(f"{PROG}: stdout's reader left early, so the rest was not shown; the "
                  f"command ran to the end: {out.last_line}", file=err)
        return code
    except UserError as e:
        if getattr(e, "rank", 0) == 0:  # every DDP rank raises it; rank 0 says it
            print(f"{PROG}: error: {e}", file=err)
        return 2
    except KeyboardInterrupt as e:  # Ctrl-C, or an Interrupted naming its signal
        print(f"{PROG}: interrupted", file=err)
        import signal
        return 128 + getattr(e, "signum", signal.SIGINT)
    except BrokenPipeError:  # a write that bypassed ReaderMayLeave: the work stopped
        import os
        import signal
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE


def _one_line_warning(err: IO[str]):
    """torchclf's own warnings (a column left out, a tiny class) as one line each; any
    other library's as Python shows them."""
    import os
    import warnings
    original = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        if issubclass(category, UserWarning) and f"{os.sep}torchclf{os.sep}" in filename:
            print(f"{PROG}: warning: {message}", file=err)
        else:
            original(message, category, filename, lineno, file, line)
    return show


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
