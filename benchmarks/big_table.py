"""A real-size table through the CLI: loading, epochs and peak memory, each against a baseline.

Writes a 1,000,000-row x 20-column numeric file (CSV by default) and reports, in one run
(the machine may be shared: compare times only within a run):

(a) loading: ``torchclf.load_table`` (the Dataset, X ready) against
    ``pandas.read_csv(engine="pyarrow")`` and ``pyarrow.csv.read_csv`` (a DataFrame or
    an Arrow table only) on the same file, each in a fresh interpreter, alternating,
    median of ``--rounds``;
(b) per epoch: ``torchclf train FILE --target y`` (MLP 20-32-32-1, SGD, batch 256, the
    engine it picks; the seconds between epochs in its history.csv, which include its
    test evaluation) against a lean PyTorch loop (float32 tensors, ``torch.randperm`` and
    index slicing, no DataLoader, no evaluation), median epoch;
(c) the peak memory of the whole ``torchclf train`` process (its own, from ``wait4``;
    saving its figures too, as by default) over an idle interpreter that has imported
    torch, pandas and pyarrow, as a multiple of the data as float32.

    python benchmarks/big_table.py [--rows N] [--epochs E] [--rounds R] [--format csv|parquet]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TARGETS = {"load": 1.0, "epoch": 3.0, "peak": 2.5}
BATCH, LR, HIDDEN = 256, 0.1, (32, 32)

READERS = {
    # each reader's modules are imported before the clock starts
    "torchclf load_table": "import pandas, pyarrow.csv, pyarrow.parquet, torchclf.data.tabular\n"
                           "t = time.perf_counter(); d = torchclf.load_table(PATH, target='y')",
    "pandas read_csv(engine='pyarrow')": "import pandas as pd, pyarrow.csv, pyarrow.parquet\n"
                                         "t = time.perf_counter(); d = READ_PANDAS(PATH)",
    "pyarrow.csv.read_csv": "import pyarrow.csv, pyarrow.parquet\n"
                            "t = time.perf_counter(); d = READ_ARROW(PATH)",
}
READ_FUNCTIONS = {
    "csv": ("pd.read_csv({p}, engine='pyarrow')", "pyarrow.csv.read_csv({p})"),
    "parquet": ("pd.read_parquet({p})", "pyarrow.parquet.read_table({p})"),
}

LEAN_LOOP = """
import sys, time, json, numpy as np, pandas as pd, torch
path, epochs = sys.argv[1], int(sys.argv[2])
frame = pd.read_parquet(path) if path.endswith('.parquet') else pd.read_csv(path, engine='pyarrow')
X = torch.as_tensor(frame.drop(columns='y').to_numpy(np.float32))
y = torch.as_tensor(frame['y'].to_numpy(np.float32)).unsqueeze(1)
del frame
n = int(len(X) * 0.8)
X, y = X[:n], y[:n]
X = (X - X.mean(0)) / X.std(0)
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(X.shape[1], HIDDEN[0]), torch.nn.ReLU(),
                            torch.nn.Linear(HIDDEN[0], HIDDEN[1]), torch.nn.ReLU(),
                            torch.nn.Linear(HIDDEN[1], 1))
opt = torch.optim.SGD(model.parameters(), lr=LR)
loss_fn = torch.nn.BCEWithLogitsLoss()
times = []
for epoch in range(epochs):
    t = time.perf_counter()
    order = torch.randperm(n)
    for i in range(0, n, BATCH):
        idx = order[i:i + BATCH]
        opt.zero_grad()
        loss = loss_fn(model(X[idx]), y[idx])
        loss.backward()
        opt.step()
    times.append(time.perf_counter() - t)
