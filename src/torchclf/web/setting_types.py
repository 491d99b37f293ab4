"""The type each playground setting takes, checked before its value: a JSON string is
never read as a number or a list of digits, a float is never cut to a whole number.

``typed(key, value, default)`` returns the value in the setting's Python type or raises
a one-line UserError naming the setting and what it takes.
"""

from __future__ import annotations

import math

from torchclf.errors import UserError

EXAMPLES = {"hidden": "[8, 8]", "epochs": "500", "points": "200", "classes": "2",
            "batch_size": "0 (full batch) or 32", "seed": "0", "data_draw": "0",
            "lr": "0.03", "noise": "0.2", "train_ratio": "0.8", "l2": "0", "l1": "0"}


def _shown(value) -> str:
    return f"{value!r:.60}"


def _whole(key: str, value) -> int:
    """A whole number: an int, or a float with no fraction (2.0); never a bool or text."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or isinstance(value, float) and not (math.isfinite(value) and value == int(value)):
        raise UserError(f"{key} must be a whole number such as {EXAMPLES.get(key, '1')}, "
                        f"got {_shown(value)}")
    return int(value)


def _number(key: str, value) -> float:
    """A number (NaN and inf pass: the schema's bounds name them in the page's words)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserError(f"{key} must be a number such as {EXAMPLES.get(key, '1')}, "
                        f"got {_shown(value)}")
    return float(value)


def _layers(value) -> tuple[int, ...]:
    """The hidden layers: a list of whole numbers of neurons, one per layer."""
    if not isinstance(value, (list, tuple)):
        raise UserError("hidden must be a list of neurons per layer such as [8, 8] "
                        f"([] for none), got {_shown(value)}")
    out = []
    for h in value:
        if isinstance(h, bool) or not isinstance(h, (int, float)) \
                or isinstance(h, float) and not (math.isfinite(h) and h == int(h)):
            raise UserError("hidden must be a list of whole numbers of neurons such as "
                            f"[8, 8], got {_shown(value)}")
        out.append(int(h))
    return tuple(out)


def typed(key: str, value, default):
    """``value`` as the type of ``default`` (the setting's), checked, not converted."""
    if key == "hidden":
        return _layers(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise UserError(f"{key} must be a name in quotes such as {default!r}, "
                            f"got {_shown(value)}")
        return value
    if isinstance(default, bool):  # none today; a bool must not pass as a number
        if not isinstance(value, bool):
            raise UserError(f"{key} must be true or false, got {_shown(value)}")
        return value
    if isinstance(default, int):
        return _whole(key, value)
    if isinstance(default, float):
        return _number(key, value)
    raise UserError(f"bad value for {key}: {_shown(value)}")
