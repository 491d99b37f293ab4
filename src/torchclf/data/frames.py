"""What scikit-learn-style callers hand over (a DataFrame or an array) -> model inputs.

``TorchClassifier`` (``torchclf.estimator``) takes X as a pandas DataFrame of any column
kinds or as a numeric array that may hold NaN; both go through a ``TableEncoder`` learnt
at the first fit. Nothing is ever left out: an estimator keeps every column it is given
(scikit-learn fits one-row and constant data), so the encoder is fitted without
``drop_useless``.
"""

from __future__ import annotations

import numpy as np

from torchclf.data.encoding import TableEncoder


def is_frame(X) -> bool:
    """A pandas DataFrame: its columns are encoded as they are (text, categories...)."""
    import pandas as pd
    return isinstance(X, pd.DataFrame)


def as_frame(X, names):
    """X (a DataFrame or a 2-D array) as a DataFrame whose columns, by position, are
    called ``names``."""
    import pandas as pd
    if is_frame(X):
        return X.set_axis(list(names), axis=1)
    return pd.DataFrame(X, columns=list(names))


def learn_encoder(X, names) -> TableEncoder:
    """The encoder of X's columns (called ``names``), keeping every column."""
    return TableEncoder.fit(as_frame(X, names), "X", drop_useless=False)


def encode(encoder: TableEncoder, X) -> np.ndarray:
    """X's rows as float64 model inputs. A numeric array without NaN, under an encoder
    that passes numbers through, comes back as it is (``TableEncoder.transform_rows``)."""
    if not is_frame(X):
        return encoder.transform_rows(X, "X", dtype=np.float64)
    return encoder.transform(as_frame(X, encoder.inputs), "X", dtype=np.float64)
