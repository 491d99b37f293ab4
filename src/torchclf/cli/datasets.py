"""``torchclf datasets``: the built-in generators, their parameters, the bundled tables."""

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
    from torchclf.data.bundled import TABLES
    print("\nTables shipped with scikit-learn (fixed data, no parameters; rows x features, "
          "classes):", file=out)
    for name, t in TABLES.items():
        print(f"{name:<13} {f'{t.rows} x {t.features}':<10} {t.classes:>2} classes  "
              f"{t.description}", file=out)
    print("\nYour own data: torchclf train FILE.csv --target COLUMN (CSV or Parquet)", file=out)
    return 0


