"""Training speed, side by side in one process: the lesson's loop, a lean eager loop,
scikit-learn's MLPClassifier, and torchclf (autograd and fast engines, and many
models at once). Prints medians over repeats, ratios and peak memory.

    python benchmarks/speed.py            # full: 1000 epochs, 5 repeats, N=256
    python benchmarks/speed.py --quick    # a smoke run for CI-sized machines
    python benchmarks/speed.py --markdown results.md

The job is the lesson's moons exercise: 2-8-8-1 ReLU, 800 training points,
full-batch SGD lr 0.1, BCEWithLogitsLoss, 1000 epochs. Mini-batch epochs (batch 32)
are timed on moons and on a 20,000 x 20 table, autograd against the kernel. Inference
is the 1000x1000 grid a boundary picture evaluates, against the time of 20 epochs of
each loop.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import threading
import time
import warnings
from typing import Callable

import numpy as np
import torch

import torchclf as tc


class PeakRSS:
    """Peak resident memory growth while the block runs, sampled every millisecond."""

    def __enter__(self):
        self.start = self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self):
        while not self._stop.wait(0.001):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())

    @property
    def mib(self) -> float:
        return (self.peak - self.start) / 2**20


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def data():
    ds = tc.datasets.moons(n_samples=1000, noise=0.03, seed=42)
    return ds.split(test_size=0.2, seed=42)


def lesson_loop(train, test, epochs):
    """The exercise notebook's loop: torchmetrics accuracy and a test pass every epoch."""
    from torchmetrics import Accuracy
    X, y = torch.as_tensor(train.X), torch.as_tensor(train.y).float()
    Xt, yt = torch.as_tensor(test.X), torch.as_tensor(test.y).float()
    model = tc.MLP(2, (8, 8), 2, seed=0)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    acc_fn = Accuracy(task="multiclass", num_classes=2)
    for epoch in range(epochs):
        model.train()
        y_logits = model(X).squeeze()
        y_pred = torch.round(torch.sigmoid(y_logits))
        loss = loss_fn(y_logits, y)
        acc = acc_fn(y_pred, y.int())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        model.eval()
        with torch.inference_mode():
            test_logits = model(Xt).squeeze()
            test_pred = torch.round(torch.sigmoid(test_logits))
            test_loss = loss_fn(test_logits, yt)
            test_acc = acc_fn(test_pred, yt.int())
        if epoch % 100 == 0:
            _ = f"{loss:.4f} {acc:.2f} {test_loss:.4f} {test_acc:.2f}"
    return model


