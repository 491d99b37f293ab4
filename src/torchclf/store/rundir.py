"""The run directory on disk: written whole or not at all, and read back.

Everything is first written into a hidden temporary sibling directory, then renamed
into place, so a crash mid-write never leaves a half-written run; an existing run
at the same path is only removed once the new one is complete, and only a folder
torchclf wrote is ever replaced (``torchclf.store.owned``).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Mapping

from torchclf import config as cfg
from torchclf.errors import UserError
from torchclf.run import Result
from torchclf.store.modelfiles import load_model, save_model
from torchclf.store.owned import reserve_folder, write_folder
from torchclf.store.snapshot import read_consistent

CONFIG, HISTORY, METRICS = "config.toml", "history.csv", "metrics.json"
PLOTS = ("boundary.png", "curves.png", "confusion.png")


def save_run(run: Result, path: str | Path, plots: bool = True,
             files: Mapping[str, bytes] | None = None) -> Path:
    """Write config, model files, history, metrics (and plots) to ``path`` atomically.

    ``files`` are more of the run's files already rendered (name -> bytes, such as
    ``boundary.gif``), written in the same atomic step. ``path`` must be new, empty, or
    a run folder torchclf wrote (``owned``): anything else is refused before a byte is
    written.
    """
    import tomli_w

    def fill(tmp: Path) -> None:
        (tmp / CONFIG).write_text(tomli_w.dumps(run.config), encoding="utf-8")
        save_model(run.predictor, tmp)
        _write_history(run.history, tmp / HISTORY)
        (tmp / METRICS).write_text(json.dumps(_finite(run.metrics), indent=2) + "\n",
                                   encoding="utf-8")
        if plots:
            _write_plots(run, tmp)
        for name, data in (files or {}).items():
            (tmp / name).write_bytes(data)

    return write_folder(path, "run", fill)


def load_run(path: str | Path, device: str = "cpu") -> Result:
    """Read a run directory (its data is rebuilt by ``torchclf.api.load_run``): every
    file from one save, even while another process re-saves it (``snapshot``)."""
    return read_consistent(path, lambda: _load_run(Path(path), device))


def _load_run(path: Path, device: str) -> Result:
    if not path.is_dir():
        raise UserError(f"run directory not found: {path}")
    predictor = load_model(path, device)
    config = cfg.load(path / CONFIG).to_dict() if (path / CONFIG).exists() else {}
    return Result(predictor, _read_history(path / HISTORY), _read_metrics(path / METRICS),
                  config)


def load_config(path: str | Path) -> cfg.RunConfig:
    """The config.toml of a run directory, which is needed to rebuild the run's data."""
    path = Path(path)
    if not (path / CONFIG).is_file():
        raise UserError(f"{path / CONFIG} is missing, so the run's data cannot be rebuilt: "
                        "give a labelled data file, or train the run again")
    return cfg.load(path / CONFIG)


def unique_run_dir(root: str | Path, name: str) -> Path:
    """``root/name``, or ``root/name-2``, ``-3``... so no earlier run is overwritten; the
    folder is created empty at once, so a run started at the same time takes another
    name (``owned.reserve_folder``; ``owned.release`` gives it back if nothing is saved)."""
    return reserve_folder(root, name)


def _write_plots(result: Result, directory: Path) -> None:
    from torchclf.plots import run_figures, save_figure  # matplotlib only when plotting
    for name, figure in run_figures(result).items():
        save_figure(figure, directory / name)


def _write_history(history: dict[str, list[float]], path: Path) -> None:
    columns = list(history)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for row in zip(*(history[c] for c in columns)):
            w.writerow(["" if isinstance(v, float) and math.isnan(v) else
                        (int(v) if c == "epoch" else repr(float(v)))
                        for c, v in zip(columns, row)])


def _read_history(path: Path) -> dict[str, list[float]]:
    if not path.exists():
        return {}
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        columns = rows[0] if rows else []
        out: dict[str, list[float]] = {c: [] for c in columns}
        for line, row in enumerate(rows[1:], start=2):
            if len(row) != len(columns):
                raise ValueError(f"line {line} has {len(row)} cells, not {len(columns)}")
            for c, v in zip(columns, row):
                out[c].append(int(v) if c == "epoch" else (float(v) if v != "" else math.nan))
    except (OSError, UnicodeDecodeError, csv.Error, ValueError) as e:
        raise UserError(f"cannot read {path} ({e}): the file is damaged; "
                        "re-save the run or delete the file") from None
    return out


def _read_metrics(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise UserError(f"cannot read {path} ({e}): the file is damaged; "
                        "re-save the run or delete the file") from None
    if not isinstance(metrics, dict):
        raise UserError(f"{path} does not hold a table of metrics: "
                        "re-save the run or delete the file")
    return metrics


def _finite(obj):
    """JSON has no nan: write null instead."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
