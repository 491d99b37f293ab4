"""The MLP from a small spec; its activations come from ``torchclf.activations``.

A model is described by an ``MLPSpec`` (sizes, activation, dropout) so it can be saved as
JSON next to its weights and rebuilt without pickle.
"""

from __future__ import annotations

import numbers
from dataclasses import asdict, dataclass

import torch
from torch import nn

from torchclf.activations import ACTIVATIONS, ManualTanh, manual_tanh  # noqa: F401 (re-exported)
from torchclf.errors import UserError
from torchclf.hyper import DEFAULT_ACTIVATION, DROPOUT, NO_DROPOUT
from torchclf.registry import unknown_name


def output_size(n_classes: int, task: str) -> int:
    """One logit for a binary task, one per class otherwise."""
    return 1 if task == "binary" else n_classes


@dataclass(frozen=True)
class MLPSpec:
    """Everything needed to rebuild the architecture: ``in -> hidden... -> out``."""

    in_features: int
    hidden: tuple[int, ...]
    out_features: int
    activation: str = DEFAULT_ACTIVATION
    dropout: float = NO_DROPOUT

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        if self.in_features < 1:
            raise UserError(f"expected at least 1 input feature, got {self.in_features}")
        if any(h < 1 for h in self.hidden):
            raise UserError(f"expected hidden sizes >= 1, got {list(self.hidden)}")
        if self.activation not in ACTIVATIONS:
            raise unknown_name("activation", self.activation, ACTIVATIONS)
        object.__setattr__(self, "dropout", DROPOUT.check("dropout", self.dropout))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d


class MLP(nn.Module):
    """A stack of Linear layers with an activation (and optional dropout) between them.

    ``hidden=()`` gives a single Linear layer (logistic regression); ``activation=
    "identity"`` gives the lesson's CircleModelV0, a linear-only model however deep.

    Parameters
    ----------
    in_features : number of input columns
    hidden : sizes of the hidden layers, e.g. ``(8, 8)``; an int is one layer (``8`` is
        ``(8,)``)
    n_classes : number of classes; binary problems get one logit unless ``task`` says
        ``"multiclass"``
    activation : a name from ``torchclf.activations.ACTIVATIONS``
    dropout : probability applied after each hidden activation
    task : ``"binary"``, ``"multiclass"`` or None to infer from ``n_classes``
    seed : if given, the initial weights depend on it alone (global RNG untouched)
    """

    def __init__(self, in_features: int, hidden: tuple[int, ...] = (8, 8), n_classes: int = 2,
                 activation: str = DEFAULT_ACTIVATION, dropout: float = NO_DROPOUT,
                 task: str | None = None, seed: int | None = None) -> None:
        super().__init__()
        from torchclf.task import resolve_task

        self.task = resolve_task(n_classes, task)
        self.n_classes = int(n_classes)
        if isinstance(hidden, numbers.Integral):  # hidden=8: one layer of 8
            hidden = (int(hidden),)
        self.spec = MLPSpec(int(in_features), tuple(hidden),
                            output_size(n_classes, self.task), activation, float(dropout))
        if seed is None:
            self.layers = self._build(self.spec)
        else:
            # the CPU generator alone, where the weights are drawn: torch.manual_seed
            # would also seed (and not restore) every accelerator's generator, at the
            # cost of a recorded stack trace per call (half of building a small MLP)
            with torch.random.fork_rng(devices=[]):
                torch.default_generator.manual_seed(seed)
                self.layers = self._build(self.spec)

    @staticmethod
    def _build(spec: MLPSpec) -> nn.Sequential:
        sizes = [spec.in_features, *spec.hidden]
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), ACTIVATIONS[spec.activation].module()]
            if spec.dropout:  # nn.Dropout(0) would be a no-op layer in the saved model
                layers.append(nn.Dropout(spec.dropout))
        layers.append(nn.Linear(sizes[-1], spec.out_features))
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(n, in_features) -> logits (n, out_features)."""
        if not isinstance(x, torch.Tensor):
            raise UserError(f"the model takes a torch tensor, got {type(x).__name__}: "
                            "convert it with torch.as_tensor(X, dtype=torch.float32), or "
                            "use run.predict(X) for arrays")
        return self.layers(x)

    def describe(self) -> dict:
        """The architecture as JSON-ready data, for ``model.json``."""
        return {"type": "MLP", "spec": self.spec.to_dict(), "task": self.task,
                "n_classes": self.n_classes}

    @classmethod
    def from_description(cls, d: dict) -> "MLP":
        spec = d["spec"]
        return cls(spec["in_features"], tuple(spec["hidden"]), d["n_classes"],
                   spec["activation"], spec["dropout"], d["task"])


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars, e.g. 2-5-1 gives 21."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def parse_hidden(text: str | list | tuple) -> tuple[int, ...]:
    """``"8,8"`` -> ``(8, 8)``; ``""`` or ``"none"`` -> ``()`` (linear only)."""
    if isinstance(text, (list, tuple)):
        items = list(text)
    else:
        text = str(text).strip()
        items = [] if text.lower() in ("", "none", "linear", "()") else text.split(",")
    try:
        sizes = tuple(int(str(i).strip()) for i in items)
    except ValueError:
        raise UserError(f"expected hidden sizes like '8,8' (integers), got {text!r}") from None
    if any(s < 1 for s in sizes):
        raise UserError(f"expected hidden sizes >= 1, got {text!r}")
    return sizes
