"""``torchclf datasets``: the built-in generators and their parameters."""

from __future__ import annotations

import argparse
from typing import IO


def add_parser(sub) -> None:
    p = sub.add_parser("datasets", help="list the built-in datasets and their parameters")
    p.set_defaults(handler=cmd_datasets)


def cmd_datasets(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from torchclf.data import synthetic
    for name, fn in synthetic.GENERATORS.items():
        params = ", ".join(f"{k}={v}" for k, v in synthetic.parameters(name).items())
        print(f"{name:<8} {(fn.__doc__ or '').strip().splitlines()[0]}", file=out)
        print(f"{'':<8} {params}", file=out)
    print("\nYour own data: torchclf train FILE.csv --target COLUMN (CSV or Parquet)", file=out)
    return 0


