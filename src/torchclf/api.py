"""The notebook surface: ``fit``, ``run_config`` and ``load_run`` return a Run that can
plot and save itself.

Training results are pure (``torchclf.run.Result``: no files, no figures), and plotting
and storage sit above them; the conveniences a notebook wants (``run.plot_boundary()``,
``run.save(path)``) therefore live here, at the top, where every layer may be reached.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from pathlib import Path

from torchclf import animation, experiment, plots
from torchclf.callbacks import watchers
from torchclf.engine import precheck
from torchclf.engine.loop import fit as _train
from torchclf.errors import UserError
from torchclf.run import Result
from torchclf.store import rundir


class Run(Result):
    """A Result with the lesson's plots and ``save``."""

    @classmethod
    def of(cls, result: Result) -> "Run":
        return cls(**{f.name: getattr(result, f.name) for f in dataclasses.fields(Result)})

    def plot_boundary(self, resolution: int = 200, axes=None):
        """Figure with Train | Test decision boundaries, as in the lesson; ``axes`` draws
        into your own Axes (two with test data, one without). A notebook shows it."""
        return plots.boundary_figure(self, resolution, axes)

    def plot_curves(self, axes=None):
        """Figure with loss and accuracy per epoch, train and test; ``axes``: your two."""
        return plots.curves_figure(self, axes)

    def plot_confusion(self, split: str = "test", ax=None):
        """Figure with the confusion matrix of ``split`` ("train" or "test")."""
        return plots.confusion_figure(self, split, ax)

    def animate_boundary(self, path: str | Path = animation.GIF_NAME,
                         recorded: list[animation.Frame] | None = None,
                         max_frames: int | None = None) -> Path:
        """Write a looping GIF of the Train | Test boundary at each log point; returns it.

        Each frame is titled with its epoch and the train and test accuracy of its
        weights; at most ``max_frames`` frames are kept, evenly spaced. Training keeps
        only the final weights, so by default the run is trained again from its config
        (same seed, same arithmetic) with a ``BoundarySnapshots`` callback; this works
        for a loaded run too, and a UserError says so if the config does not rebuild
        the run's weights. ``recorded`` takes the frames of a ``BoundarySnapshots``
        passed to ``fit(callbacks=...)`` instead, with no second training.
        """
        from torchclf.atomic import atomic_write_bytes
        source: Result = self
        if recorded is None:
            source, recorded = _retrain_with_frames(self)
        return atomic_write_bytes(path, animation.boundary_gif(source, recorded, max_frames))

    def save(self, path: str | Path, plots: bool = True) -> Path:
        """Write the run directory atomically; reload it with ``load_run``."""
        return rundir.save_run(self, path, plots=plots)


def _retrain_with_frames(run: Result) -> tuple[Result, list[animation.Frame]]:
    """The run trained again from its config, recording a frame at each log point."""
    from torchclf.config import from_dict
    snapshots = animation.BoundarySnapshots()
    try:
        again = experiment.run_config(from_dict(run.config, "this run's config"), [snapshots])
    except UserError as e:
        raise UserError(f"cannot train this run again to animate it ({e}): train with "
                        "callbacks=[BoundarySnapshots()] and pass its frames as recorded="
                        ) from None
    if not animation.same_weights(again.model.state_dict(), run.model.state_dict()):
        raise UserError("training this run again from its config gave other weights (its "
                        "data or model is not one the config rebuilds): train with "
                        "callbacks=[BoundarySnapshots()] and pass its frames as recorded=")
    return again, snapshots.frames


_FIT_SIGNATURE = inspect.signature(_train)


def fit(*args, verbose: bool | int | None = None, live: bool = False, **kwargs) -> Run:
    try:
        call = _FIT_SIGNATURE.bind(*args, **kwargs)
    except TypeError:  # fit itself names what is wrong with the arguments
        return Run.from_outcome(_train(*args, **kwargs))
    call.apply_defaults()
    given = call.arguments
    precheck.check_call(given["model"], given["train"], given["test"], given["task"])
    given["callbacks"] = [*given["callbacks"], *watchers(verbose, live, given["log_every"],
                                                         given["train"], given["test"])]
    run = Run.from_outcome(_train(*call.args, **call.kwargs))
    precheck.warn_if_stuck(run.history, run.train, float(given["lr"]))
    return run


fit.__doc__ = (_train.__doc__ or "") + """
    verbose : None (the default) prints the lesson's line at each log point when
        ``log_every`` is given, on stdout where fit is called, and shows a progress bar
        (a widget in Jupyter, text on stderr in a terminal) on a fit still running after
        2 seconds; True also prints the last epoch's line without ``log_every``; False or
        0 prints nothing (``torchclf.callbacks``: PrintLog, ProgressBar)
    live : in a Jupyter notebook, redraw the Train | Test boundary and the loss and
        accuracy curves in place at each log point, the final picture staying
        (``torchclf.callbacks.LiveView``); does nothing outside a notebook kernel
    """
fit.__signature__ = _FIT_SIGNATURE.replace(parameters=[
    *_FIT_SIGNATURE.parameters.values(),
    inspect.Parameter("verbose", inspect.Parameter.KEYWORD_ONLY, default=None,
                      annotation="bool | int | None"),
    inspect.Parameter("live", inspect.Parameter.KEYWORD_ONLY, default=False,
                      annotation="bool")], return_annotation="Run")


@functools.wraps(experiment.run_config)
def run_config(*args, **kwargs) -> Run:
    return Run.of(experiment.run_config(*args, **kwargs))


def load_run(path: str | Path, device: str = "cpu", with_data: bool = False) -> Run:
    """Read a run directory; ``with_data`` also rebuilds its train/test split."""
    from torchclf.store.snapshot import read_consistent
    if not with_data:
        return Run.of(rundir.load_run(path, device))
    # the model and the config its data is rebuilt from, both from one save
    run, config = read_consistent(path, lambda: (Run.of(rundir.load_run(path, device)),
                                                 rundir.load_config(path)))
    run.train, run.test = experiment.split_data(config)
    return run
