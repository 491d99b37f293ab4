"""Data-parallel training with torch.distributed DDP (gloo on CPU, nccl on GPUs).

``torchclf train DATA --nproc N`` starts N ranks through torchrun
(``torch.distributed.run --standalone``); running ``torchrun ... -m torchclf train``
directly works too. Every rank:

- reads only the label column of the whole file (to draw the same split, stratified or
  the lesson's, as a single process would) and then only its own contiguous slice of rows;
- takes the global per-epoch permutation of the training rows (same seed everywhere)
  and, for each global mini-batch, trains on the rows of it that it holds, scaling its
  loss so DDP's gradient average equals the gradient of the global batch's mean loss
  (the engine's autograd backend with ``batches``/``batch_loss``/``reduce`` for a rank,
  so the divergence check and history are the engine's);
- computes standardizer statistics, metrics and the confusion matrix with all_reduce.

So N ranks with one global batch size reproduce single-process training with that
batch size up to float summation order. Rank 0 returns the Result (its plots show rank
0's slice of the points, its metrics cover all rows); launching, printing and saving
are the command line's (``torchclf.cli.distributed``).
"""

from __future__ import annotations

import gc
import os
import re
import sys
import traceback
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.distributed as dist
# Imported before any process group exists, never lazily from DDP's constructor: this
# module binds ``group.WORLD`` into default arguments when first imported, and a group
# bound there outlives destroy_process_group, its gloo threads still running when the
# rank exits; their teardown then races the exit (std::terminate, SIGABRT) now and then.
import torch.distributed.nn.functional  # noqa: F401

from torchclf import task as tasks
from torchclf.data.dataset import Dataset, Standardizer, plain_label, split_indices
from torchclf.engine.backends import AutogradBackend, batch_size_for
from torchclf.engine.callbacks import Callback
from torchclf.engine.engine import Engine
from torchclf.optimizers import make_optimizer
from torchclf.errors import UserError
from torchclf.metrics import report_from_confusion
from torchclf.model import MLP
from torchclf.run import Result

ENV_RANK = "RANK"
MESSAGE_BYTES = 4096  # room for an error line sent from one rank to the others


def inside_torchrun() -> bool:
    """Is this process one rank of a torchrun job?"""
    return ENV_RANK in os.environ


def is_main_rank() -> bool:
    """Rank 0 (or not distributed at all): the one that reports and saves."""
    return int(os.environ.get(ENV_RANK, "0")) == 0


def torchrun_command(argv: list[str], nproc: int) -> list[str]:
    """The command that runs ``torchclf ARGV`` as ``nproc`` ranks (``--nproc`` dropped)."""
    clean, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            clean.append(a)
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={nproc}", "-m", "torchclf", *clean]


def first_error(text: str) -> str | None:
    """The first ``prog: error: ...`` a rank printed, cut where another rank's copy of
    it begins (unbuffered ranks can interleave their writes on the one pipe)."""
    found = re.search(r"(\S+): error: ", text)
    if found is None:
        return None
    rest = text[found.end():]
    ends = [i for i in (rest.find("\n"), rest.find(found.group(0))) if i >= 0]
    return found.group(0) + rest[:min(ends, default=len(rest))]


# -- reading one rank's rows ------------------------------------------------------------

