"""Many MLPs of one architecture in the compiled kernel at once (``kernels/many.c``).

The models of an architecture sit in SIMD lanes, eight to a vector (sixteen with
AVX-512: ``many_lanes()`` of the built library says). Their weights are packed once
into lane-interleaved arrays, trained full batch by one kernel call per chunk of epochs
(the vectors split over threads, the GIL released; ``train_all`` runs a sweep's
architectures side by side), evaluated on the training and test rows by the same
kernel's forward pass, and unpacked into the models once. Each lane trains as its model
would alone, to float rounding: the formulas are ``train.c``'s, the sums run in
another order (``tests/test_batched.py`` compares with autograd).
"""

from __future__ import annotations

import ctypes
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Callable, Sequence

import numpy as np
import torch

from torchclf.activations import ACTIVATIONS
from torchclf.optimizers import OPTIMIZERS
from torchclf.engine import fast

# model-rows per kernel call at most (but one epoch): how often progress is reported
# and how long a call keeps Python from seeing a signal
MODEL_ROWS_PER_CALL = 1 << 21


def _ptr(a: np.ndarray) -> int:
    return a.ctypes.data


class LaneGroup:
    """G models of one architecture (same sizes, activation and optimizer) with their
    own lr, momentum and weight decay, packed for ``train_many_mlp``."""

    def __init__(self, linears: Sequence[Sequence[torch.nn.Linear]], activation: str,
                 optimizer: str, settings: Sequence[tuple[float, float, float]],
                 task: str) -> None:
        self.lib = fast.load_kernel()
        self.lanes = self.lib.many_lanes()  # models per vector, as many.c was built
        self.count = len(linears)
        self.n_groups = -(-self.count // self.lanes)
        first = linears[0]
        self.sizes = [first[0].in_features, *[m.out_features for m in first]]
        self.c_sizes = (ctypes.c_int * len(self.sizes))(*self.sizes)
        self.act = ACTIVATIONS[activation].kernel_code
        self.opt = OPTIMIZERS[optimizer.lower()].kernel_code
        self.binary = int(task == "binary")
        self.layout = []  # (offset, rows, cols) of each weight, then its bias
        offset = 0
        for a, b in zip(self.sizes[:-1], self.sizes[1:]):
            self.layout += [(offset, b, a), (offset + a * b, b, 1)]
            offset += a * b + b
        self.n_params = offset
        shape = (self.n_groups, self.n_params, self.lanes)
        self.params = np.zeros(shape, dtype=np.float32)
        self.s1 = np.zeros(shape, dtype=np.float32)
        self.s2 = np.zeros(shape, dtype=np.float32) if self.opt else None
        with torch.no_grad():
            for j, (off, rows, cols) in enumerate(self.layout):
                layer, is_bias = divmod(j, 2)
                stacked = torch.stack([(ls[layer].bias if is_bias else ls[layer].weight)
                                       .reshape(-1) for ls in linears]).numpy()
                self._lanes(off, rows * cols)[...] = self._padded(stacked)
        columns = np.zeros((3, self.n_groups * self.lanes), dtype=np.float64)
        columns[:, :self.count] = np.asarray(settings, dtype=np.float64).T
        self.lr, self.momentum, self.wd = (np.ascontiguousarray(c) for c in columns)
        self.done = 0  # epochs trained

    def _lanes(self, offset: int, size: int) -> np.ndarray:
        """The view of one tensor of every model: (n_groups, size, lanes)."""
        return self.params[:, offset:offset + size, :]

    def _padded(self, stacked: np.ndarray) -> np.ndarray:
        """(count, size) -> (n_groups, size, lanes), unused lanes zero."""
        full = np.zeros((self.n_groups * self.lanes, stacked.shape[1]), dtype=np.float32)
        full[:self.count] = stacked
        return full.reshape(self.n_groups, self.lanes, -1).transpose(0, 2, 1)

    def _call(self, X: np.ndarray, y: np.ndarray, epochs: int, update: bool,
              threads: int) -> tuple[np.ndarray, np.ndarray]:
        cols = self.n_groups * self.lanes
        loss = np.empty((epochs, cols), dtype=np.float32)
        acc = np.empty((epochs, cols), dtype=np.float32)
        code = self.lib.train_many_mlp(
            X.shape[0], _ptr(X), _ptr(y), len(self.sizes) - 1, self.c_sizes, self.act,
            self.binary, self.opt, self.n_groups, _ptr(self.params), _ptr(self.s1),
            _ptr(self.s2) if self.s2 is not None else None, _ptr(self.lr),
            _ptr(self.momentum), _ptr(self.wd), int(self.done == 0), float(self.done),
            epochs, int(update), _ptr(loss), _ptr(acc), threads)
        if code != 0:
            raise MemoryError("the fast kernel ran out of memory")
        return loss[:, :self.count], acc[:, :self.count]

    def train(self, X: np.ndarray, y: np.ndarray, epochs: int, threads: int) -> np.ndarray:
        """``epochs`` full-batch epochs on (X, y) in one call on ``threads`` threads;
        (epochs, count) losses before each step."""
        loss = self._call(X, y, epochs, True, threads)[0]
        self.done += epochs
        return loss

    def evaluate(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(loss, accuracy) of every model on (X, y), one forward pass, nothing changed."""
        loss, acc = self._call(X, y, 1, False, max(1, torch.get_num_threads()))
        return loss[0], acc[0]

    def unpack(self, linears: Sequence[Sequence[torch.nn.Linear]]) -> None:
        """Copy the trained weights into the models' layers."""
        with torch.no_grad():
            for j, (off, rows, cols) in enumerate(self.layout):
                layer, is_bias = divmod(j, 2)
                per_model = self._lanes(off, rows * cols).transpose(0, 2, 1).reshape(
                    self.n_groups * self.lanes, rows * cols)
                values = torch.from_numpy(np.ascontiguousarray(per_model[:self.count]))
                for ls, v in zip(linears, values):
                    target = ls[layer].bias if is_bias else ls[layer].weight
                    target.copy_(v.view_as(target))


def train_all(groups: Sequence[LaneGroup], X: np.ndarray, y: np.ndarray, epochs: int,
              progress: Callable[[int], None] | None = None) -> list[np.ndarray]:
    """Train every architecture's group ``epochs`` epochs on (X, y); each one's
    (epochs, count) losses.

    The groups train side by side, each in calls of up to ``MODEL_ROWS_PER_CALL``
    model-rows on its share of torch's threads, the next call of a group queued as soon
    as its last one returns (a sweep's architectures often fill a vector or two each:
    one after another would leave cores idle). ``progress(k)`` is called on this thread
    after each call with the model-epochs it trained.
    """
    threads = max(1, torch.get_num_threads())
    vectors = sum(g.n_groups for g in groups)
    shares = [max(1, round(threads * g.n_groups / vectors)) for g in groups]
    per_call = [max(1, MODEL_ROWS_PER_CALL // (X.shape[0] * g.n_groups * g.lanes))
                for g in groups]
    losses: list[list[np.ndarray]] = [[] for _ in groups]

    def step(i: int) -> int:
        todo = min(per_call[i], epochs - sum(map(len, losses[i])))
        losses[i].append(groups[i].train(X, y, todo, shares[i]))
        return todo

    with ThreadPoolExecutor(min(threads, len(groups))) as pool:
        running = {pool.submit(step, i): i for i in range(len(groups))}
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                i = running.pop(future)
                todo = future.result()
                if progress is not None:
                    progress(todo * groups[i].count)
                if sum(map(len, losses[i])) < epochs:
                    running[pool.submit(step, i)] = i
    return [np.concatenate(out) for out in losses]
