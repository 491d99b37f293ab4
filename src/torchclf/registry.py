"""Helpers shared by the name → thing registries (datasets, activations, optimizers)."""

from __future__ import annotations

import difflib
from typing import Iterable

from torchclf.errors import UserError


def unknown_name(kind: str, name: object, choices: Iterable[str]) -> UserError:
    """A UserError for a name not in ``choices``, suggesting the closest valid one."""
    choices = sorted(str(c) for c in choices)
    close = difflib.get_close_matches(str(name), choices, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return UserError(f"unknown {kind} {name!r}: {hint}choose from {', '.join(choices)}")