def lean_loop(train, test, epochs, seed=0):
    """A lean eager PyTorch loop: no metrics, no test pass."""
    X, y = torch.as_tensor(train.X), torch.as_tensor(train.y).float().reshape(-1, 1)
    model = tc.MLP(2, (8, 8), 2, seed=seed)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(epochs):
        loss = loss_fn(model(X), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


def sklearn_mlp(train, test, epochs):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return MLPClassifier((8, 8), solver="sgd", learning_rate_init=0.1, momentum=0.0,
                             batch_size=len(train), max_iter=epochs, tol=0.0,
                             n_iter_no_change=epochs + 1, alpha=0.0, shuffle=False,
                             random_state=0).fit(train.X, train.y)


def torchclf_fit(engine):
    def go(train, test, epochs):
        return tc.fit(tc.MLP(2, (8, 8), 2, seed=0), train, test, optimizer="sgd", lr=0.1,
                      epochs=epochs, log_every=100, engine=engine, device="cpu")
    go.__name__ = f"torchclf fit ({engine})"
    return go


def inference(train, test, trainers, rounds: int) -> tuple[list, list]:
    """The 1000x1000 grid a boundary picture evaluates, predicted by torch's eager forward
    (the lesson's way), the Predictor and the full decision_grid (probabilities, labels,
    confidence), against 20 epochs of each training loop. The two are timed in turns,
    round after round, so that both see the same machine: this one is shared, and its
    speed drifts by tens of percent within a minute.

    Returns (name, median seconds, peak MiB) for the predictions and (name, median
    seconds of 20 epochs) for the trainers; epochs are timed in runs of 200, so that
    building the model and the final metrics weigh 1/10 as much.
    """
    from torchclf.grid import View2D, bounds, decision_grid
    run = tc.fit(tc.MLP(2, (8, 8), 2, seed=0), train, test, lr=0.1, epochs=50)
    view = View2D.fit(train.X, train.feature_names)
    x0, x1, y0, y1 = bounds(view.to_2d(train.X))
    xx, yy = np.meshgrid(np.linspace(x0, x1, 1000), np.linspace(y0, y1, 1000))
    points = np.c_[xx.ravel(), yy.ravel()].astype(np.float32)

    def eager_forward(X):
        with torch.inference_mode():
            return torch.sigmoid(run.model(torch.from_numpy(X))).numpy()

    predictions = [
        ("torch eager forward + sigmoid", lambda: eager_forward(points)),
        ("torchclf Predictor.predict_proba", lambda: run.predict_proba(points)),
        ("torchclf decision_grid", lambda: decision_grid(
            run.predict_proba, train.X, train.feature_names, resolution=1000))]
    epochs = 200
    training = [(name, lambda fn=fn: fn(train, test, epochs)) for name, fn in trainers]
    peaks = {name: measure(fn, 1)[1] for name, fn in predictions}
    times: dict[str, list[float]] = {name: [] for name, _ in predictions + training}
    for _ in range(rounds):
        for name, fn in predictions + training:
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    for name, _ in predictions:
        print(f"{name:<40} {medians[name] * 1000:8.1f} ms  (peak +{peaks[name]:.1f} MiB)")
    return ([(name, medians[name], peaks[name]) for name, _ in predictions],
            [(name, medians[name] * 20 / epochs) for name, _ in training])


def table_data(rows: int = 20000, cols: int = 20):
    """A numeric table as big_table.py makes one (the label from 5 of the columns)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, cols)).astype(np.float32)
    y = (X[:, :5].sum(1) + 0.5 * rng.normal(size=rows) > 0).astype(np.int64)
    ds = tc.Dataset(X, y, ["0", "1"], [f"f{i}" for i in range(cols)], "table")
    return ds.split(test_size=0.2, seed=0)


def mini_batches(rounds: int, quick: bool) -> list[tuple[str, float, float, float, str]]:
    """Seconds per mini-batch epoch (batch 32, SGD lr 0.1, 8-8 ReLU) through autograd
    (torch's threads, and one thread: on a small busy machine two threads cost tiny
    steps more than they save) and through the kernel ("auto"), timed in turns, round
    after round, so that all see the same machine. Returns (job, autograd s/epoch,
    autograd on one thread s/epoch, kernel s/epoch, the engine auto ran)."""
    scale = 4 if quick else 1  # fewer epochs timed per turn
    jobs = [("moons 1000 rows (800 train), 2-8-8-1", data(), 20 // scale, 400 // scale),
            ("table 20,000 x 20 (16,000 train), 20-8-8-1", table_data(), 2, 40 // scale)]
    threads = torch.get_num_threads()
    out = []
    for job, (train, test), slow_epochs, fast_epochs in jobs:
        ran = {}

        def go(engine, epochs, train=train, test=test):
            torch.set_num_threads(1 if engine == "autograd1" else threads)
            run = tc.fit(tc.MLP(train.n_features, (8, 8), seed=0), train, test, optimizer="sgd",
                         lr=0.1, epochs=epochs, batch_size=32, log_every=10,
                         engine=engine.rstrip("1"), device="cpu")
            ran[engine] = run.config["train"]["engine"]

        turns = {"autograd": slow_epochs, "autograd1": slow_epochs, "auto": fast_epochs}
        times = {engine: [] for engine in turns}
        for engine in turns:
            go(engine, 1)  # warm up
        for _ in range(rounds):
            for engine, epochs in turns.items():
                t = time.perf_counter()
                go(engine, epochs)
                times[engine].append((time.perf_counter() - t) / epochs)
        torch.set_num_threads(threads)
        slow, one, quick_t = (statistics.median(times[e]) for e in turns)
        print(f"mini-batch epoch, batch 32, {job}: autograd {slow * 1000:.1f} ms "
              f"(one thread {one * 1000:.1f} ms), {ran['auto']} {quick_t * 1000:.2f} ms: "
              f"{slow / quick_t:.1f}x ({one / quick_t:.1f}x)", flush=True)
        out.append((job, slow, one, quick_t, ran["auto"]))
    return out


def measure(fn: Callable, repeats: int, *args) -> tuple[float, float]:
    fn(*args)  # warm up (imports, kernel build, allocator)
    times, peak = [], 0.0
    for _ in range(repeats):
        with PeakRSS() as mem:
            t = time.perf_counter()
            fn(*args)
            times.append(time.perf_counter() - t)
        peak = max(peak, mem.mib)
    return statistics.median(times), peak


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer epochs, repeats and models")
    p.add_argument("--markdown", help="also write the tables to this file")
    args = p.parse_args()
    epochs, repeats, n_models = (200, 2, 32) if args.quick else (1000, 5, 256)
    train, test = data()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    rows = []
    cases = [("lesson loop (torchmetrics)", lesson_loop), ("lean eager loop", lean_loop),
             ("scikit-learn MLPClassifier", sklearn_mlp),
             ("torchclf fit, autograd engine", torchclf_fit("autograd")),
             ("torchclf fit, fast engine", torchclf_fit("auto"))]
    for name, fn in cases:
        t, mem = measure(fn, repeats, train, test, epochs)
        rows.append((name, t, mem))
        print(f"{name:<32} {t:8.4f} s  (peak +{mem:.1f} MiB)", flush=True)
    base = {name: t for name, t, _ in rows}
    ours = base["torchclf fit, fast engine"]

    # many models at once vs the lean loop one model after another
    from torchclf.engine.batched import ModelSpec, train_many
    specs = [ModelSpec((8, 8), "relu", "sgd", 0.1, seed=s) for s in range(n_models)]
    seq_models = 4
    seq_t, _ = measure(lambda: [lean_loop(train, test, epochs, s) for s in range(seq_models)], 1)
    seq_rate = seq_models * epochs / seq_t
    many_rows = [("lean eager loop, one model after another", seq_rate, 0.0)]
    for engine in ("stacked", "kernel"):
        try:
            t, mem = measure(lambda: train_many(specs, train, test, epochs, engine=engine), 1)
        except tc.UserError as e:
            print(f"batched ({engine}): skipped, {e}")
            continue
        many_rows.append((f"torchclf batched, {engine} engine (N={n_models})",
                           n_models * epochs / t, mem))
    for name, rate, mem in many_rows:
        print(f"{name:<50} {rate:10.0f} model-epochs/s  (peak +{mem:.1f} MiB)")

    batch_rows = mini_batches(2 if args.quick else 5, args.quick)

    # inference: a 1000 x 1000 boundary grid against 20 epochs of each training loop
    trainers = [(name, fn) for name, fn in cases if name != "scikit-learn MLPClassifier"]
    grid_rows, epoch_rows = inference(train, test, trainers, 3 if args.quick else 15)
    lines = [f"Machine: {cpu_name()}, {os.cpu_count()} cores, "
             f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
             f"{epochs} epochs, median of {repeats}.", "",
             "| moons 2-8-8-1, full-batch SGD | seconds | torchclf fast is | peak memory |",
             "|---|---|---|---|"]
    for name, t, mem in rows:
        ratio = "—" if name == "torchclf fit, fast engine" else f"{t / ours:.1f}x faster"
        lines.append(f"| {name} | {t:.4f} | {ratio} | +{mem:.1f} MiB |")
    lines += ["", "| many models at once | model-epochs/s | vs sequential lean loop |",
              "|---|---|---|"]
    for name, rate, mem in many_rows:
        lines.append(f"| {name} | {rate:,.0f} | {rate / seq_rate:.1f}x |")
    lines += ["", "| mini-batch epochs, batch 32, SGD | autograd ms/epoch (1 thread) | "
              "kernel ms/epoch | kernel is (vs 1 thread) |", "|---|---|---|---|"]
    for job, slow, one, quick_t, ran in batch_rows:
        lines.append(f"| {job} | {slow * 1000:.1f} ({one * 1000:.1f}) | {quick_t * 1000:.2f} "
                     f"({ran}) | {slow / quick_t:.1f}x ({one / quick_t:.1f}x) faster |")
    lines += ["", "| 1000x1000 boundary grid (1M points), 2-8-8-1 | ms | peak memory |",
              "|---|---|---|"]
    for name, t, mem in grid_rows:
        lines.append(f"| {name} | {t * 1000:.1f} | +{mem:.1f} MiB |")
    for name, t in epoch_rows:
        lines.append(f"| 20 training epochs: {name} | {t * 1000:.1f} | |")
    table = "\n".join(lines)
    print()
    print(table)
    print(f"\ntargets: fast >= 15x lesson loop: {base['lesson loop (torchmetrics)'] / ours:.1f}x; "
          f">= 5x scikit-learn: {base['scikit-learn MLPClassifier'] / ours:.1f}x; "
          "mini-batch epochs >= 10x autograd: "
          + ", ".join(f"{min(slow, one) / quick_t:.1f}x"
                      for _, slow, one, quick_t, _ in batch_rows))
    for name, t, _ in grid_rows[1:]:
        print(f"{name} on the grid takes " + ", ".join(
            f"{t / epoch_t:.2f}x" for _, epoch_t in epoch_rows)
            + " the time of 20 epochs of the " + " / ".join(n for n, _ in epoch_rows)
            + " (target < 1)")
    if args.markdown:
        from torchclf.atomic import atomic_write_text
        atomic_write_text(args.markdown, table + "\n")


if __name__ == "__main__":
    main()
