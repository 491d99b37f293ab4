"""Data-parallel training with torch.distributed DDP (gloo on CPU, nccl on GPUs).

``torchclf train DATA --nproc N`` starts N ranks through torchrun
(``torch.distributed.run --standalone``); running ``torchrun ... -m torchclf train``
directly works too. Every rank:

- reads only the label column of the whole file (to draw the same stratified split as
  a single process would) and then only its own contiguous slice of rows;
- takes the global per-epoch permutation of the training rows (same seed everywhere)
  and, for each global mini-batch, trains on the rows of it that it holds, scaling its
  loss so DDP's gradient average equals the gradient of the global batch's mean loss;
- computes standardizer statistics, metrics and the confusion matrix with all_reduce.

So N ranks with one global batch size reproduce single-process training with that
batch size up to float summation order. Rank 0 prints and writes the run directory;
its plots show rank 0's slice of the points, its metrics cover all rows.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import numpy as np
import torch
import torch.distributed as dist

from torchclf import task as tasks
from torchclf.errors import UserError

ENV_RANK = "RANK"


def train_distributed(config, args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    """Launch N ranks (outside torchrun), or train as one rank (inside it)."""
    if config.train.early_stopping is not None or getattr(args, "checkpoint_every", None) \
            or getattr(args, "resume", None):
        raise UserError("--nproc does not support early stopping, checkpoints or resume yet: "
                        "drop those flags or train in one process")
    if ENV_RANK not in os.environ:
        return _launch(args)
    return _rank_main(config, args, out, err)


def _launch(args: argparse.Namespace) -> int:
    argv = list(args.argv)
    clean, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--nproc":
            skip = True
            continue
        if a.startswith("--nproc="):
            continue
        clean.append(a)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={args.nproc}", "-m", "torchclf", *clean]
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    return subprocess.run(cmd, env=env).returncode


# -- reading one rank's rows ------------------------------------------------------------

def _labels_and_slice(config, rank: int, world: int):
    """(global label codes, classes, feature names, X of this rank's rows, row range)."""
    from torchclf.experiment import is_file_source, load_data
    source = config.data.source
    if not is_file_source(source):
        ds = load_data(config.data)  # built-ins are generated, not read: slice in memory
        lo, hi = _bounds(len(ds), rank, world)
        return ds.y, ds.classes, ds.feature_names, ds.X[lo:hi], lo, hi, ds.name
    from torchclf.data import tabular
    path = Path(source)
    if not path.is_file():
        raise UserError(f"file not found: {path}")
    parquet = path.suffix.lower() in (".parquet", ".pq")
    labels, columns = _read_column(path, config.data.target, parquet)
    classes, codes = np.unique(labels, return_inverse=True)
    if len(classes) < 2:
        raise UserError(f"{path}: the target column has only one class")
    target = config.data.target or columns[-1]
    features = [c for c in columns if c != target]
    lo, hi = _bounds(len(codes), rank, world)
    frame = _read_parquet_rows(path, lo, hi) if parquet else _read_csv_rows(path, lo, hi)
    X = tabular._numeric(frame, features, path)
    return codes, tuple(tabular._plain(c) for c in classes), tuple(features), X, lo, hi, \
        path.name.split(".")[0]


def _bounds(n: int, rank: int, world: int) -> tuple[int, int]:
    return n * rank // world, n * (rank + 1) // world


def _read_column(path: Path, target: str | None, parquet: bool):
    """Every row's label, reading that one column only; and the column names."""
    import pandas as pd
    if parquet:
        import pyarrow.parquet as pq
        columns = [str(c) for c in pq.ParquetFile(path).schema_arrow.names]
    else:
        columns = [str(c) for c in pd.read_csv(path, nrows=0).columns]
    target = target or columns[-1]
    if target not in columns:
        raise UserError(f"target column {target!r} not found in {path.name}: "
                        f"columns are {', '.join(columns)}")
    if parquet:
        values = pq.read_table(path, columns=[target]).column(0).to_pandas()
    else:
        values = pd.read_csv(path, usecols=[target])[target]
    if values.isna().any():
        raise UserError(f"{path}: missing labels in target column {target!r}")
    return values.to_numpy(), columns


def _read_csv_rows(path: Path, lo: int, hi: int):
    """Rows [lo, hi) of a CSV: the rows before are skipped, the rows after never read."""
    import pandas as pd
    return pd.read_csv(path, skiprows=range(1, lo + 1), nrows=hi - lo)


def _read_parquet_rows(path: Path, lo: int, hi: int):
    """Rows [lo, hi) of a Parquet file, reading only the row groups that hold them."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    pf = pq.ParquetFile(path)
    groups, start, first = [], 0, None
    for g in range(pf.num_row_groups):
        size = pf.metadata.row_group(g).num_rows
        if start + size > lo and start < hi:
            groups.append(g)
            first = start if first is None else first
        start += size
    table = pf.read_row_groups(groups) if groups else pa.table({})
    return table.to_pandas().iloc[lo - (first or 0): hi - (first or 0)]


# -- one rank ---------------------------------------------------------------------------

def _rank_main(config, args, out, err) -> int:
    from torchclf.data.dataset import Dataset, Standardizer, split_indices
    from torchclf.metrics import report_from_confusion
    from torchclf.model import MLP
    from torchclf.run import Result
    from torchclf.store.rundir import save_run, unique_run_dir
    from torchclf.cli.console import lesson_line, metrics_table
    from torchclf.engine.optim import make_optimizer

    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    dev = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}") if cuda else \
        torch.device("cpu")
    try:
        codes, classes, features, X_local, lo, hi, name = _labels_and_slice(config, rank, world)
        train_idx, test_idx = split_indices(codes, config.data.test_size, config.data.split_seed)
        mine = lambda idx: idx[(idx >= lo) & (idx < hi)]
        tr_rows, te_rows = mine(train_idx), mine(test_idx)
        Xtr, Xte = X_local[tr_rows - lo], X_local[te_rows - lo]
        scaler = _global_standardizer(Xtr, len(train_idx), dev) if config.data.standardize \
            else None
        prep = (lambda A: scaler.transform(A)) if scaler is not None else (lambda A: A)
        m, t = config.model, config.train
        model = MLP(len(features), m.hidden, len(classes), m.activation, m.dropout,
                    task=m.task, seed=t.seed).to(dev)
        task = model.task
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        opt = make_optimizer(t.optimizer, ddp.parameters(), t.lr, t.weight_decay, t.momentum)
        loss_sum = torch.nn.BCEWithLogitsLoss(reduction="sum") if task == "binary" else \
            torch.nn.CrossEntropyLoss(reduction="sum")
        n = len(train_idx)
        bs = t.batch_size or (n if n <= 8192 else 256)
        # position of each global training row -> local row, or -1 if another rank has it
        local_of = np.full(n, -1, dtype=np.int64)
        held = np.flatnonzero((train_idx >= lo) & (train_idx < hi))
        local_of[held] = np.arange(len(held))
        Xt = torch.as_tensor(prep(Xtr), device=dev)
        yt = torch.as_tensor(codes[tr_rows], device=dev)
        Xv = torch.as_tensor(prep(Xte), device=dev)
        yv = torch.as_tensor(codes[te_rows], device=dev)
        gen = torch.Generator().manual_seed(t.seed)
        torch.manual_seed(t.seed)
        history = {c: [] for c in ("epoch", "loss", "accuracy", "test_loss", "test_accuracy",
                                   "lr", "seconds")}
        start = time.perf_counter()
        for epoch in range(t.epochs):
            order = torch.randperm(n, generator=gen).numpy() if bs < n else np.arange(n)
            sums = torch.zeros(2, dtype=torch.float64, device=dev)  # loss sum, correct
            for s in range(0, n, bs):
                positions = order[s:s + bs]
                local = local_of[positions]
                local = torch.as_tensor(local[local >= 0], device=dev)
                logits = ddp(Xt[local])
                target = tasks.targets(yt[local], task)
                loss = loss_sum(logits, target)
                opt.zero_grad(set_to_none=True)
                (loss * world / len(positions)).backward()
                opt.step()
                sums += torch.stack([loss.detach().double(),
                                     (tasks.labels(logits.detach(), task) == yt[local])
                                     .sum().double()])
            is_log = t.log_every and epoch % t.log_every == 0 or epoch == t.epochs - 1
            dist.all_reduce(sums)
            row = {"epoch": epoch, "loss": float(sums[0]) / n, "accuracy": float(sums[1]) / n,
                   "test_loss": math.nan, "test_accuracy": math.nan,
                   "lr": t.lr, "seconds": time.perf_counter() - start}
            if not math.isfinite(row["loss"]):
                raise UserError(f"training diverged at epoch {epoch} (loss = {row['loss']}): "
                                f"lower the learning rate (now {t.lr:g})")
            if is_log:
                row["test_loss"], row["test_accuracy"] = _evaluate(model, Xv, yv, task,
                                                                   loss_sum, len(test_idx))
                if rank == 0 and not args.quiet:
                    print(lesson_line(row), file=out, flush=True)
            for k, v in row.items():
                history[k].append(v)
        model.eval()
        metrics = {split: report_from_confusion(*_confusion(model, A, b, task, len(classes)))
                   for split, A, b in (("train", Xt, yt), ("test", Xv, yv))}
        if rank == 0:
            shard = lambda A, rows: Dataset(A, codes[rows], classes, features, name)
            run = Result.from_training(model, shard(Xtr, tr_rows), shard(Xte, te_rows), task,
                                    scaler, history, config.to_dict())
            run.metrics = metrics
            target = Path(args.out) if args.out else unique_run_dir(args.runs_dir, config.name)
            save_run(run, target, plots=not args.no_plots)
            print(metrics_table(metrics), file=out)
            print(f"saved run to {target} ({world} processes)", file=out, flush=True)
        dist.barrier()
        return 0
    finally:
        dist.destroy_process_group()


def _global_standardizer(X: np.ndarray, n: int, dev: torch.device):
    """Mean and (population) std over every rank's training rows, in two passes."""
    from torchclf.data.dataset import Standardizer
    total = torch.as_tensor(X.astype(np.float64).sum(0), device=dev)
    dist.all_reduce(total)
    mean = total / n
    sq = torch.as_tensor(((X.astype(np.float64) - mean.cpu().numpy()) ** 2).sum(0), device=dev)
    dist.all_reduce(sq)
    scale = torch.sqrt(sq / n).cpu().numpy()
    scale[scale < 1e-12] = 1.0
    s = Standardizer()
    s.mean_, s.scale_ = mean.cpu().numpy().astype(np.float32), scale.astype(np.float32)
    return s


@torch.no_grad()
def _evaluate(model, X, y, task, loss_sum, n_total) -> tuple[float, float]:
    logits = model(X)
    sums = torch.stack([loss_sum(logits, tasks.targets(y, task)).double(),
                        (tasks.labels(logits, task) == y).sum().double()])
    dist.all_reduce(sums)
    return float(sums[0]) / n_total, float(sums[1]) / n_total


@torch.no_grad()
def _confusion(model, X, y, task, k) -> tuple[np.ndarray, float]:
    """Global confusion matrix and summed log loss of the true class."""
    proba = tasks.probabilities(model(X), task).double()
    pred = proba.argmax(1)
    cm = torch.zeros(k * k, dtype=torch.float64, device=X.device)
    cm.index_add_(0, y * k + pred, torch.ones(len(y), dtype=torch.float64, device=X.device))
    ll = -torch.log(proba[torch.arange(len(y)), y].clamp_min(1e-7)).sum().reshape(1)
    both = torch.cat([cm, ll])
    dist.all_reduce(both)
    return both[:-1].reshape(k, k).cpu().numpy().astype(np.int64), float(both[-1])
