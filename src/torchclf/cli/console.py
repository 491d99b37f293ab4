"""What the CLI shows while and after training: the lesson's line, a progress bar, tables.

The line and the bar are the public callbacks of ``torchclf.callbacks`` (the ones
``torchclf.fit`` attaches), writing to the streams the CLI hands in.
"""

from __future__ import annotations

from typing import IO

from torchclf.callbacks import PrintLog, ProgressBar, lesson_line
from torchclf.callbacks.printing import _pct

__all__ = ["LessonPrinter", "ProgressBar", "lesson_line", "metrics_table", "confusion_table"]


def LessonPrinter(out: IO[str], bar: ProgressBar | None = None, train=None) -> PrintLog:
    """The lesson's line at every log point, in the format and every ``train`` (a
    TrainConfig) says, on ``out`` (around ``bar``)."""
    if train is None:
        return PrintLog(out, bar)
    return PrintLog(out, bar, log_format=train.log_format, every=train.log_every)


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
