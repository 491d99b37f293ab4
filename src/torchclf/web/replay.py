"""The scrubber: the boundary over the training so far, replayed and exported as a GIF.

Each session keeps a copy of the model's weights after each training step (the same
``animation.Frame`` ``torchclf train --animate`` keeps at its log points), at most
``MAX_FRAMES`` of them: when the list is full, every other frame is dropped and from
then on only every other step is kept, so the frames stay evenly spread over the whole
training, from the first step to the latest. Memory stays under ``MAX_BYTES`` a
session: a network too big for 200 copies (the largest, 6 x 64 neurons, has about
25 000 weights) keeps fewer frames, as evenly spread. A frame's boundary is
drawn again from its weights on request; the GIF is ``animation.boundary_gif`` of them.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import numpy as np

from torchclf.animation import Frame, boundary_gif, thin
from torchclf.errors import UserError
from torchclf.run import Predictor, Result

MAX_FRAMES = 200
MAX_BYTES = 4_000_000  # weights kept per session: the default network's 200 take 0.2 MB
# frames in the page's GIF download (``?frames=N`` asks for up to the schema's
# max_frames): each is a matplotlib figure, about 0.25 s on one core
GIF_FRAMES = 30


class Replay:
    """Weights after each kept step, evenly thinned to at most ``MAX_FRAMES``."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []
        self.stride, self.steps, self.last = 1, 0, -1  # last: the newest epoch offered

    def __len__(self) -> int:
        return len(self.frames)

    def add(self, epoch: int, model) -> None:
        """The weights ``model`` has after training to ``epoch`` (kept every ``stride``
        steps; the newest is always the live model, which the page shows anyway)."""
        if epoch <= self.last:
            return  # nothing trained since (at the cap)
        self.steps, self.last = self.steps + 1, epoch
        if (self.steps - 1) % self.stride:
            return
        state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        self.frames.append(Frame(epoch, state))
        size = sum(v.numel() * v.element_size() for v in state.values())
        if len(self.frames) > max(2, min(MAX_FRAMES, MAX_BYTES // max(size, 1))):
            self.frames = self.frames[::2]
            self.stride *= 2

    def frame(self, index: int) -> Frame:
        if not 0 <= index < len(self.frames):
            raise UserError(f"frame must be 0 to {len(self.frames) - 1} (this session has "
                            f"{len(self.frames)} frames so far), got {index}")
        return self.frames[index]


@dataclasses.dataclass
class _OnPlane(Predictor):
    """A session's predictor on the data plane: its input features built first."""

    inputs: Any = None

    def proba_of_features(self, X: np.ndarray) -> np.ndarray:
        return Predictor.proba_of_features(self, self.inputs(X))


def predictor_at(session, frame: Frame) -> _OnPlane:
    """The session's model (a copy) with the weights of ``frame``, on the data plane."""
    model = copy.deepcopy(session.model)
    model.load_state_dict(frame.state)
    fields = {f.name: getattr(session.predictor, f.name)
              for f in dataclasses.fields(Predictor)}
    return _OnPlane(**{**fields, "model": model}, inputs=session.inputs)


def gif(session, max_frames: int) -> bytes:
    """The kept frames (thinned evenly to ``max_frames``) as a looping GIF. The session
    is locked only while its frames and a copy of its model are taken: training goes on
    while the pictures are drawn."""
    with session.lock:
        frames = thin(session.replay.frames, max_frames)
        if not frames:
            raise UserError("nothing to replay yet: press Play or Step first")
        result = Result(predictor_at(session, frames[-1]), {}, {},
                        {"name": session.settings.dataset}, session.train,
                        session.test if len(session.test) else None)
    return boundary_gif(result, frames, max_frames)
