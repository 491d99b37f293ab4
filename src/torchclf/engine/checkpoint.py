"""Checkpoints that resume bit-identically: weights, optimizer, random states, history.

A checkpoint is one file written atomically, holding only tensors and plain values, and
read back with ``torch.load(weights_only=True)``, which refuses to execute code.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from torchclf.errors import UserError
from torchclf.atomic import atomic_write_bytes
from torchclf.optimizers import without_dynamo_import

FORMAT = "torchclf-checkpoint-1"


@dataclass
class Checkpoint:
    """Everything the loop needs to carry on exactly where it stopped."""

    epoch: int                  # epochs completed
    model_state: dict
    optimizer_state: dict
    shuffle_rng: torch.Tensor   # torch.Generator state for mini-batch order
    torch_rng: torch.Tensor     # global CPU RNG (dropout)
    history: dict
    config: dict                # the run's config, so `--resume` needs nothing else
    extra: dict                 # front-end data, e.g. where the run will be saved
    schedule_state: dict | None = None  # the lr schedule's state, if the run has one
    callback_states: dict | None = None  # {state_key: state} of callbacks with a memory

    @classmethod
    def writer(cls, path: str | Path, model: torch.nn.Module, opt: torch.optim.Optimizer,
               generator: torch.Generator, history: dict, config: dict, extra: dict,
               schedule=None, callbacks=()):
        """``write(done)``: save the live training state after ``done`` epochs to ``path``
        (with the state of each of ``callbacks`` that has a ``state_key``)."""
        def write(done: int) -> Path:
            with without_dynamo_import():
                opt_state = opt.state_dict()
            return cls(done, model.state_dict(), opt_state, generator.get_state(),
                       torch.get_rng_state(), history, config, extra,
                       schedule.state_dict() if schedule is not None else None,
                       {key: cb.state_dict() for key, cb in _stateful(callbacks).items()}
                       ).save(path)
        return write

    def restore(self, model: torch.nn.Module, opt: torch.optim.Optimizer,
                generator: torch.Generator, history: dict, epochs: int,
                schedule=None, callbacks=()) -> int:
        """Load this state into the live objects (and ``schedule``, an ``LRSchedule``,
        and ``callbacks`` with a ``state_key``); returns the epochs already done."""
        if self.epoch >= epochs:
            raise UserError(f"the checkpoint is at epoch {self.epoch}, past the {epochs} "
                            "epochs of this run: nothing left to train")
        saved, live = self.callback_states or {}, _stateful(callbacks)
        if saved.keys() != live.keys():
            key = sorted(saved.keys() ^ live.keys())[0]
            raise UserError(f"the checkpoint was trained {'with' if key in saved else 'without'}"
                            f" {key.replace('_', ' ')}: resume it with the settings it was "
                            "trained with")
        if (schedule is None) != (self.schedule_state is None):
            raise UserError("the checkpoint was trained " + ("with" if schedule is None else
                            "without") + " an lr schedule: resume it with the lr_schedule "
                            "it was trained with")
        if schedule is not None:
            schedule.load_state_dict(self.schedule_state)
        try:
            model.load_state_dict(self.model_state)
            with without_dynamo_import():
                opt.load_state_dict(self.optimizer_state)
        except (RuntimeError, ValueError, KeyError) as e:
            raise UserError(f"the checkpoint does not match this model or optimizer ({e})") \
                from None
        generator.set_state(self.shuffle_rng)
        torch.set_rng_state(self.torch_rng)
        for key, cb in live.items():
            cb.load_state_dict(saved[key])
        for key in history:
            history[key].extend(self.history.get(key, []))
        return self.epoch

    def save(self, path: str | Path) -> Path:
        blob = {
            "format": FORMAT,
            "epoch": self.epoch,
            "model_state": {k: v.detach().cpu() for k, v in self.model_state.items()},
            "optimizer_state": _to_cpu(self.optimizer_state),
            "shuffle_rng": self.shuffle_rng,
            "torch_rng": self.torch_rng,
            **({"schedule_state": self.schedule_state} if self.schedule_state is not None else {}),
            **({"callback_states": self.callback_states} if self.callback_states else {}),
            "meta": json.dumps({"history": self.history, "config": self.config,
                                "extra": self.extra}),
        }
        buffer = io.BytesIO()
        torch.save(blob, buffer)
        try:
            return atomic_write_bytes(path, buffer.getvalue())
        except OSError as e:
            raise UserError(f"cannot write the checkpoint {path} ({e.strerror or e}): free "
                            "some space or choose another --out") from None

    @classmethod
    def load(cls, path: str | Path) -> "Checkpoint":
        path = Path(path)
        if not path.is_file():
            raise UserError(f"checkpoint not found: {path}")
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
            if blob.get("format") != FORMAT:
                raise ValueError("not a torchclf checkpoint")
            meta = json.loads(blob["meta"])
            return cls(int(blob["epoch"]), blob["model_state"], blob["optimizer_state"],
                       blob["shuffle_rng"], blob["torch_rng"], meta["history"],
                       meta["config"], meta.get("extra", {}), blob.get("schedule_state"),
                       blob.get("callback_states"))
        except UserError:
            raise
        except Exception as e:  # truncated, tampered or foreign file
            raise UserError(f"cannot read checkpoint {path} ({type(e).__name__}): "
                            "it is corrupt or not a torchclf checkpoint") from None


def _stateful(callbacks) -> dict:
    """{state_key: callback} of the callbacks that keep a memory of past epochs."""
    return {cb.state_key: cb for cb in callbacks if getattr(cb, "state_key", None) is not None}


def check_checkpoint_destination(path: str | Path) -> Path:
    """``path`` if a checkpoint may be written there: new, or a checkpoint of ours."""
    path = Path(path)
    if path.is_symlink() or path.is_dir():
        raise UserError(f"{path} is in the way of the run's checkpoint file: "
                        "move it away or choose another --out")
    if path.exists():
        try:
            Checkpoint.load(path)
        except UserError:
            raise UserError(f"{path} exists and is not a torchclf checkpoint, so it would "
                            "be overwritten: move it away or choose another --out") from None
    return path


def _to_cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_cpu(v) for v in obj]
    return obj
