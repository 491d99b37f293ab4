"""Callbacks the tests share (pytest puts this folder on sys.path)."""

from torchclf.engine.callbacks import Callback


class InterruptAt(Callback):
    """Interrupt training after ``epoch``, as a signal would: checkpoint, then raise."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, state, row):
        if state.epoch == self.epoch:
            state.stop = state.interrupted = True
