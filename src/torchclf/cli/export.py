"""``torchclf export``: a saved run's model as ONNX or TorchScript, for serving."""

from __future__ import annotations

import argparse
from typing import IO

from torchclf.cli.flags import path


def add_parser(sub) -> None:
    from torchclf.export import FORMATS
    formats = "; ".join(f"{f.name}: {f.description}" for f in FORMATS.values())
    ex = sub.add_parser("export", help="write a run's model as ONNX or TorchScript, to serve "
                                       "it without torchclf")
    ex.add_argument("run", type=path, help="a run directory written by 'torchclf train'")
    ex.add_argument("--format", "-f", default=next(iter(FORMATS)),
                    help=f"one of {', '.join(FORMATS)} ({formats}; default: %(default)s)"
)
    ex.add_argument("--output", "-o", type=path,
                    help="the file to write (default: model.onnx or model.pt in the run "
                         "directory); only a file torchclf exported is replaced")
    ex.set_defaults(handler=cmd_export)


def cmd_export(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from torchclf.export import export_run
    written = export_run(args.run, args.format, args.output)
    print(f"wrote {written} ({args.format})", file=out)
    return 0
