"""Public callbacks: hooks into training, and the ones that let you watch it.

``PrintLog`` prints the lesson's line at each log point, ``ProgressBar`` shows a tqdm
bar (a widget in a notebook), ``IterationLog`` prints scikit-learn's "Iteration N, loss
= ..." lines and ``LiveView`` redraws the boundary and curves in a notebook.
``torchclf.fit(verbose=..., live=...)`` attaches them (``watchers``); pass your own to
``fit(callbacks=[...])`` to choose their streams or formats.
"""

from __future__ import annotations

from torchclf.callbacks.live import LiveView
from torchclf.callbacks.printing import (LINES, IterationLog, PrintLog, ProgressBar,
                                         lesson_line)
from torchclf.data.dataset import Dataset
from torchclf.engine.callbacks import Callback, EarlyStopping, StopOnSignal, TrainState

__all__ = ["Callback", "EarlyStopping", "StopOnSignal", "TrainState", "PrintLog",
           "ProgressBar", "IterationLog", "LiveView", "lesson_line", "LINES", "watchers",
           "BAR_DELAY"]

BAR_DELAY = 2.0  # seconds a fit runs before its progress bar appears


def watchers(verbose: bool | int | None, live: bool, log_every: int | None,
             train: Dataset, test: Dataset | None = None) -> list[Callback]:
    """The callbacks ``torchclf.fit`` adds for ``verbose`` and ``live``.

    verbose None (the default): the lesson's line at each log point when ``log_every``
    is given, and a progress bar on a fit still running after ``BAR_DELAY`` seconds.
    True (or a positive number): the same, and the last epoch's line without
    ``log_every``. False or 0: neither. ``live``: a ``LiveView`` in a notebook.
    """
    # the picture first, so that in a notebook it sits above the lines that follow it
    added: list[Callback] = [LiveView(train, test)] if live else []
    if verbose is None or verbose:
        bar = ProgressBar(delay=BAR_DELAY)
        added += [bar, PrintLog(bar=bar, every=log_every, final=verbose is not None)]
    return added

