"""The boundary over time: the Train | Test picture at each log point, as a GIF.

``BoundarySnapshots`` is a callback that keeps a copy of the model's weights at every
log point (every ``log_every`` epochs and the last). Log points are sync points of the
training engine, so the compiled kernel has run exactly the epochs logged when the copy
is taken: a frame holds the weights a run stopped at that epoch ends with.
``boundary_gif`` draws each kept frame with ``plots.plot_boundary`` and encodes them
with Pillow, in memory; the caller decides where the bytes go (a run folder is written
whole by ``store.rundir.save_run``).
"""

from __future__ import annotations

import copy
import dataclasses
import io

import numpy as np
import torch

from torchclf.config.schema import OutputConfig
from torchclf.engine.callbacks import Callback, TrainState
from torchclf.errors import UserError
from torchclf.run import Result
from torchclf.spec import default_of, spec_of

GIF_NAME = "boundary.gif"
GIF_DPI = 48             # 528 x 240 pixels for the two panels: small enough for a slide deck
GIF_RESOLUTION = 80      # grid points per side; the bilinear shading hides the coarseness
GIF_COLORS = 64          # palette entries per frame
FRAME_MS, LAST_FRAME_MS = 150, 2000  # the final picture stays up before the loop restarts


@dataclasses.dataclass(frozen=True)
class Frame:
    """The weights after the epoch logged as ``epoch`` (the lesson's "Epoch: N")."""

    epoch: int
    state: dict


class BoundarySnapshots(Callback):
    """Copies the model's ``state_dict`` at each log point into ``frames``."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []

    def on_fit_start(self, state: TrainState) -> None:
        self.frames = []

    def on_log(self, state: TrainState, row: dict) -> None:
        weights = {k: v.detach().to("cpu", copy=True) for k, v in
                   state.model.state_dict().items()}
        self.frames.append(Frame(int(row["epoch"]) if row else state.epoch, weights))


def thin(frames: list[Frame], max_frames: int | None = None) -> list[Frame]:
    """At most ``max_frames`` frames, evenly spaced, always the first and the last."""
    most = spec_of(OutputConfig, "max_frames").check(
        "max_frames", default_of(OutputConfig, "max_frames") if max_frames is None
        else max_frames)
    if len(frames) <= most:
        return list(frames)
    keep = np.unique(np.linspace(0, len(frames) - 1, most).round().astype(int))
    return [frames[i] for i in keep]


def _accuracy(predict_proba, ds) -> float:
    return float((predict_proba(ds.X).argmax(axis=1) == ds.y).mean()) if len(ds) else np.nan


def frame_title(result: Result, frame: Frame, predict_proba) -> str:
    """``moons | Epoch 100 | train acc 86.2% | test acc 85.0%``, from the frame's weights."""
    parts = [result.config.get("name") or result.train.name, f"Epoch {frame.epoch}",
             f"train acc {100 * _accuracy(predict_proba, result.train):.1f}%"]
    if result.test is not None:
        parts.append(f"test acc {100 * _accuracy(predict_proba, result.test):.1f}%")
    return " | ".join(parts)


def boundary_gif(result: Result, frames: list[Frame], max_frames: int | None = None,
                 dpi: int = GIF_DPI, resolution: int | None = None) -> bytes:
    """A looping GIF of ``result``'s Train | Test boundary at each frame (thinned to
    ``max_frames``), titled with the epoch and both accuracies; ``result`` needs its data."""
    from PIL import Image
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text
    from torchclf.plots import plot_boundary
    if result.train is None:
        raise UserError("this run has no train data to animate: load it with with_data=True")
    if not frames:
        raise UserError("there are no log points to animate: train with log_every set "
                        "(--log-every N) so the boundary is recorded")
    model = copy.deepcopy(result.model).to("cpu")
    predictor = dataclasses.replace(result.predictor, model=model)
    images, layout = [], None
    for frame in thin(frames, max_frames):
        model.load_state_dict(frame.state)
        fig = plot_boundary(predictor.proba_of_features, result.train, result.test,
                            resolution=resolution or GIF_RESOLUTION,
                            title=frame_title(result, frame, predictor.proba_of_features))
        canvas = FigureCanvasAgg(fig)
        fig.set_dpi(dpi)
        placed = fig.axes + [t for t in fig.get_children() if isinstance(t, Text)]
        if layout is not None:  # same data box, same axes: lay out once, not per frame
            fig.set_layout_engine("none")
            for artist, position in zip(placed, layout):
                artist.set_position(position)
        canvas.draw()
        layout = [artist.get_position() for artist in placed]
        rgb = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba())
        images.append(rgb.convert("RGB").quantize(GIF_COLORS, dither=Image.Dither.NONE))
    durations = [FRAME_MS] * (len(images) - 1) + [LAST_FRAME_MS]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:],
                   duration=durations, loop=0, optimize=True)
    return buffer.getvalue()


def same_weights(a: dict, b: dict) -> bool:
    """Whether two state dicts hold bit-identical tensors."""
    return a.keys() == b.keys() and all(torch.equal(a[k].cpu(), b[k].cpu()) for k in a)