print(json.dumps(times))
"""


def make_table(path: Path, rows: int, cols: int, fmt: str) -> None:
    import pandas as pd
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, cols)).astype(np.float32)
    y = (X[:, :5].sum(1) + 0.5 * rng.normal(size=rows) > 0).astype(np.int64)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(cols)])
    frame["y"] = y
    frame.to_parquet(path) if fmt == "parquet" else frame.to_csv(path, index=False)


def make_table_in_child(path: Path, rows: int, cols: int, fmt: str) -> None:
    """``make_table`` in a fresh interpreter, so this process stays small: a child's
    peak RSS (``ru_maxrss``) counts its parent's peak RSS too (Python starts children
    with vfork, and Linux carries the old memory's high-water mark across exec), so
    writing the table here made every child, the idle baseline included, look as large
    as this process had been, and the growth measured in (c) too small."""
    code = ("import runpy, sys; from pathlib import Path; "
            "runpy.run_path(sys.argv[1])['make_table']("
            "Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])")
    subprocess.run([sys.executable, "-c", code, str(Path(__file__).resolve()), str(path),
                    str(rows), str(cols), fmt], check=True)


def training_env(threads: int) -> dict[str, str]:
    """The environment of the training children: torch's threads fixed, the same for
    both loops (on a shared machine, more threads than free cores make each step wait
    for the slowest thread: 30x slower epochs were seen)."""
    return {**os.environ, "OMP_NUM_THREADS": str(threads)} if threads else dict(os.environ)


def peak_rss_of(cmd: list[str], env: dict | None = None) -> tuple[float, int, str]:
    """(seconds, peak RSS in bytes, stdout) of a child process: its own peak, from
    ``wait4`` (``RUSAGE_CHILDREN`` is the largest child so far, make_table's included).
    A child's peak counts this process's peak too (``make_table_in_child``)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(err.read())
        return seconds, usage.ru_maxrss * 1024, out.read()


def child_seconds(code: str) -> float:
    """The seconds a fresh interpreter prints after running ``code``."""
    out = subprocess.run([sys.executable, "-c", "import time\n" + code +
                          "\nprint(time.perf_counter() - t)"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return float(out.stdout.strip().splitlines()[-1])


def loading(path: Path, fmt: str, rounds: int) -> dict[str, float]:
    """Median seconds of each reader, the readers alternating round by round."""
    pandas_read, arrow_read = (f.format(p="PATH") for f in READ_FUNCTIONS[fmt])
    times: dict[str, list[float]] = {name: [] for name in READERS}
    for _ in range(rounds):
        for name, code in READERS.items():
            code = code.replace("READ_PANDAS(PATH)", pandas_read).replace(
                "READ_ARROW(PATH)", arrow_read).replace("PATH", repr(str(path)))
            times[name].append(child_seconds(code))
    return {name: statistics.median(t) for name, t in times.items()}


def lean_epochs(path: Path, epochs: int, env: dict) -> list[float]:
    code = (LEAN_LOOP.replace("HIDDEN", repr(HIDDEN)).replace("BATCH", str(BATCH))
            .replace("LR", repr(LR)))
    out = subprocess.run([sys.executable, "-c", code, str(path), str(epochs)],
                         capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def torchclf_epochs(run: Path) -> list[float]:
    """Seconds per epoch from the run's history.csv (its ``seconds`` are cumulative)."""
    with open(run / "history.csv", newline="") as f:
        seconds = [float(row["seconds"]) for row in csv.DictReader(f)]
    return [b - a for a, b in zip([0.0] + seconds, seconds)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--cols", type=int, default=20)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--rounds", type=int, default=3, help="loading rounds (median)")
    p.add_argument("--format", choices=["csv", "parquet"], default="csv")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads of both training loops (0: torch's default)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"big.{args.format}"
        t = time.perf_counter()
        make_table_in_child(path, args.rows, args.cols, args.format)
        print(f"wrote {args.rows:,} x {args.cols} {args.format} "
              f"({path.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - t:.1f} s")
        data_mib = args.rows * args.cols * 4 / 2**20

        # (c) first, while this process is still smaller than an idle interpreter
        _, base_rss, _ = peak_rss_of([sys.executable, "-c",
                                      "import torch, pandas, pyarrow, torchclf.engine.loop"])
        run = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "torchclf", "train", str(path), "--target", "y",
               "--hidden", ",".join(map(str, HIDDEN)), "--optimizer", "sgd", "--lr", str(LR),
               "--batch-size", str(BATCH), "--epochs", str(args.epochs), "--log-every", "1",
               "--out", str(run)]  # its figures too, as by default
        env = training_env(args.threads)
        wall, rss, out = peak_rss_of(cmd, env)
        peak = (rss - base_rss) / 2**20
        ours = torchclf_epochs(run)
        engine = _engine_of(run)

        # (b) the lean loop, right after, under the same load
        lean = lean_epochs(path, args.epochs, env)
        # (a) loading
        load = loading(path, args.format, args.rounds)

        names = list(load)
        if args.format == "parquet":
            load = {n.replace("read_csv(engine='pyarrow')", "read_parquet").replace(
                "csv.read_csv", "parquet.read_table"): t for n, t in load.items()}
            names = list(load)
        print("\n(a) loading, median of", args.rounds, "fresh interpreters")
        print("| reader | seconds | rows/s |\n|---|---|---|")
        for name in names:
            print(f"| {name} | {load[name]:.2f} | {args.rows / load[name]:,.0f} |")
        print(f"\n(b) per epoch ({int(args.rows * 0.8):,} training rows, batch {BATCH}, "
              f"median of {args.epochs}; {args.threads or 'default'} torch thread(s); "
              f"torchclf engine: {engine})")
        print("| loop | seconds per epoch | epochs (s) |\n|---|---|---|")
        for name, times in (("torchclf train", ours), ("lean PyTorch loop", lean)):
            print(f"| {name} | {statistics.median(times):.2f} | "
                  f"{', '.join(f'{s:.2f}' for s in times)} |")
        print(f"\n(c) torchclf train: {wall:.1f} s wall; peak memory {peak:.0f} MiB over an "
              f"idle interpreter, data as float32 {data_mib:.0f} MiB")

        ratios = {
            "load": load[names[1]] / load[names[0]],
            "epoch": statistics.median(lean) / statistics.median(ours),
            "peak": peak / data_mib,
        }
        print("\n| ratio | measured | target |\n|---|---|---|")
        print(f"| loading speed vs pandas' pyarrow reader | {ratios['load']:.2f}x "
              f"| >= {TARGETS['load']:g}x |")
        print(f"| epoch speed vs the lean loop | {ratios['epoch']:.2f}x "
              f"| >= {TARGETS['epoch']:g}x |")
        print(f"| peak memory / float32 data | {ratios['peak']:.2f}x "
              f"| <= {TARGETS['peak']:g}x |")
        met = (ratios["load"] >= TARGETS["load"], ratios["epoch"] >= TARGETS["epoch"],
               ratios["peak"] <= TARGETS["peak"])
        print("targets met:", ", ".join(f"{k} {'yes' if m else 'NO'}"
                                        for k, m in zip(TARGETS, met)))
        if out:
            print("\n" + out.strip().splitlines()[0])


def _engine_of(run: Path) -> str:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    with open(run / "config.toml", "rb") as f:
        return tomllib.load(f).get("train", {}).get("engine", "?")


if __name__ == "__main__":
    main()
