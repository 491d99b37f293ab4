"""The one exception type for mistakes a user can fix.

Front ends catch ``UserError`` and show its message as one line (the CLI exits 2);
anything else is a bug and keeps its traceback.
"""


class UserError(ValueError):
    """Bad input or option: the message names the problem and the fix."""
