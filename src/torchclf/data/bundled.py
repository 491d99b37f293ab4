"""Real tables that ship with scikit-learn, by name: iris, wine, breast_cancer, digits.

They are read from the installed package's own files (no network), where
``sklearn.datasets.load_*`` reads them, without importing scikit-learn: importing
``sklearn.datasets`` took 1.5 s of a 3.7 s ``torchclf train wine``. Each becomes a
``Dataset`` with scikit-learn's feature names and class names, in scikit-learn's row
order (tested against ``load_*``, which is still used if the files are not where
scikit-learn 1.x keeps them). A table is fixed data: the generators' parameters
(``n_samples``, ``noise``, ``--param``) do not apply to it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import NamedTuple

import numpy as np

from torchclf.data.dataset import Dataset
from torchclf.errors import UserError


class Table(NamedTuple):
    loader: str          # the function in sklearn.datasets
    description: str
    rows: int
    features: int
    classes: int
    file: str            # in scikit-learn's datasets/data folder
    columns: tuple[str, ...] = ()  # the feature names load_* gives (digits: pixel_r_c)


_CELL = ("radius", "texture", "perimeter", "area", "smoothness", "compactness",
         "concavity", "concave points", "symmetry", "fractal dimension")

TABLES: dict[str, Table] = {
    "iris": Table("load_iris", "Fisher's iris flowers: sepal and petal sizes, 3 species",
                  150, 4, 3, "iris.csv", ("sepal length (cm)", "sepal width (cm)",
                                          "petal length (cm)", "petal width (cm)")),
    "wine": Table("load_wine", "chemical analysis of wines from 3 cultivars", 178, 13, 3,
                  "wine_data.csv", (
                      "alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium",
                      "total_phenols", "flavanoids", "nonflavanoid_phenols",
                      "proanthocyanins", "color_intensity", "hue",
                      "od280/od315_of_diluted_wines", "proline")),
    "breast_cancer": Table("load_breast_cancer", "Wisconsin breast cancer cell nuclei: "
                           "malignant or benign", 569, 30, 2, "breast_cancer.csv",
                           tuple([f"mean {c}" for c in _CELL] + [f"{c} error" for c in _CELL]
                                 + [f"worst {c}" for c in _CELL])),
    "digits": Table("load_digits", "8x8 images of handwritten digits 0-9, pixel counts",
                    1797, 64, 10, "digits.csv.gz",
                    tuple(f"pixel_{r}_{c}" for r in range(8) for c in range(8))),
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
    read = _read(table)
    if read is None:  # not where scikit-learn 1.x keeps its files: ask it
        import sklearn.datasets
        bunch = getattr(sklearn.datasets, table.loader)()
        read = bunch.data, bunch.target, tuple(bunch.target_names.tolist())
    X, y, classes = read
    return Dataset(X, y, classes, table.columns, name, {"source": name, "params": {}})


def _read(table: Table):
    """(X, y, classes) from scikit-learn's own file of ``table``, parsed as ``load_*``
    parses it (float64 cells, the last column the class code; a CSV's first line is
    "rows,features,class names..."); None if the file is missing or not that shape."""
    spec = importlib.util.find_spec("sklearn")  # finds it without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / table.file
    try:
        if path.suffix == ".gz":  # digits: no header, classes 0..9
            data, classes = np.loadtxt(path, delimiter=","), tuple(range(table.classes))
        else:
            with open(path, encoding="utf-8") as f:
                classes = tuple(f.readline().strip().split(",")[2:])
            data = np.loadtxt(path, delimiter=",", skiprows=1)
    except (OSError, ValueError):
        return None
    if data.shape != (table.rows, table.features + 1) or len(classes) != table.classes:
        return None
    return data[:, :-1], data[:, -1].astype(int), classes
