"""Standard output whose reader may leave: ``torchclf train ... | head -1``.

When the reader of a pipe goes away, a write raises BrokenPipeError. The printed lines
are a report on the work, not the work: training goes on and the run is saved. So the
stream turns into a sink the first time a write fails (and the file descriptor is
pointed at /dev/null, as Python's documentation on SIGPIPE recommends, so the flush at
exit cannot fail either), and remembers the last line it swallowed (usually "saved run
to DIR") for the CLI to say on stderr.
"""

from __future__ import annotations

import os
from typing import IO


class ReaderMayLeave:
    """A text stream that swallows writes once its reader has left."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.left = False           # has the reader gone away?
        self.last_line = ""         # the last non-empty line written after it did

    def write(self, text: str) -> int:
        if not self.left:
            try:
                return self.stream.write(text)
            except BrokenPipeError:
                self._reader_left()
        lines = [line for line in text.splitlines() if line.strip()]
        if lines:
            self.last_line = lines[-1].strip()
        return len(text)

    def flush(self) -> None:
        if self.left:
            return
        try:
            self.stream.flush()
        except BrokenPipeError:
            self._reader_left()

    def _reader_left(self) -> None:
        self.left = True
        try:
            fd = self.stream.fileno()
        except (AttributeError, OSError, ValueError):
            return  # not a file (a StringIO in tests): nothing to redirect
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)

    def isatty(self) -> bool:
        return False if self.left else self.stream.isatty()

    def __getattr__(self, name):  # encoding, fileno, ... as the wrapped stream has them
        return getattr(self.stream, name)
