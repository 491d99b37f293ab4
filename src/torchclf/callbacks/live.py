"""A live view in the notebook: the Train | Test boundary and the loss and accuracy
curves, redrawn in place in one output area at each log point while training runs.

Each picture is a PNG drawn on matplotlib's Agg canvas (``torchclf.plots``, no pyplot
state) and shown with IPython's ``display(..., display_id=True)``, then replaced with
``handle.update(...)``; the final picture stays. Outside a Jupyter kernel (a terminal,
a script) the view does nothing.
"""

from __future__ import annotations

import io
import time
from typing import Callable

import numpy as np

from torchclf.data.dataset import Dataset
from torchclf.engine.callbacks import Callback, TrainState

Show = Callable[[bytes], None]


def kernel_display() -> Callable | None:
    """IPython's ``display`` when running in a Jupyter kernel, else None."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return None
    from IPython.display import display
    return display


class LiveView(Callback):
    """Redraws the boundary (of ``train`` and ``test``) and the curves at each log point.

    ``show`` takes the PNG bytes of each picture (default: the notebook's display, or
    nothing outside a kernel). Drawing costs time, so a log point is skipped while less
    than ``min_seconds`` (or twice the last drawing's time) have passed since the last
    picture (so drawing takes a third of the time at most); ``min_seconds=0`` draws every
    log point. The end of training is always drawn. ``resolution``: grid points a side.
    """

    def __init__(self, train: Dataset, test: Dataset | None = None, *,
                 resolution: int = 80, dpi: int = 60, min_seconds: float = 0.5,
                 show: Show | None = None) -> None:
        self.train, self.test = train, test
        self.resolution, self.dpi, self.min_seconds = resolution, dpi, min_seconds
        self.show = show
        self.pictures = 0           # drawn so far in this fit
        self._handle = None
        self._last, self._cost, self._drawn = -float("inf"), 0.0, None

    def on_fit_start(self, state: TrainState) -> None:
        self.pictures, self._handle, self._drawn = 0, None, None
        self._last, self._cost = -float("inf"), 0.0
        if self.show is None and kernel_display() is None:
            self._sink = None
        else:
            self._sink = self.show or self._display

    def on_log(self, state: TrainState, row: dict) -> None:
        wait = max(self.min_seconds, 2 * self._cost) if self.min_seconds > 0 else 0
        if self._sink is not None and time.perf_counter() - self._last >= wait:
            self._draw(state, int(row["epoch"]) if row else state.epoch)

    def on_fit_end(self, state: TrainState) -> None:
        if self._sink is not None and self._drawn != state.epoch and state.history["epoch"]:
            self._draw(state, int(state.history["epoch"][-1]))

    def _draw(self, state: TrainState, epoch: int) -> None:
        start = time.perf_counter()
        self._sink(self.picture(state, epoch))
        self.pictures += 1
        self._drawn, self._last = state.epoch, time.perf_counter()
        self._cost = self._last - start

    def _display(self, png: bytes) -> None:
        from IPython.display import Image, display
        if self._handle is None:
            self._handle = display(Image(data=png), display_id=True)
        else:
            self._handle.update(Image(data=png))

    def picture(self, state: TrainState, epoch: int) -> bytes:
        """PNG of the boundary above the curves, for the model as it is now."""
        from torchclf import plots
        from torchclf.run import Predictor
        task = state.task or getattr(state.model, "task", None)
        predictor = Predictor(state.model, task, self.train.classes,
                              tuple(self.train.feature_names), state.scaler)
        history = {k: list(v) for k, v in state.history.items()}
        boundary = plots.plot_boundary(predictor.proba_of_features, self.train, self.test,
                                       resolution=self.resolution,
                                       title=f"{self.train.name} | Epoch {epoch}")
        curves = plots.plot_curves(history)
        return _stacked_png([_pixels(boundary, self.dpi), _pixels(curves, self.dpi)])


def _pixels(fig, dpi: int) -> np.ndarray:
    """(h, w, 4) RGBA of ``fig`` drawn on an Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    fig.set_dpi(dpi)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


def _stacked_png(images: list[np.ndarray]) -> bytes:
    """Images one above the other on white, as PNG bytes."""
    from PIL import Image
    width = max(im.shape[1] for im in images)
    rows = []
    for im in images:
        pad = np.full((im.shape[0], width - im.shape[1], 4), 255, dtype=np.uint8)
        rows.append(np.concatenate([im, pad], axis=1))
    buffer = io.BytesIO()
    Image.fromarray(np.concatenate(rows, axis=0)).save(buffer, format="PNG")
    return buffer.getvalue()
