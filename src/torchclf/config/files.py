"""Configs as plain data and TOML files: unknown keys and bad values name their place."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from torchclf.config.schema import SECTIONS, RunConfig
from torchclf.spec import SettingError
from torchclf.errors import UserError
from torchclf.registry import unknown_name

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover
    import tomli as tomllib


def from_dict(d: dict, where: str = "config") -> RunConfig:
    """Validate names, types and bounds; unknown keys get a suggestion, not silence."""
    top = {f.name: f for f in dataclasses.fields(RunConfig)}
    kwargs: dict[str, Any] = {}
    for key, value in d.items():
        if key not in top:
            raise unknown_name(f"key in {where}", key, top)
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise UserError(f"expected a [{key}] table in {where}, got {value!r}")
            kwargs[key] = _build(SECTIONS[key], value, f"{where} [{key}]")
        else:
            kwargs[key] = value
    return _build(RunConfig, kwargs, where, check_keys=False)


def load(path: str | Path) -> RunConfig:
    """Read a TOML config; a missing or malformed file is a UserError naming it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read config file {path}: {e}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{path} is not valid TOML: {e}") from None
    return from_dict(data, str(path))


def _build(cls: type, values: dict, where: str, check_keys: bool = True) -> Any:
    if check_keys:
        fields = {f.name for f in dataclasses.fields(cls)}
        for key in values:
            if key not in fields:
                raise unknown_name(f"key in {where}", key, fields)
    try:
        return cls(**values)
    except SettingError as e:
        raise UserError(f"{e} in {where}") from None
