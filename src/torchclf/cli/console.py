"""What the CLI shows while and after training: the lesson's line, a progress bar, tables.

These are callbacks and formatters writing to streams the CLI hands in; the library
itself never prints.
"""

from __future__ import annotations

import math
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


class LessonPrinter(Callback):
    """Prints the lesson's line at every log point. A lesson's own format prints only
    the multiples of ``log_every``, as the lesson's ``if epoch % 100 == 0`` does;
    torchclf's adds the last epoch."""

    def __init__(self, out: IO[str], bar: "ProgressBar | None" = None,
                 train=None) -> None:
        self.out, self.bar = out, bar
        self.log_format = train.log_format if train is not None else "torchclf"
        self.every = train.log_every if train is not None else None

    def on_log(self, state: TrainState, row: dict) -> None:
        if self.log_format != "torchclf" and row["epoch"] % self.every:
            return
        line = lesson_line(row, self.log_format)
        if self.bar is not None and self.bar.tqdm is not None:
            self.bar.tqdm.write(line, file=self.out)
        else:
            print(line, file=self.out, flush=True)


class ProgressBar(Callback):
    """A tqdm bar on stderr counting training rows (so it shows rows per second) and
    the epoch, with the latest loss when it is known."""

    def __init__(self, err: IO[str]) -> None:
        self.err = err
        self.tqdm = None

    def on_fit_start(self, state: TrainState) -> None:
        from tqdm import tqdm
        self.tqdm = tqdm(total=state.epochs * state.n_rows, file=self.err, unit="rows",
                         unit_scale=True, leave=False, dynamic_ncols=True, mininterval=0.2,
                         initial=(state.epoch + 1) * state.n_rows)

    def on_batch_end(self, state: TrainState, rows: int) -> None:
        self.tqdm.update(rows)

    def on_epoch_end(self, state: TrainState, row: dict | None) -> None:
        if row is not None:
            self.tqdm.set_description(f"epoch {state.epoch + 1}/{state.epochs}", refresh=False)
            self.tqdm.set_postfix(loss=f"{row['loss']:.4f}", refresh=False)

    def on_fit_end(self, state: TrainState) -> None:
        self.tqdm.close()


def metrics_table(metrics: dict) -> str:
    """Train and test metrics side by side, then each class's rows and recall (for many
    classes, the classes the last split's report lists: its lowest F1)."""
    splits = [s for s in ("train", "test") if s in metrics]
    keys = [("accuracy", "accuracy", _pct), ("precision_macro", "precision (macro)", _pct),
            ("recall_macro", "recall (macro)", _pct), ("f1_macro", "F1 (macro)", _pct),
            ("log_loss", "log loss", lambda v: f"{v:7.4f}")]
    rows = [(label, [fmt(metrics[s][key]) for s in splits]) for key, label, fmt in keys]
    # each class's rows and recall, where the report has them (class weights show here)
    last = metrics[splits[-1]] if splits else {}
    if "classes_listed" in last:
        rows.append((f"{last['classes_listed']} ({splits[-1]}):", ["" for _ in splits]))
    for name in last.get("per_class", {}):
        rows.append((f"rows {name}", [str(metrics[s]["class_counts"].get(name, "-"))
                                      for s in splits]))
        rows.append((f"  recall {name}",
                     [_pct(metrics[s]["per_class"][name]["recall"])
                      if name in metrics[s]["per_class"] else "-" for s in splits]))
    width = max(18, *(len(label) + 1 for label, _ in rows))
    lines = [" " * width + "".join(f"{s:>10}" for s in splits)]
    lines += [f"{label:<{width}}" + "".join(f"{v:>10}" for v in values)
              for label, values in rows]
    return "\n".join(lines)


def confusion_table(report: dict, classes: tuple) -> str:
    """Rows = true class, columns = predicted class; for a report of too many classes to
    keep the matrix, its most frequent mistakes instead."""
    if "confusion_matrix" not in report:
        lines = [f"{report.get('n_classes', len(classes))} classes: the most frequent "
                 "mistakes (true -> predicted: rows)"]
        lines += [f"  {p['true']} -> {p['predicted']}: {p['count']}"
                  for p in report.get("top_confusions", [])] or ["  none"]
        return "\n".join(lines)
    matrix = report["confusion_matrix"]
    names = [str(c) for c in classes]
    width = max(6, *(len(n) for n in names)) + 1
    corner = "true \\ pred"
    lines = [f"{corner:<{width + 6}}" + "".join(f"{n:>{width}}" for n in names)]
    for name, row in zip(names, matrix):
        lines.append(f"{name:<{width + 6}}" + "".join(f"{v:>{width}}" for v in row))
    return "\n".join(lines)
