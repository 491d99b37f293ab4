"""Real tables that ship with scikit-learn, by name: iris, wine, breast_cancer, digits.

They are read from the installed package (no network) by ``sklearn.datasets.load_*``,
imported only when a table is loaded. Each becomes a ``Dataset`` with scikit-learn's
feature names and class names, in scikit-learn's row order. A table is fixed data: the
generators' parameters (``n_samples``, ``noise``, ``--param``) do not apply to it.
"""

from __future__ import annotations

from typing import NamedTuple

from torchclf.data.dataset import Dataset
from torchclf.errors import UserError


class Table(NamedTuple):
    loader: str          # the function in sklearn.datasets
    description: str
    rows: int
    features: int
    classes: int


TABLES: dict[str, Table] = {
    "iris": Table("load_iris", "Fisher's iris flowers: sepal and petal sizes, 3 species",
                  150, 4, 3),
    "wine": Table("load_wine", "chemical analysis of wines from 3 cultivars", 178, 13, 3),
    "breast_cancer": Table("load_breast_cancer", "Wisconsin breast cancer cell nuclei: "
                           "malignant or benign", 569, 30, 2),
    "digits": Table("load_digits", "8x8 images of handwritten digits 0-9, pixel counts",
                    1797, 64, 10),
}


def flag_of(param: str) -> str:
    """The CLI flag that sets a generator parameter."""
    return f"--{param.replace('_', '-')}" if param in ("n_samples", "noise") \
        else f"--param {param}"


def load(name: str, **params: object) -> Dataset:
    """The bundled table ``name`` as a Dataset (a UserError for any parameter)."""
    table = TABLES[name]
    if params:
        raise UserError(f"{name} is a bundled table: it takes no "
                        f"{flag_of(next(iter(params)))} (drop it; generator parameters "
                        "apply to the generated datasets only)")
    import sklearn.datasets
    bunch = getattr(sklearn.datasets, table.loader)()
    classes = tuple(bunch.target_names.tolist())  # digits' are the ints 0..9
    return Dataset(bunch.data, bunch.target, classes, tuple(bunch.feature_names), name,
                   {"source": name, "params": {}})
