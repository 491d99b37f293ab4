"""Out-of-the-box accuracy: TorchClassifier vs scikit-learn's MLPClassifier.

Both with default settings (MLPClassifier in a StandardScaler pipeline, max_iter raised
to 1000 so it converges), on the same stratified 75/25 splits, over 5 seeds.

    python benchmarks/accuracy.py [--quick] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import torchclf as tc


def datasets(quick: bool):
    yield "iris", load_iris(return_X_y=True)
    yield "wine", load_wine(return_X_y=True)
    names = ("moons", "circles") if quick else ("moons", "circles", "spirals", "blobs",
                                                "xor", "gauss")
    noise = {"moons": 0.2, "circles": 0.1, "spirals": 0.2, "blobs": 2.5, "xor": 0.1,
             "gauss": 0.5}
    for name in names:
        ds = tc.datasets.make(name, n_samples=600, noise=noise[name], seed=0)
        yield f"{name} (noise {noise[name]})", (ds.X.astype(np.float64), ds.y)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="2 seeds, fewer datasets")
    p.add_argument("--markdown", help="also write the table to this file")
    args = p.parse_args()
    seeds = range(2 if args.quick else 5)
    lines = [f"| dataset | TorchClassifier | MLPClassifier + StandardScaler |",
             "|---|---|---|"]
    wins = 0
    total = 0
    for name, (X, y) in datasets(args.quick):
        ours, theirs, t_ours, t_theirs = [], [], 0.0, 0.0
        for seed in seeds:
            Xa, Xb, ya, yb = train_test_split(X, y, test_size=0.25, random_state=seed,
                                              stratify=y)
            t = time.perf_counter()
            ours.append(tc.TorchClassifier(random_state=seed).fit(Xa, ya).score(Xb, yb))
            t_ours += time.perf_counter() - t
            t = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                sk = make_pipeline(StandardScaler(), MLPClassifier(max_iter=1000,
                                                                   random_state=seed))
                theirs.append(sk.fit(Xa, ya).score(Xb, yb))
            t_theirs += time.perf_counter() - t
        m1, m2 = np.mean(ours), np.mean(theirs)
        total += 1
        wins += m1 >= m2 - 1e-12
        mark = lambda a, b: "**" if a >= b - 1e-12 else ""
        lines.append(f"| {name} | {mark(m1, m2)}{100 * m1:.1f} ± {100 * np.std(ours):.1f}%"
                     f"{mark(m1, m2)} | {mark(m2, m1)}{100 * m2:.1f} ± "
                     f"{100 * np.std(theirs):.1f}%{mark(m2, m1)} |")
        print(lines[-1], f"  ({t_ours:.1f} s vs {t_theirs:.1f} s)", flush=True)
    lines.append("")
    lines.append(f"Mean ± std of test accuracy over {len(seeds)} seeds; bold = better or "
                 f"equal. TorchClassifier matches or beats MLPClassifier on {wins} of "
                 f"{total} datasets.")
    table = "\n".join(lines)
    print()
    print(table)
    if args.markdown:
        from torchclf.atomic import atomic_write_text
        atomic_write_text(args.markdown, table + "\n")


if __name__ == "__main__":
    main()
