"""A real-size table through the CLI: rows per second and peak memory.

Writes a 1,000,000-row x 20-column numeric file (CSV by default), then runs
``torchclf train FILE --target y`` in a subprocess (mini-batches sliced from tensors,
no DataLoader) and reports wall time, training rows/s and the process's peak memory
against the size of the data.

    python benchmarks/big_table.py [--rows N] [--epochs E] [--format csv|parquet]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_table(path: Path, rows: int, cols: int, fmt: str) -> None:
    import pandas as pd
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, cols)).astype(np.float32)
    y = (X[:, :5].sum(1) + 0.5 * rng.normal(size=rows) > 0).astype(np.int64)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(cols)])
    frame["y"] = y
    frame.to_parquet(path) if fmt == "parquet" else frame.to_csv(path, index=False)


def peak_rss_of(cmd: list[str]) -> tuple[float, int, str]:
    """(seconds, peak RSS in bytes, stdout) of a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) * 1024, proc.stdout


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--cols", type=int, default=20)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--format", choices=["csv", "parquet"], default="csv")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"big.{args.format}"
        t = time.perf_counter()
        make_table(path, args.rows, args.cols, args.format)
        print(f"wrote {args.rows:,} x {args.cols} {args.format} "
              f"({path.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - t:.1f} s")
        base_t, base_rss, _ = peak_rss_of([sys.executable, "-c",
                                           "import torch, pandas, pyarrow, torchclf.engine.loop"])
        cmd = [sys.executable, "-m", "torchclf", "train", str(path), "--target", "y",
               "--hidden", "32,32", "--optimizer", "adam", "--lr", "0.003", "--epochs",
               str(args.epochs), "--log-every", "1", "--no-plots", "--out",
               str(Path(tmp) / "run")]
        seconds, rss, out = peak_rss_of(cmd)
        data_mib = args.rows * args.cols * 4 / 2**20
        train_rows = int(args.rows * 0.8) * args.epochs
        print(out.strip().splitlines()[-7:][0] if out else "")
        print(f"\n| rows x cols | epochs | wall time | training rows/s | peak memory over "
              f"an idle interpreter | data as float32 |")
        print("|---|---|---|---|---|---|")
        print(f"| {args.rows:,} x {args.cols} ({args.format}) | {args.epochs} | {seconds:.1f} s "
              f"| {train_rows / seconds:,.0f} (wall, incl. loading) | "
              f"{(rss - base_rss) / 2**20:.0f} MiB ({(rss - base_rss) / 2**20 / data_mib:.1f}x) "
              f"| {data_mib:.0f} MiB |")


if __name__ == "__main__":
    main()
