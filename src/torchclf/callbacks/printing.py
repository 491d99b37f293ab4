"""Training you can watch: the lesson's line at each log point and a progress bar.

Both are callbacks writing to a stream they are given (the line to ``sys.stdout``, the
bar to ``sys.stderr`` by default, looked up when they write, so a notebook or a test
that swaps the stream sees the output). The engine itself never prints: ``torchclf.fit``
and the CLI attach these when asked.
"""

from __future__ import annotations

import math
import sys
import time
from typing import IO

from torchclf.engine.callbacks import Callback, TrainState


def _pct(x: float) -> str:
    return "   n/a" if _nan(x) else f"{100 * x:6.2f}%"


def _nan(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _torchclf_line(row: dict) -> str:
    line = f"Epoch: {row['epoch']:>5} | Loss: {row['loss']:.4f} | Acc: {_pct(row['accuracy'])}"
    if not _nan(row.get("test_loss")):
        line += f" | Test loss: {row['test_loss']:.4f} | Test acc: {_pct(row['test_accuracy'])}"
    return line


def _fraction_line(row: dict) -> str:
    line = f"Epoch: {row['epoch']} | Loss: {row['loss']:.4f} | Acc: {row['accuracy']:.2f}"
    if not _nan(row.get("test_loss")):
        line += f" | Test loss: {row['test_loss']:.4f} | Test acc: {row['test_accuracy']:.2f}"
    return line


def _percent_line(row: dict) -> str:
    line = f"Epoch: {row['epoch']} | Loss: {row['loss']:.4f}, Acc: {100 * row['accuracy']:.2f}%"
    if not _nan(row.get("test_loss")):
        line += (f" | Test loss: {row['test_loss']:.4f}, "
                 f"Test acc: {100 * row['test_accuracy']:.2f}%")
    return line


def _naive_line(row: dict) -> str:
    return f"Epoch {row['epoch']} loss is {row['loss']}"


# LOG_FORMATS of config/schema.py, each as the lesson that uses it prints it.
LINES = {"torchclf": _torchclf_line,      # Epoch:   100 | Loss: 0.2867 | Acc:  86.00% | ...
         "fraction": _fraction_line,      # the exercises: Epoch: 0 | Loss: 1.1024 | Acc: 0.32
         "percent": _percent_line,        # the blobs chapter: Loss: 1.0432, Acc: 65.50%
         "naive": _naive_line}            # Neuromatch's NaiveNet: Epoch 0 loss is 0.7602...


def lesson_line(row: dict, log_format: str = "torchclf") -> str:
    """One logged row as ``log_format`` prints it (see ``LINES``)."""
    return LINES[log_format](row)


class ProgressBar(Callback):
    """A tqdm bar counting training rows (so it shows rows per second) and the epoch,
    with the latest loss when it is known.

    ``file`` None: ``tqdm.auto``'s bar, a widget in Jupyter and VS Code, text on
    ``sys.stderr`` elsewhere; a stream: a text bar on it. The bar appears once training
    has run ``delay`` seconds, so a fit quicker than that shows none.
    """

    def __init__(self, file: IO[str] | None = None, delay: float = 0.0,
                 leave: bool = False) -> None:
        self.file, self.delay, self.leave = file, delay, leave
        self.tqdm = None
        self._start, self._rows, self._total, self._text = 0.0, 0, 0, ""

    def on_fit_start(self, state: TrainState) -> None:
        self.tqdm, self._start = None, time.perf_counter()
        self._total = state.epochs * state.n_rows
        self._rows = (state.epoch + 1) * state.n_rows
        if self.delay <= 0:
            self._open()

    def _open(self) -> None:
        if self.file is None:
            from tqdm.auto import tqdm
            kwargs = {}
        else:
            from tqdm import tqdm
            kwargs = {"file": self.file}
        # no tqdm monitor thread: a thread left alive keeps torch's thread count fixed
        # for the rest of the process (runtime.one_thread_for_tiny)
        tqdm = type("Bar", (tqdm,), {"monitor_interval": 0})
        self.tqdm = tqdm(total=self._total, unit="rows", unit_scale=True, leave=self.leave,
                         dynamic_ncols=True, mininterval=0.2, initial=self._rows,
                         desc=self._text or None, **kwargs)

    def on_batch_end(self, state: TrainState, rows: int) -> None:
        if self.tqdm is not None:
            self.tqdm.update(rows)
            return
        self._rows += rows
        if time.perf_counter() - self._start >= self.delay and self._rows < self._total:
            self._open()

    def on_epoch_end(self, state: TrainState, row: dict | None) -> None:
        if row is None:
            return
        self._text = f"epoch {state.epoch + 1}/{state.epochs}"
        if self.tqdm is not None:
            self.tqdm.set_description(self._text, refresh=False)
            self.tqdm.set_postfix(loss=f"{row['loss']:.4f}", refresh=False)

    def on_log(self, state: TrainState, row: dict) -> None:
        if self.tqdm is not None:  # a log point shows its epoch, however fast training ran
            self.tqdm.refresh()

    def on_fit_end(self, state: TrainState) -> None:
        if self.tqdm is not None:
            self.tqdm.close()

    def write(self, line: str, file: IO[str]) -> None:
        """``line`` on ``file`` without tearing the bar: the bar is cleared, the line
        printed, the bar drawn again. (tqdm.write does this only for streams it can tell
        share a terminal, which the CLI's wrapped stdout and stderr are not.)"""
        if self.tqdm is None:
            print(line, file=file, flush=True)
            return
        self.tqdm.clear()
        print(line, file=file, flush=True)
        self.tqdm.refresh()


class PrintLog(Callback):
    """Prints the lesson's line at every log point (every ``log_every`` epochs of
    ``fit`` and the last) on ``file`` (None: ``sys.stdout`` as it is when printing).

    ``log_format`` is one of ``LINES``. A lesson's own format prints only the multiples
    of ``every``, as the lesson's ``if epoch % 100 == 0`` does; torchclf's adds the last
    epoch. ``final`` prints the last epoch's line at the end of a fit that had no log
    points. With a ``bar`` the lines are written around it.
    """

    def __init__(self, file: IO[str] | None = None, bar: ProgressBar | None = None, *,
                 log_format: str = "torchclf", every: int | None = None,
                 final: bool = False) -> None:
        if log_format not in LINES:
            raise ValueError(f"log_format must be one of {', '.join(LINES)}, "
                             f"not {log_format!r}")
        self.file, self.bar, self.log_format = file, bar, log_format
        self.every, self.final = every, final
        self._printed = False

    def on_fit_start(self, state: TrainState) -> None:
        self._printed = False

    def on_log(self, state: TrainState, row: dict) -> None:
        if self.log_format != "torchclf" and self.every and row["epoch"] % self.every:
            return
        self._print(row)

    def on_fit_end(self, state: TrainState) -> None:
        history = state.history
        if self.final and not self._printed and history.get("epoch"):
            self._print({k: v[-1] for k, v in history.items() if v})

    def _print(self, row: dict) -> None:
        self._printed = True
        out = self.file if self.file is not None else sys.stdout
        line = lesson_line(row, self.log_format)
        if self.bar is not None:
            self.bar.write(line, out)
        else:
            print(line, file=out, flush=True)


class IterationLog(Callback):
    """scikit-learn's MLPClassifier ``verbose`` lines: ``Iteration N, loss = ...`` for
    every epoch (1-based, counted across ``partial_fit`` calls), with the validation
    score when there is one, on ``file`` (None: ``sys.stdout``)."""

    def __init__(self, file: IO[str] | None = None) -> None:
        self.file = file
        self.seen = 0

    def on_fit_start(self, state: TrainState) -> None:
        self.seen = len(state.history["loss"])

    def on_epoch_end(self, state: TrainState, row: dict | None) -> None:
        if row is not None:  # a chunk's epochs reach the history at its sync point
            self._flush(state)

    def on_fit_end(self, state: TrainState) -> None:
        self._flush(state)
        if state.stop_reason and not state.interrupted:
            print(state.stop_reason[:1].upper() + state.stop_reason[1:] + ". Stopping.",
                  file=self._out(), flush=True)

    def _out(self) -> IO[str]:
        return self.file if self.file is not None else sys.stdout

    def _flush(self, state: TrainState) -> None:
        history, out = state.history, self._out()
        for i in range(self.seen, len(history["loss"])):
            print(f"Iteration {int(history['epoch'][i]) + 1}, "
                  f"loss = {history['loss'][i]:.8f}", file=out)
            if history.get("val_accuracy"):
                print(f"Validation score: {history['val_accuracy'][i]:f}", file=out)
        self.seen = len(history["loss"])
        out.flush()
