"""What one setting allows: its type, bounds, choices and help, checked in one place.

Every front end (flags, TOML, the playground, the estimator, sweep grids, tune spaces)
ends in ``Spec.check``, so a value is refused with the same words wherever it came
from, before any data is loaded or any weights are allocated. It sits below every layer
so that the code owning a setting (a generator, the split, the model, an optimizer) can
check it with the same Spec the config schema attaches to its field.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from torchclf.errors import UserError

KINDS = {int: "an integer", float: "a finite number", str: "a string", bool: "true or false",
         tuple: "a list of integers", dict: "a table"}


class SettingError(UserError):
    """A value outside its setting's type or bounds; knows which setting, to be renamed.

    Front ends that call the setting something else (``alpha`` in the estimator, ``l2``
    in the playground) re-raise it with ``renamed``.
    """

    def __init__(self, name: str, value: Any, requirement: str, kind: str = "") -> None:
        self.name, self.value, self.requirement, self.kind = name, value, requirement, kind
        super().__init__(self.render(name))

    def render(self, name: str) -> str:
        got = short_repr(self.value)
        if self.kind:
            return f"expected {name} to be {self.kind}{_space(self.requirement)}, got {got}"
        return f"expected {name} {self.requirement}, got {got}"

    def renamed(self, name: str) -> UserError:
        return UserError(self.render(name))


@dataclass(frozen=True)
class Spec:
    """Type, bounds (``lo``/``hi``, open or closed), choices and help of one setting.

    For a tuple setting the bounds apply to each item and ``max_items`` to its length.
    ``choices`` is a tuple, or a function so registries (which import torch) load only
    when checked.
    """

    kind: type
    help: str = ""
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: Callable[[], Iterable[str]] | tuple[str, ...] | None = None
    optional: bool = False
    max_items: int | None = None
    hi_text: str | None = None  # how to show ``hi`` when the number itself is unreadable
    nonblank: bool = False  # a string that must hold more than spaces (a path, a name)
    match: Callable[[str], str] = str  # the part of a value that must be a choice
    table: "Spec | None" = None  # a dict is also allowed: name -> value, each checked by it

    def requirement(self) -> str:
        parts = ["not empty"] if self.nonblank else []
        if self.lo is not None:
            parts.append(f"{'>' if self.lo_open else '>='} {_num(self.lo)}")
        if self.hi is not None:
            parts.append(f"{'<' if self.hi_open else '<='} {self.hi_text or _num(self.hi)}")
        return " and ".join(parts)

    def describe(self) -> str:
        """The allowed values in words, for help text and error messages."""
        if self.choices is not None:
            table = f" or a table whose values are each {self.table.describe()}" \
                if self.table else ""
            return "one of " + ", ".join(self.names()) + table
        return f"{KINDS[self.kind]}{_space(self.requirement())}" + \
            (" (or unset)" if self.optional else "")

    def names(self) -> list[str]:
        if self.choices is None:
            return []
        return [str(c) for c in (self.choices() if callable(self.choices) else self.choices)]

    def check(self, name: str, value: Any) -> Any:
        """The value in its canonical type, or a SettingError naming ``name``."""
        if value is None and self.optional:
            return None
        if self.table is not None and isinstance(value, dict):  # keys as TOML has them
            return {str(k): self.table.check(f"{name}[{str(k)!r}]", v) for k, v in value.items()}
        value = self._typed(name, value)
        if self.nonblank and not value.strip():
            raise SettingError(name, value, self.requirement())
        if self.choices is not None:
            names = self.names()
            if self.match(value) not in names:
                from torchclf.registry import unknown_name
                raise unknown_name(name.replace("_", " "), value, names)
        items = value if self.kind is tuple else (value,) if self.kind in (int, float) else ()
        if self.max_items is not None and len(items) > self.max_items:
            raise SettingError(name, value, f"with at most {self.max_items} items")
        for item in items:
            if not self._within(item):
                raise SettingError(name, value, self.requirement()
                                   + (" for each item" if self.kind is tuple else ""))
        return value

    def _typed(self, name: str, value: Any) -> Any:
        kind = self.kind
        ok = {bool: lambda v: isinstance(v, bool),
              int: _is_int,
              float: lambda v: isinstance(v, numbers.Real) and not isinstance(v, bool)
              and math.isfinite(v),
              str: lambda v: isinstance(v, str),
              tuple: lambda v: isinstance(v, (list, tuple)) and all(map(_is_int, v)),
              dict: lambda v: isinstance(v, dict)}[kind](value)
        if not ok:
            raise SettingError(name, value, self.requirement(), KINDS[kind])
        if kind is tuple:
            return tuple(int(v) for v in value)
        return dict(value) if kind is dict else kind(value)

    def _within(self, v: float) -> bool:
        if self.lo is not None and (v <= self.lo if self.lo_open else v < self.lo):
            return False
        return self.hi is None or (v < self.hi if self.hi_open else v <= self.hi)


SEED_MAX = 2**63 - 1          # what torch.manual_seed and NumPy accept
DEFAULT_SEED = 42             # the lesson's seed: generators, splits and weights
SEED = Spec(int, "seed", lo=0, hi=SEED_MAX, hi_text="2**63-1")
# scikit-learn's random_state and np.random.seed: NumPy's legacy RandomState takes 32 bits
RANDOM_STATE = Spec(int, "seed", lo=0, hi=2**32 - 1, hi_text="2**32-1")


def setting(default: Any, help: str = "", kind: type | None = None, **bounds: Any) -> Any:
    """A dataclass field carrying its default and its ``Spec``."""
    return field_of(Spec(kind or type(default), help, **bounds), default)


def field_of(spec: Spec, default: Any, help: str | None = None) -> Any:
    """A dataclass field for a ``Spec`` defined by the code that owns the setting."""
    if help is not None:
        spec = dataclasses.replace(spec, help=help)
    if isinstance(default, dict):
        return dataclasses.field(default_factory=dict, metadata={"spec": spec})
    return dataclasses.field(default=default, metadata={"spec": spec})


def default_of(cls: type, name: str) -> Any:
    """The default of field ``name`` of a config dataclass (None when unset)."""
    f = {f.name: f for f in dataclasses.fields(cls)}[name]
    return f.default if f.default is not dataclasses.MISSING else None


def check_each(cls: type, name: str, values: Iterable[Any]) -> tuple:
    """Several candidate values of one field (a sweep grid, a search space), checked."""
    spec = spec_of(cls, name)
    return tuple(spec.check(name, v) for v in values)


def spec_of(cls: type, name: str) -> Spec:
    """The Spec of field ``name`` of a config dataclass."""
    return {f.name: f for f in dataclasses.fields(cls)}[name].metadata["spec"]


def validate(obj: Any) -> None:
    """Check and canonicalise every field of a frozen config dataclass, in place."""
    for f in dataclasses.fields(obj):
        spec = f.metadata.get("spec")
        if spec is not None:
            object.__setattr__(obj, f.name, spec.check(f.name, getattr(obj, f.name)))


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _num(x: float) -> str:
    return f"{x:,}" if isinstance(x, int) else f"{x:g}"


def _space(text: str) -> str:
    return f" {text}" if text else ""


def short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value) if not isinstance(value, float) else f"{value:g}"
    return text if len(text) <= limit else text[:limit] + "..."
