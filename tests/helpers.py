"""What the tests share (pytest puts this folder on sys.path)."""

import pytest

from torchclf.engine import fast
from torchclf.engine.callbacks import Callback

# The largest learning rate the schema allows, on a network deep enough to leave
# float32's range with it: every front end must stop the same way.
DIVERGING_LR, DEEP = 1000, (64, 64, 64)


# Where no C compiler can build the kernel (scripts/test_without_compiler.sh runs the
# engine tests so), what needs it is skipped with this reason, never left out silently.
KERNEL = fast.load_kernel() is not None
kernel_only = pytest.mark.skipif(not KERNEL, reason="no C compiler: the compiled kernel "
                                                    "is unavailable")


def engines(*names: str) -> list:
    """Parameters for these engines: the ones that run the compiled kernel (fit's
    "fast", a sweep's "kernel") are skipped, and the skip recorded, where it is missing."""
    return [pytest.param(n, marks=kernel_only) if n in ("fast", "kernel") else n
            for n in names]


class InterruptAt(Callback):
    """Interrupt training after ``epoch``, as a signal would: checkpoint, then raise."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, state, row):
        if state.epoch == self.epoch:
            state.stop = state.interrupted = True
