"""Reading a folder that another process may be re-saving: all of one save, never a mix.

Every save of a run or sweep folder writes a new random version into its marker and
swaps the whole folder in at once (``owned.write_folder``). A reader notes the version,
reads, and notes it again: the same version before and after means every file came from
that one save (a version never comes back); otherwise it reads again. A read that fails
while the folder changed (a file of the old save already removed) is read again too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, TypeVar

from torchclf.errors import UserError
from torchclf.store.owned import MARKER

T = TypeVar("T")
ATTEMPTS = 100


def version(folder: Path) -> str | None:
    """The save ``folder`` holds now (None: no marker with a version, or no folder)."""
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return data.get("version") if isinstance(data, dict) else None


def read_consistent(folder: str | Path, read: Callable[[], T]) -> T:
    """``read()``, done again until ``folder`` did not change while it ran."""
    folder = Path(folder)
    for _ in range(ATTEMPTS):
        before = version(folder)
        try:
            value = read()
        except (UserError, OSError):
            if version(folder) != before:
                continue
            raise
        if version(folder) == before:
            return value
    raise UserError(f"{folder} was saved again {ATTEMPTS} times while it was being read: "
                    "read it once the process writing it has stopped")
