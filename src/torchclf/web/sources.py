"""Where a playground session's rows come from: a generator's draw, a bundled table or
an uploaded CSV, each held to the playground's limits (web/limits.py)."""

from __future__ import annotations

from torchclf.data import bundled, synthetic
from torchclf.data.dataset import Dataset
from torchclf.errors import UserError
from torchclf.web.limits import LIMITS


def generator_params(s) -> dict:
    """The generator's parameters from the page's Settings ``s``."""
    params = {"n_samples": s.points, "noise": s.noise, "seed": s.seed + s.data_draw}
    if s.dataset in ("blobs", "spirals"):
        params["n_classes"] = s.classes
    return params


def generate(s) -> Dataset:
    """The built-in data the settings name: a generator's draw, or a bundled table as it
    ships (the generator settings are ignored for it, as for an upload)."""
    if s.dataset == "custom":
        raise UserError("upload a CSV (or pick a built-in dataset) for custom data")
    if s.dataset in bundled.TABLES:
        return bundled.load(s.dataset)
    return synthetic.make(s.dataset, **generator_params(s))


def check_table(name: str) -> None:
    """A bundled table meets the limits an upload of the same table would (digits' 10
    classes do not: the page's colours tell 8 apart)."""
    table = bundled.TABLES[name]
    LIMITS.check_columns(table.features + 1)
    LIMITS.check_points(table.rows)
    LIMITS.check_data_classes(table.classes, name,
                              f"train it with torchclf train {name} instead")


def table_refusal(name: str) -> str | None:
    """Why the playground refuses the bundled table ``name`` (None: it takes it)."""
    try:
        check_table(name)
    except UserError as e:
        return str(e)
    return None


LABEL_NAMES = ("label", "target", "class")  # an upload's label column, if one is named so


def from_csv_text(text: str) -> Dataset:
    """An uploaded CSV: feature columns of numbers, text or booleans (gaps allowed; they
    are encoded as ``torchclf train`` encodes a table) and a label column: the column
    named label, else target, else class (in any case), else the last column."""
    import io
    import pandas as pd
    from torchclf.data.cells import labels_as_written
    from torchclf.data.tabular import table_dataset
    try:
        frame = pd.read_csv(io.StringIO(text))
    except Exception as e:
        raise UserError(f"cannot read the CSV: {str(e).splitlines()[0]}") from None
    LIMITS.check_columns(frame.shape[1])
    LIMITS.check_points(len(frame))
    named = {str(c).lower(): str(c) for c in reversed(frame.columns)}
    target = next((named[n] for n in LABEL_NAMES if n in named), str(frame.columns[-1]))
    if target in frame.columns:  # the labels as written, as torchclf train reads them
        column = list(frame.columns).index(target)
        frame[target] = labels_as_written(pd.read_csv(io.StringIO(text), usecols=[column],
                                                      dtype=str).iloc[:, 0])
    ds = table_dataset(frame, target, name="custom", where="the CSV")
    LIMITS.check_data_classes(ds.n_classes, "the CSV")
    return ds
