"""The one exception type for mistakes a user can fix.

Front ends catch ``UserError`` and show its message as one line (the CLI exits 2);
anything else is a bug and keeps its traceback.
"""


class UserError(ValueError):
    """Bad input or option: the message names the problem and the fix."""


class Interrupted(KeyboardInterrupt):
    """A signal (SIGINT, SIGTERM) stopped the work at a safe point; front ends exit
    128 + ``signum``."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
