"""The notebook surface: ``fit``, ``run_config`` and ``load_run`` return a Run that can
plot and save itself.

Training results are pure (``torchclf.run.Result``: no files, no figures), and plotting
and storage sit above them; the conveniences a notebook wants (``run.plot_boundary()``,
``run.save(path)``) therefore live here, at the top, where every layer may be reached.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

from torchclf import experiment, plots
from torchclf.engine.loop import fit as _train
from torchclf.run import Result
from torchclf.store import rundir


class Run(Result):
    """A Result with the lesson's plots and ``save``."""

    @classmethod
    def of(cls, result: Result) -> "Run":
        return cls(**{f.name: getattr(result, f.name) for f in dataclasses.fields(Result)})

    def plot_boundary(self, resolution: int = 200):
        """Figure with Train | Test decision boundaries, as in the lesson."""
        return plots.boundary_figure(self, resolution)

    def plot_curves(self):
        """Figure with loss and accuracy per epoch, train and test."""
        return plots.curves_figure(self)

    def plot_confusion(self, split: str = "test"):
        """Figure with the confusion matrix of ``split`` ("train" or "test")."""
        return plots.confusion_figure(self, split)

    def save(self, path: str | Path, plots: bool = True) -> Path:
        """Write the run directory atomically; reload it with ``load_run``."""
        return rundir.save_run(self, path, plots=plots)


@functools.wraps(_train)
def fit(*args, **kwargs) -> Run:
    return Run.from_outcome(_train(*args, **kwargs))


@functools.wraps(experiment.run_config)
def run_config(*args, **kwargs) -> Run:
    return Run.of(experiment.run_config(*args, **kwargs))


def load_run(path: str | Path, device: str = "cpu", with_data: bool = False) -> Run:
    """Read a run directory; ``with_data`` also rebuilds its train/test split."""
    run = Run.of(rundir.load_run(path, device))
    if with_data:
        run.train, run.test = experiment.split_data(rundir.load_config(path))
    return run