def check_data(config) -> None:
    """Load and check the data once, in the process that launches the ranks: a bad file
    is then one line before any rank starts (a rank reads only its own rows)."""
    from torchclf.experiment import load_data
    ds = load_data(config.data)
    if ds.encoder is not None and not ds.encoder.is_identity:
        # ranks read numbers from their own rows: no text to encode, no gaps to fill
        from torchclf.data.tabular import numeric_features
        numeric_features(ds.raw, list(ds.raw.columns), ds.meta.get("source", ds.name))
    split_indices(ds.y, config.data.test_size, config.data.split_seed, config.data.stratify)


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
    kind = tabular.file_kind(path)
    if not path.is_file():
        raise UserError(f"file not found: {path}")
    sep = tabular.separator(kind)
    with tabular.reading(path, kind):  # a malformed file: one line on every rank
        labels, columns = _read_column(path, config.data.target, kind, sep)
    target = config.data.target or columns[-1]
    classes, codes = tabular.label_codes(labels, target, path)
    features = [c for c in columns if c != target]
    lo, hi = _bounds(len(codes), rank, world)
    with tabular.reading(path, kind):
        frame = _read_parquet_rows(path, lo, hi) if kind == "parquet" else \
            _read_csv_rows(path, lo, hi, sep)
    X = tabular.numeric_features(frame, features, path, first_row=lo)
    return codes, tuple(plain_label(c) for c in classes), tuple(features), X, lo, hi, \
        path.name.split(".")[0]


def _same_on_every_rank(read, dev: torch.device):
    """``read()`` on every rank. A UserError on any rank (a bad value in its rows) is
    raised on every rank, the lowest failing rank's message, so all of them print the
    same line and none is left waiting for the others in a collective."""
    rank, world = dist.get_rank(), dist.get_world_size()
    try:
        value, error = read(), None
    except UserError as e:
        value, error = None, e
    first = torch.tensor([world if error is None else rank], device=dev)
    dist.all_reduce(first, op=dist.ReduceOp.MIN)
    if int(first) == world:
        return value
    message = torch.zeros(MESSAGE_BYTES, dtype=torch.uint8, device=dev)
    if rank == int(first):
        text = str(error).encode()[:MESSAGE_BYTES]
        message[:len(text)] = torch.tensor(list(text), dtype=torch.uint8)
    dist.broadcast(message, src=int(first))
    raise SharedRankError(
        bytes(message.cpu().tolist()).rstrip(b"\0").decode(errors="replace"), rank)


class SharedRankError(UserError):
    """The same error raised on every rank; only rank 0 needs to say it (the others'
    lines would interleave with it on a shared terminal)."""

    def __init__(self, message: str, rank: int) -> None:
        super().__init__(message)
        self.rank = rank


def _bounds(n: int, rank: int, world: int) -> tuple[int, int]:
    return n * rank // world, n * (rank + 1) // world


def _read_column(path: Path, target: str | None, kind: str, sep: str):
    """Every row's label, reading that one column only; and the column names."""
    import pandas as pd
    from torchclf.data import tabular
    from torchclf.data.cells import labels_as_written
    if kind == "parquet":
        import pyarrow.parquet as pq
        columns = [str(c) for c in pq.ParquetFile(path).schema_arrow.names]
    else:
        columns = [str(c) for c in pd.read_csv(path, sep=sep, nrows=0).columns]
    target = target or columns[-1]
    if target not in columns:
        raise UserError(tabular.missing_column(target, columns, path, "target column"))
    if kind == "parquet":
        return pq.read_table(path, columns=[target]).column(0).to_pandas(), columns
    labels = pd.read_csv(path, sep=sep, usecols=[target], dtype={target: str})[target]
    return labels_as_written(labels), columns


def _read_csv_rows(path: Path, lo: int, hi: int, sep: str):
    """Rows [lo, hi) of a CSV: the rows before are skipped, the rows after never read."""
    import pandas as pd
    return pd.read_csv(path, sep=sep, skiprows=range(1, lo + 1), nrows=hi - lo)


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

def train_rank(config, callbacks: Sequence[Callback] = ()) -> Result | None:
    """Train this rank's part of ``config``; rank 0 gets the Result (metrics over every
    rank's rows), the other ranks None. ``callbacks`` see every epoch's synced row, with
    test metrics over all ranks at log points (a front end prints them on rank 0).

    A bad value, in any rank's rows, or a divergence raises the same UserError on every
    rank."""
    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    dev = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}") if cuda else \
        torch.device("cpu")
    try:
        return _train_rank(config, callbacks, dev)
    except BaseException as e:  # its frames hold the DDP model, which holds the group
        traceback.clear_frames(e.__traceback__)
        raise
    finally:
        gc.collect()  # DDP lives in reference cycles: free it (and its hold on the group)
        dist.destroy_process_group()  # the last reference: gloo's threads are joined here


