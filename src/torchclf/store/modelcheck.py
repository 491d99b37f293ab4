"""model.json read as hostile input: every key checked before a single weight exists.

A run directory is a folder of plain files a user may edit, copy between versions or
damage. ``check_description`` reads model.json against the schema's bounds
(``MODEL_FILE_PARAMS``: hidden sizes, features, classes, activation, dropout, task) and
the file's own consistency (classes and feature names as many as the layers say, a
scaler of the right length), so a hand-edited file is refused with one line naming the
file and the key, and a 200,000,000-unit layer is refused before anything is allocated.
``expected_shapes`` then gives the weights the architecture needs without building it.
"""

from __future__ import annotations

import math
import numbers
from pathlib import Path
from typing import Any

from torchclf.config.schema import MODEL_FILE_PARAMS
from torchclf.spec import short_repr
from torchclf.errors import UserError
from torchclf.registry import unknown_name

FORMAT_VERSION = 1  # of model.json; a newer file asks for a newer torchclf
FIX = "re-save the run or fix the file"
TOP_KEYS = ("format_version", "architecture", "task", "classes", "feature_names", "scaler",
            "encoder", "versions", "estimator")
ARCH_KEYS = ("type", "spec", "task", "n_classes")
SPEC_KEYS = ("in_features", "hidden", "out_features", "activation", "dropout")
SCALER_KEYS = ("mean", "scale")
ENCODER_KEYS = ("columns", "dropped")
COLUMN_KEYS = ("name", "kind", "fill", "indicator", "categories", "other")


class _File:
    """Where a description came from, to name it and the key in every refusal."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def refuse(self, key: str, wanted: str, value: Any) -> UserError:
        return UserError(f"{self.path}: {key!r} must be {wanted}, got {short_repr(value)}: {FIX}")

    def table(self, d: dict, key: str, keys: tuple, optional: bool = False) -> dict | None:
        """``d[key]`` as a table holding only ``keys`` (``prefix.key`` names it)."""
        name = key.rpartition(".")[2]
        if name not in d or d[name] is None:
            if optional:
                return None
            raise UserError(f"{self.path}: {key!r} is missing: {FIX}")
        value = d[name]
        if not isinstance(value, dict):
            raise self.refuse(key, "a table (a JSON object)", value)
        self.known_keys(value, keys, key + ".")
        return value

    def known_keys(self, d: dict, keys: tuple, prefix: str = "") -> None:
        where = f"in {prefix[:-1]!r}" if prefix else "at the top level"
        for k in d:
            if k not in keys:
                raise UserError(f"{self.path}: {unknown_name(f'key {where}', k, keys)}; {FIX}")

    def setting(self, d: dict, key: str) -> Any:
        """``d[name]`` checked by the schema's Spec of ``name``."""
        name = key.rpartition(".")[2]
        if name not in d:
            raise UserError(f"{self.path}: {key!r} is missing: {FIX}")
        spec = MODEL_FILE_PARAMS[name]
        try:
            return spec.check(name, d[name])
        except UserError:
            wanted = spec.describe() + (f" (at most {spec.max_items} of them)"
                                        if spec.max_items else "")
            raise self.refuse(key, wanted, d[name]) from None

    def items(self, d: dict, key: str, n: int, ok, wanted: str) -> list:
        """``d[name]``: a list of ``n`` items, each passing ``ok``."""
        value = d.get(key.rpartition(".")[2])
        if not isinstance(value, list) or len(value) != n or not all(map(ok, value)):
            raise self.refuse(key, f"a list of {n} {wanted}", value)
        return value


