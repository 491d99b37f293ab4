"""The playground's input features: what the network sees, built from the data's two
coordinates (x1, x2). The picture stays the 2-D data plane; only the model's input grows.

Each feature is one NumPy expression of ``x1`` and ``x2``. The session evaluates that
expression and the exported script writes the very same text, so the script computes
the same float32 columns the playground trained on.
"""

from __future__ import annotations

import numpy as np

from torchclf.data.dataset import Dataset
from torchclf.errors import UserError

# id (in the URL and the API) -> (label on the page, NumPy expression of x1 and x2)
FEATURES = {
    "x1": ("x₁", "x1"),
    "x2": ("x₂", "x2"),
    "x1_sq": ("x₁²", "x1 * x1"),
    "x2_sq": ("x₂²", "x2 * x2"),
    "x1_x2": ("x₁·x₂", "x1 * x2"),
    "sin_x1": ("sin x₁", "np.sin(x1)"),
    "sin_x2": ("sin x₂", "np.sin(x2)"),
}
BASE = ("x1", "x2")  # the data as it is
_CODE = {k: compile(expr, f"<feature {k}>", "eval") for k, (_, expr) in FEATURES.items()}


def parse(value) -> tuple[str, ...]:
    """A list of feature ids from the page, checked, in the registry's order."""
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise UserError(f"features must be a list of names, got {value!r:.60}")
    for name in value:
        if name not in FEATURES:
            from torchclf.registry import unknown_name
            raise unknown_name("input feature", name, FEATURES)
    if not value:
        raise UserError(f"the network needs at least one input feature: choose from "
                        f"{', '.join(FEATURES)}")
    return tuple(k for k in FEATURES if k in value)


def columns(X: np.ndarray, names=tuple(FEATURES)) -> np.ndarray:
    """(n, 2) data coordinates -> (n, len(names)) float32 feature columns."""
    X = np.asarray(X, dtype=np.float32)
    scope = {"x1": X[:, 0], "x2": X[:, 1]}
    return np.column_stack([eval(_CODE[k], {"np": np}, scope) for k in names]  # noqa: S307
                           ).astype(np.float32, copy=False)


class InputMap:
    """The session's map from rows as the training set has them to the model's input
    rows. ``plane``: the rows are two plain numbers (x1, x2), so features can be built."""

    def __init__(self, names: tuple[str, ...], data: Dataset) -> None:
        self.names = tuple(names)
        self.identity = self.names == BASE
        self.plane = data.n_features == 2 and (data.encoder is None or data.encoder.is_identity)
        if not self.identity and not self.plane:
            raise UserError(f"input features need 2 numeric columns (x1, x2); this data has "
                            f"{data.n_features} features: keep the inputs x1, x2")
        # the model's column names: the data's own when nothing is added
        self.feature_names = tuple(data.feature_names) if self.identity else self.names

    @property
    def width(self) -> int:
        return len(self.feature_names)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=np.float32) if self.identity else columns(X, self.names)

    def script(self) -> str:
        """Lines for the exported script that give ``ds`` these columns ('' when none)."""
        if self.identity:
            return ""
        exprs = ", ".join(FEATURES[k][1] for k in self.names)
        return ("# the playground's input features, built from the two coordinates\n"
                "import numpy as np\n"
                "x1, x2 = ds.X[:, 0], ds.X[:, 1]\n"
                f"ds = tc.Dataset(np.column_stack([{exprs}]).astype(np.float32), ds.y,\n"
                f"                ds.classes, {list(self.names)!r}, ds.name)\n")

    def note(self) -> str:
        """Why a config file cannot describe this run."""
        return (f"config.toml cannot describe the input features "
                f"{', '.join(FEATURES[k][0] for k in self.names if k not in BASE)}: export "
                "the Python script instead (it builds them), or keep the inputs x1, x2")