def _train_rank(config, callbacks: Sequence[Callback], dev: torch.device) -> Result | None:
    rank, world = dist.get_rank(), dist.get_world_size()
    codes, classes, features, X_local, lo, hi, name = _same_on_every_rank(
        lambda: _labels_and_slice(config, rank, world), dev)
    train_idx, test_idx = split_indices(codes, config.data.test_size, config.data.split_seed,
                                        config.data.stratify)
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
    n = len(train_idx)
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
    backend = _RankBackend(ddp, opt, Xt, tasks.targets(yt, task), task,
                           batch_size_for(n, t.batch_size), gen, local_of, world)
    log = _RankTest(model, Xv, yv, len(test_idx), t)
    history = Engine(backend, callbacks=[log, *callbacks], sync_every=1,
                     log_every=t.log_every).run(t.epochs).history
    model.eval()
    metrics = {split: report_from_confusion(*_confusion(model, A, b, task, len(classes)),
                                            classes)
               for split, A, b in (("train", Xt, yt), ("test", Xv, yv))}
    dist.barrier()
    if rank != 0:
        return None
    from torchclf.experiment import pin_data
    shard = lambda A, rows: Dataset(A, codes[rows], classes, features, name)
    result = Result.from_training(model, shard(Xtr, tr_rows), shard(Xte, te_rows), task,
                                  scaler, history, pin_data(config).to_dict())
    result.metrics = metrics
    return result


def _sum_loss(task: str) -> torch.nn.Module:
    return torch.nn.BCEWithLogitsLoss(reduction="sum") if task == "binary" else \
        torch.nn.CrossEntropyLoss(reduction="sum")


class _RankBackend(AutogradBackend):
    """This rank's rows of every global mini-batch, its loss scaled by ``world / batch``
    so DDP's gradient average is the gradient of the global batch's mean loss."""

    def __init__(self, ddp, opt, X, y, task, batch_size, generator, local_of, world):
        super().__init__(ddp, opt, X, y, task, batch_size, generator)
        self.whole = False  # every epoch goes through batches(), full batch included
        self.local_of, self.world, self.n_total = local_of, world, len(local_of)
        self.loss_sum = _sum_loss(task)

    def batches(self):
        n, bs = self.n_total, self.batch_size
        order = torch.randperm(n, generator=self.generator).numpy() if bs < n \
            else np.arange(n)
        for s in range(0, n, bs):
            local = self.local_of[order[s:s + bs]]
            yield torch.as_tensor(local[local >= 0], device=self.X.device), len(order[s:s + bs])

    def batch_loss(self, logits, target, count):
        loss = self.loss_sum(logits, target)
        return loss * self.world / count, loss.detach()

    def reduce(self, total, correct):
        sums = torch.stack([total.double(), correct.double()])
        dist.all_reduce(sums)
        return sums[0], sums[1]


class _RankTest(Callback):
    """Test metrics over every rank's rows at log points (and the last epoch)."""

    def __init__(self, model, X, y, n_test, train_config):
        self.model, self.X, self.y, self.n_test, self.t = model, X, y, n_test, train_config

    def on_epoch_end(self, state, row):
        t, epoch = self.t, state.epoch
        if not (t.log_every and epoch % t.log_every == 0 or epoch == t.epochs - 1):
            return
        row["test_loss"], row["test_accuracy"] = _evaluate(
            self.model, self.X, self.y, self.model.task, _sum_loss(self.model.task),
            self.n_test)
        state.history["test_loss"][-1] = row["test_loss"]
        state.history["test_accuracy"][-1] = row["test_accuracy"]


def _global_standardizer(X: np.ndarray, n: int, dev: torch.device):
    """Mean and (population) std over every rank's training rows, in two passes."""
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