def check_description(info: dict, path: Path) -> dict:
    """The architecture, task, classes, features and scaler of a model.json, checked.

    Returns plain values: ``in_features, hidden, n_classes, activation, dropout, task,
    classes, feature_names, scaler`` (None or ``{"mean": [...], "scale": [...]}``).
    """
    from torchclf.model import output_size
    from torchclf.task import resolve_task
    f = _File(path)
    version = info.get("format_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise UserError(f"{path} was written by a newer torchclf (format {version}; this one "
                        f"reads format {FORMAT_VERSION}): upgrade torchclf to load it")
    if version != FORMAT_VERSION:
        raise f.refuse("format_version", str(FORMAT_VERSION), version)
    f.known_keys(info, TOP_KEYS)
    arch = f.table(info, "architecture", ARCH_KEYS)
    if arch.get("type") != "MLP":
        raise f.refuse("architecture.type", "'MLP'", arch.get("type"))
    spec = f.table(arch, "architecture.spec", SPEC_KEYS)
    d = {name: f.setting(spec, f"architecture.spec.{name}")
         for name in ("in_features", "hidden", "activation", "dropout")}
    d.update(n_classes=f.setting(arch, "architecture.n_classes"),
             task=f.setting(arch, "architecture.task"))
    try:
        resolve_task(d["n_classes"], d["task"])
    except UserError as e:
        raise UserError(f"{path}: 'architecture.task' does not fit 'n_classes' ({e}): {FIX}") \
            from None
    if info.get("task") != d["task"]:
        raise f.refuse("task", f"{d['task']!r}, as 'architecture.task' says", info.get("task"))
    out = output_size(d["n_classes"], d["task"])
    if spec.get("out_features", out) != out:
        raise f.refuse("architecture.spec.out_features", f"{out} for {d['n_classes']} classes "
                       f"({d['task']})", spec.get("out_features"))
    classes = f.items(info, "classes", d["n_classes"], _label, "distinct labels (strings, "
                      "numbers or true/false)")
    if len(set(map(repr, classes))) != len(classes):
        raise f.refuse("classes", "a list of distinct labels", classes)
    names = f.items(info, "feature_names", d["in_features"], lambda v: isinstance(v, str),
                    "distinct column names (strings)")
    if len(set(names)) != len(names):
        raise f.refuse("feature_names", "a list of distinct column names", names)
    d.update(classes=tuple(classes), feature_names=tuple(names), scaler=None)
    scaler = f.table(info, "scaler", SCALER_KEYS, optional=True)
    if scaler is not None:
        n = d["in_features"]
        d["scaler"] = {"mean": f.items(scaler, "scaler.mean", n, _finite, "finite numbers"),
                       "scale": f.items(scaler, "scaler.scale", n,
                                        lambda v: _finite(v) and v > 0, "numbers > 0")}
    d["encoder"] = _check_encoder(f, info, d["feature_names"])
    for key in ("versions", "estimator"):
        _any_table(f, info, key)
    return d


def _check_encoder(f: _File, info: dict, feature_names: tuple) -> dict | None:
    """``encoder`` (a table's column plan, ``data.encoding``): each column's kind, fill
    and categories well formed, and their outputs exactly ``feature_names``."""
    from torchclf.data.encoding import CATEGORY, NUMBER, TableEncoder
    enc = f.table(info, "encoder", ENCODER_KEYS, optional=True)
    if enc is None:
        return None
    columns = enc.get("columns")
    if not isinstance(columns, list) or not columns:
        raise f.refuse("encoder.columns", "a non-empty list of column tables", columns)
    for i, c in enumerate(columns):
        key = f"encoder.columns[{i}]"
        if not isinstance(c, dict):
            raise f.refuse(key, "a table (a JSON object)", c)
        f.known_keys(c, COLUMN_KEYS, key + ".")
        if not isinstance(c.get("name"), str) or c.get("kind") not in (NUMBER, CATEGORY):
            raise f.refuse(key, f"a 'name' and a 'kind' of {NUMBER!r} or {CATEGORY!r}", c)
        if not isinstance(c.get("indicator"), bool) or not isinstance(c.get("other", False),
                                                                      bool):
            raise f.refuse(key + ".indicator", "true or false", c.get("indicator"))
        cats = c.get("categories", [])
        if c["kind"] == NUMBER and not _finite(c.get("fill")) or c["kind"] == CATEGORY and (
                not isinstance(c.get("fill"), str) or not isinstance(cats, list)
                or not all(isinstance(v, str) for v in cats) or len(set(cats)) != len(cats)):
            raise f.refuse(key, "a number column with a finite 'fill', or a category column "
                           "with a text 'fill' and distinct text 'categories'", c)
    dropped = enc.get("dropped", {})
    if not isinstance(dropped, dict) or not all(isinstance(v, str) for v in dropped.values()):
        raise f.refuse("encoder.dropped", "a table of column names and reasons", dropped)
    encoder = TableEncoder.from_dict(enc)
    if len(set(encoder.inputs)) != len(encoder.inputs) or \
            encoder.feature_names != tuple(feature_names):
        raise f.refuse("encoder.columns", "distinct columns whose outputs are "
                       "'feature_names'", [c.get("name") for c in columns])
    return enc


def expected_shapes(d: dict) -> dict[str, tuple[int, ...]]:
    """The weight shapes the checked description needs, without allocating them."""
    import torch
    from torchclf.model import MLP
    with torch.device("meta"):
        model = MLP(d["in_features"], d["hidden"], d["n_classes"], d["activation"],
                    d["dropout"], d["task"])
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def check_finite(state: dict, path: Path) -> None:
    """Every weight finite: a NaN or inf weight makes every prediction meaningless (class 0
    with empty probabilities), so such a file is refused rather than answered from."""
    import torch
    for name, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            kinds = [k for k, bad in (("NaN", torch.isnan(tensor).any()),
                                      ("inf", torch.isinf(tensor).any())) if bool(bad)]
            raise UserError(f"weights in {path} hold {' and '.join(kinds)} (in {name!r}): the "
                            "model is broken (training diverged or the file was damaged); "
                            "retrain the run")


def _any_table(f: _File, info: dict, key: str) -> None:
    """``versions`` and ``estimator`` hold free-form values, but as a table."""
    if info.get(key) is not None and not isinstance(info[key], dict):
        raise f.refuse(key, "a table (a JSON object)", info[key])


def _label(v: Any) -> bool:
    return isinstance(v, (str, bool)) or isinstance(v, numbers.Real) and _finite(v)


def _finite(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
