"""Command-line flags generated from the config schema: one help text, default and choice list.

A flag's help shows the setting's help, its choices (read from the registries only when
help is printed, so ``torchclf --help`` does not import torch) and its default. Flags
default to None so that an unset flag leaves the config's value alone; the config then
checks every value, so bounds live in the schema and nowhere here.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, Iterable

from torchclf.config.schema import DataConfig, ModelConfig, OutputConfig, TrainConfig
from torchclf.data.synthetic import GENERATOR_PARAMS
from torchclf.spec import Spec, default_of, spec_of

MODEL_FLAGS = ("hidden", "activation", "dropout", "task")
TRAIN_FLAGS = ("optimizer", "lr", "momentum", "weight_decay", "l1", "lr_schedule",
               "lr_step_size", "lr_gamma", "lr_patience", "class_weight", "epochs",
               "batch_size", "seed", "log_every", "log_format", "early_stopping", "device",
               "engine")


class LazyHelp(str):
    """Help text finished when printed: choices come from registries that import torch."""

    def __new__(cls, spec, default: Any) -> "LazyHelp":
        obj = super().__new__(cls, spec.help or "-")
        obj.spec, obj.default = spec, default
        return obj

    def render(self) -> str:
        spec = self.spec
        parts = [f"one of {', '.join(spec.names())}" if spec.choices is not None
                 else spec.requirement()]
        if self.default is not None and self.default != "":
            parts.append(f"default: {_show(self.default)}")
        allowed = "; ".join(p for p in parts if p)
        return f"{spec.help} ({allowed})".replace("%", "%%") if allowed else spec.help


class Formatter(argparse.HelpFormatter):
    def _get_help_string(self, action: argparse.Action) -> str | None:
        help = action.help
        return help.render() if isinstance(help, LazyHelp) else help


def whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def path(text: str) -> str:
    """A file or folder name: an empty one (an unset shell variable) is a mistake, not
    "the current folder" or "the default"."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a path, got an empty string")
    return text


PARSE = {int: whole_number, float: number, str: str, tuple: str}


def add_setting(group, cls: type, name: str, default: Any = dataclasses.MISSING,
                applied: bool = False, **options: Any) -> None:
    """``--name`` for field ``name`` of the config dataclass ``cls``.

    ``default`` is what help shows (the schema's unless a profile says otherwise). The
    flag defaults to None ("not given", the config keeps its value) unless ``applied``.
    """
    if default is dataclasses.MISSING:
        default = default_of(cls, name)
    add_spec(group, "--" + name.replace("_", "-"), spec_of(cls, name), default,
             default if applied else None, **options)


def add_spec(group, flag: str, spec: Spec, shown: Any = None, default: Any = None,
             **options: Any) -> None:
    group.add_argument(flag, type=PARSE[spec.kind], help=LazyHelp(spec, shown),
                       default=default, **options)


def add_settings(group, cls: type, names: Iterable[str], **options: Any) -> None:
    for name in names:
        add_setting(group, cls, name, **options)


def given(args: argparse.Namespace, names: Iterable[str]) -> dict:
    """The flags among ``names`` the user gave (not None)."""
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def weight_table(text: str) -> dict:
    """``--class-weight a=2,b=0.5`` as {label: weight}; the schema checks the weights."""
    from torchclf.errors import UserError
    table = {}
    for item in text.split(","):
        label, _, weight = item.partition("=")
        try:
            table[label.strip()] = float(weight)
        except ValueError:
            raise UserError(f"--class-weight {text!r}: expected LABEL=WEIGHT pairs "
                            "separated by commas, e.g. a=2,b=0.5, or 'balanced'") from None
    return table


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "none"
    if isinstance(value, list):
        return " ".join(_show(v) for v in value)
    return str(value)


def key_value(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    return key.strip().replace("-", "_"), value.strip()


# -- the option groups shared by train, recipes, sweep and tune -----------------------------

def add_data_command(sub, name: str, help: str) -> argparse.ArgumentParser:
    """A command that trains on one dataset: its parser, the source and the data flags."""
    p = sub.add_parser(name, help=help)
    p.add_argument("source", type=path, help="built-in dataset name or path to a table file")
    add_data_options(p)
    return p


def add_data_options(p: argparse.ArgumentParser) -> None:
    """Flags choosing and splitting the data."""
    d = p.add_argument_group("data")
    add_setting(d, DataConfig, "target")
    add_spec(d, "--n-samples", GENERATOR_PARAMS["n_samples"])
    add_spec(d, "--noise", GENERATOR_PARAMS["noise"])
    d.add_argument("--param", type=key_value, action="append", default=[], metavar="K=V",
                   help="another generator parameter, e.g. n_classes=5 (repeatable)")
    add_settings(d, DataConfig, ("test_size", "split_seed", "split"))
    d.add_argument("--no-standardize", action="store_true", help="train on raw features")


def add_model_options(p: argparse.ArgumentParser) -> None:
    m = p.add_argument_group("model")
    add_settings(m, ModelConfig, MODEL_FLAGS)


def add_train_options(p: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    o = p.add_argument_group("training")
    metavars = {"early_stopping": "PATIENCE", "class_weight": "balanced|LABEL=W,..."}
    for name in TRAIN_FLAGS:
        add_setting(o, TrainConfig, name, **({"metavar": metavars[name]}
                                             if name in metavars else {}))
    return o


def add_output_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("output")
    g.add_argument("--out", type=path,
                   help="run directory (default: runs/NAME, never overwriting)")
    add_setting(g, OutputConfig, "runs_dir", applied=True)
    g.add_argument("--no-plots", action="store_true", help="skip writing the PNG plots")
    g.add_argument("--animate", action="store_true",
                   help="also write boundary.gif: the Train | Test boundary at each log point")
    add_setting(g, OutputConfig, "max_frames", metavar="N")
    g.add_argument("--quiet", "-q", action="store_true", help="no per-epoch lines")
    add_progress_options(g)


def add_progress_options(g) -> None:
    bar = g.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None,
                     help="always show the progress bar on stderr")
    bar.add_argument("--no-progress", dest="progress", action="store_false",
                     help="never show the progress bar (default: only on a terminal)")


def output_config(args: argparse.Namespace) -> OutputConfig:
    """The output flags given, checked by the schema."""
    names = [f.name for f in dataclasses.fields(OutputConfig)]
    return OutputConfig(**given(args, names))


def apply_data_options(config, args: argparse.Namespace):
    """The config with the flags of ``add_data_options`` applied."""
    data = given(args, ("target", "test_size", "split_seed", "split"))
    params = dict(config.data.params)
    params.update(given(args, ("n_samples", "noise")))
    params.update(dict(args.param))
    if params != config.data.params:
        data["params"] = params
    if args.no_standardize:
        data["standardize"] = False
    return config.replace("data", **data) if data else config


def apply_run_options(config, args: argparse.Namespace):
    """The config with the model and training flags applied (hidden as '8,8' or 'none')."""
    from torchclf.model import parse_hidden
    model = given(args, MODEL_FLAGS)
    if "hidden" in model:
        model["hidden"] = parse_hidden(model["hidden"])
    train = given(args, TRAIN_FLAGS)
    if "=" in train.get("class_weight", ""):
        train["class_weight"] = weight_table(train["class_weight"])
    for section, changes in (("model", model), ("train", train)):
        if changes:
            config = config.replace(section, **changes)
    return config
