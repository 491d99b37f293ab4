"""Wide tables and many classes stay bounded: memory, time and what a run writes.

A boundary grid is evaluated in chunks sized by bytes (rows x features, plus the
classes), not by rows; metrics and pictures summarise many classes instead of
storing and drawing K x K of everything (docs/reliability.md).
"""

import json
import subprocess
import sys
import textwrap

import numpy as np

from torchclf.grid import CHUNK_BYTES, decision_grid


def peak_rss_mb(*args, cwd) -> tuple[float, subprocess.CompletedProcess]:
    """Run ``torchclf *args`` under a fresh Python that reports its child's peak RSS
    (``getrusage(RUSAGE_CHILDREN)``), so no other test's children count."""
    code = textwrap.dedent(f"""
        import resource, subprocess, sys
        proc = subprocess.run([sys.executable, "-m", "torchclf", *{list(map(str, args))!r}],
                              capture_output=True, text=True, timeout=300)
        sys.stderr.write(proc.stderr)
        print(proc.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True,
                          text=True, timeout=300)
    rc, kib = proc.stdout.split()[-2:]
    assert rc == "0", proc.stderr
    return int(kib) / 1024, proc


# -- item 12: wide tables ----------------------------------------------------------------
def test_a_wide_grid_is_evaluated_in_chunks_bounded_in_bytes():
    d, resolution = 5000, 50
    X = np.random.default_rng(0).normal(size=(30, d))
    shapes = []

    def proba(rows):
        shapes.append(rows.shape)
        p = np.full((len(rows), 3), 0.2)
        p[:, 0] = 0.6
        return p

    grid = decision_grid(proba, X, [f"f{i}" for i in range(d)], resolution=resolution)
    assert (grid.labels == 0).all()
    assert sum(s[0] for s in shapes) == resolution ** 2
    # one chunk's float64 rows stay within the budget (or one grid row, if that is more);
    # a row-count chunk handed all 2,500 rows x 5,000 features (100 MB) at once
    assert max(s[0] for s in shapes) * d * 8 <= max(CHUNK_BYTES, resolution * d * 8)


def test_training_on_a_wide_table_with_plots_stays_in_bounded_memory(tmp_path):
    # 2,000 features, plots on: the old row-count grid chunk (and an identity matrix of
    # 2,000 x 2,000 to complete the view's basis) peaked at 1.5 GB; now ~360 MB
    mb, _ = peak_rss_mb("train", "blobs", "--param", "n_features=2000", "--n-samples", 100,
                        "--epochs", 2, "--out", tmp_path / "wide", "--quiet", cwd=tmp_path)
    assert (tmp_path / "wide" / "boundary.png").stat().st_size > 0
    assert mb < 800, f"peak RSS {mb:.0f} MB"
