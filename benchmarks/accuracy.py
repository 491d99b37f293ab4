"""Out-of-the-box accuracy: TorchClassifier vs scikit-learn's MLP and gradient boosting.

Every model with its default settings, on the same stratified 75/25 splits, over 5
seeds, the two MLPs with max_iter raised from 200 to 1000 so they converge (both stop
by scikit-learn's plateau rule): TorchClassifier takes the table as it is (a DataFrame
with text and gaps included); MLPClassifier sits in the pipeline
a scikit-learn user writes by hand (StandardScaler; for tables with text or gaps a
ColumnTransformer of median/most-frequent imputation with missing indicators and
one-hot encoding); HistGradientBoostingClassifier reads text columns as categories
(``categorical_features="from_dtype"``) and handles gaps itself.

    python benchmarks/accuracy.py [--quick] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import torchclf as tc


def messy_table(n: int = 2000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """A customer-style table: numbers, a text column, a boolean, 8% of cells missing,
    and a label that depends on all of them."""
    rng = np.random.default_rng(seed)
    age = rng.normal(40, 12, n)
    income = rng.lognormal(10, 0.5, n)
    plan = rng.choice(["basic", "plus", "pro", "team"], n, p=[0.4, 0.3, 0.2, 0.1])
    online = rng.random(n) < 0.6
    score = (0.04 * (age - 40) + 0.8 * (np.log(income) - 10)
             + pd.Series(plan).map({"basic": -1.0, "plus": 0.0, "pro": 0.8, "team": 1.5})
             .to_numpy() + 0.7 * online + rng.normal(0, 0.5, n))
    X = pd.DataFrame({"age": age, "income": income, "plan": plan.astype(object),
                      "online": online.astype(object)})
    for col in X.columns:
        X.loc[rng.random(n) < 0.08, col] = np.nan
    return X, (score > np.median(score)).astype(int)


def datasets(quick: bool):
    import palmerpenguins
    for name in ("iris", "wine", "breast_cancer", "digits"):
        ds = tc.datasets.load(name)
        yield name, ds.X.astype(np.float64), ds.y
    penguins = pd.read_csv(Path(palmerpenguins.__file__).parent / "data" / "penguins.csv")
    yield ("penguins (as published: text, 19 gaps)", penguins.drop(columns="species"),
           penguins["species"].to_numpy())
    yield "messy table (2000 rows, text, booleans, 8% gaps)", *messy_table()
    names = ("moons", "circles") if quick else ("moons", "circles", "spirals", "blobs",
                                                "xor", "gauss")
    noise = {"moons": 0.2, "circles": 0.1, "spirals": 0.2, "blobs": 2.5, "xor": 0.1,
             "gauss": 0.5}
    for name in names:
        ds = tc.datasets.make(name, n_samples=600, noise=noise[name], seed=0)
        yield f"{name} (noise {noise[name]})", ds.X.astype(np.float64), ds.y


def mlp_pipeline(X, seed: int):
    mlp = MLPClassifier(max_iter=1000, random_state=seed)
    if not isinstance(X, pd.DataFrame):
        return make_pipeline(StandardScaler(), mlp)
    numbers = make_column_selector(dtype_include="number")
    text = make_column_selector(dtype_exclude="number")
    prep = ColumnTransformer([
        ("numbers", make_pipeline(SimpleImputer(strategy="median", add_indicator=True),
                                  StandardScaler()), numbers),
        ("text", make_pipeline(SimpleImputer(strategy="most_frequent", add_indicator=True),
                               OneHotEncoder(handle_unknown="ignore")), text)])
    return make_pipeline(prep, mlp)


def as_categories(X):
    """Text columns as pandas categories, which HistGradientBoosting reads as such."""
    if not isinstance(X, pd.DataFrame):
        return X
    return X.apply(lambda c: c if pd.api.types.is_numeric_dtype(c) else
                   c.astype(str).where(c.notna()).astype("category"))


MODELS = {
    "TorchClassifier": lambda X, seed: tc.TorchClassifier(max_iter=1000, random_state=seed),
    "MLPClassifier pipeline": mlp_pipeline,
    "HistGradientBoosting": lambda X, seed: HistGradientBoostingClassifier(
        random_state=seed, categorical_features="from_dtype"),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="2 seeds, fewer datasets")
    p.add_argument("--markdown", help="also write the table to this file")
    args = p.parse_args()
    seeds = range(2 if args.quick else 5)
    lines = ["| dataset | " + " | ".join(MODELS) + " |", "|---" * (len(MODELS) + 1) + "|"]
    best_or_tied = dict.fromkeys(MODELS, 0)
    total = 0
    for name, X, y in datasets(args.quick):
        scores = {m: [] for m in MODELS}
        seconds = dict.fromkeys(MODELS, 0.0)
        for seed in seeds:
            Xa, Xb, ya, yb = train_test_split(X, y, test_size=0.25, random_state=seed,
                                              stratify=y)
            for model, make in MODELS.items():
                data_a, data_b = (as_categories(Xa), as_categories(Xb)) \
                    if model == "HistGradientBoosting" else (Xa, Xb)
                t = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    scores[model].append(make(X, seed).fit(data_a, ya).score(data_b, yb))
                seconds[model] += time.perf_counter() - t
        means = {m: float(np.mean(s)) for m, s in scores.items()}
        top = max(means.values())
        total += 1
        cells = []
        for m, s in scores.items():
            best = means[m] >= top - 1e-12
            best_or_tied[m] += best
            mark = "**" if best else ""
            cells.append(f"{mark}{100 * means[m]:.1f} ± {100 * np.std(s):.1f}%{mark}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
        print(lines[-1], " (" + ", ".join(f"{m} {t:.1f} s" for m, t in seconds.items()) + ")",
              flush=True)
    lines.append("")
    lines.append(f"Mean ± std of test accuracy over {len(seeds)} seeds; bold = best or tied "
                 "on the unrounded means. "
                 "Best or tied on " + ", ".join(f"{m} {n}" for m, n in best_or_tied.items())
                 + f" of {total} datasets.")
    table = "\n".join(lines)
    print()
    print(table)
    if args.markdown:
        from torchclf.atomic import atomic_write_text
        atomic_write_text(args.markdown, table + "\n")


if __name__ == "__main__":
    main()
