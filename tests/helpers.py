"""What the tests share (pytest puts this folder on sys.path)."""

from torchclf.engine.callbacks import Callback

# The largest learning rate the schema allows, on a network deep enough to leave
# float32's range with it: every front end must stop the same way.
DIVERGING_LR, DEEP = 1000, (64, 64, 64)


class InterruptAt(Callback):
    """Interrupt training after ``epoch``, as a signal would: checkpoint, then raise."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, state, row):
        if state.epoch == self.epoch:
            state.stop = state.interrupted = True
