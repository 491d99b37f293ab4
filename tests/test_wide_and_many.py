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
import pytest

from torchclf import metrics
from torchclf.data.dataset import Dataset
from torchclf.grid import CHUNK_BYTES, decision_grid
from torchclf.plots import plot_boundary, plot_confusion, png_bytes


def peak_rss_mb(*args, cwd) -> tuple[float, subprocess.CompletedProcess]:
    """Run ``torchclf *args`` under a fresh Python that reports its child's peak RSS
    (``getrusage(RUSAGE_CHILDREN)``), so no other test's children count; the returned
    process's stderr is the command's stdout then its stderr."""
    code = textwrap.dedent(f"""
        import resource, subprocess, sys
        proc = subprocess.run([sys.executable, "-m", "torchclf", *{list(map(str, args))!r}],
                              capture_output=True, text=True, timeout=300)
        sys.stderr.write(proc.stdout + proc.stderr)
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


# -- item 13: many classes ---------------------------------------------------------------
def many_class_report(k=5000, n=10_000, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    pred = np.where(rng.random(n) < 0.5, y, (y + 1 + (y % 3)) % k)  # right half the time
    proba = np.full((n, k), 0.1 / k, dtype=np.float32)
    proba[np.arange(n), pred] = 0.9
    return y, pred, proba


def test_a_report_of_many_classes_is_small_and_lists_the_worst_classes():
    import tracemalloc
    k = 5000
    y, pred, proba = many_class_report(k)
    classes = tuple(f"c{i}" for i in range(k))
    tracemalloc.start()
    report = metrics.classification_report(y, proba, classes)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50 << 20  # no K x K int64 array (200 MB here); proba is the caller's
    assert len(json.dumps(report)) < 20_000  # it was 25M matrix cells: ~100 MB of JSON
    assert "confusion_matrix" not in report and report["n_classes"] == k
    # the numbers are those of the whole matrix
    dense = metrics.confusion_matrix(y, pred, k)
    tp, actual, predicted = np.diag(dense), dense.sum(1), dense.sum(0)
    assert report["accuracy"] == pytest.approx(tp.sum() / len(y))
    present = (actual + predicted) > 0
    recall = np.divide(tp, actual, out=np.zeros(k), where=actual > 0)
    assert report["recall_macro"] == pytest.approx(recall[present].mean())
    # the 20 classes of lowest F1, and the most frequent mistakes in order
    assert len(report["per_class"]) == len(report["class_counts"]) == metrics.LISTED_CLASSES
    listed_f1 = [v["f1"] for v in report["per_class"].values()]
    f1_all = [metrics.report_from_confusion(dense, 0.0, classes)]  # dense path, same cap
    assert listed_f1 == sorted(listed_f1) and f1_all[0]["per_class"] == report["per_class"]
    off = dense.copy()
    np.fill_diagonal(off, 0)
    top = report["top_confusions"]
    assert [p["count"] for p in top] == sorted(off.ravel())[::-1][:len(top)]
    first = top[0]
    assert off[int(first["true"][1:]), int(first["predicted"][1:])] == first["count"]


def test_a_report_of_few_classes_keeps_the_whole_matrix_and_every_class():
    y = np.array([0, 1, 2, 2])
    proba = np.eye(3)[[0, 2, 2, 1]]
    report = metrics.classification_report(y, proba, ("a", "b", "c"))
    assert report["confusion_matrix"] == [[1, 0, 0], [0, 0, 1], [0, 1, 1]]
    assert list(report["per_class"]) == ["a", "b", "c"] and "top_confusions" not in report


def test_many_class_pictures_summarise_instead_of_exploding():
    k, rng = 300, np.random.default_rng(0)
    centers = rng.normal(scale=10, size=(k, 2))
    y = np.arange(900) % k
    ds = Dataset(centers[y] + rng.normal(size=(900, 2)), y, tuple(range(k)), ("a", "b"), "many")

    def nearest(X):  # a stand-in model: the nearest centre wins
        d = -((X[:, None, :] - centers[None]) ** 2).sum(-1)
        p = np.exp(d - d.max(1, keepdims=True))
        return p / p.sum(1, keepdims=True)

    grid = decision_grid(nearest, ds.X, ds.feature_names, resolution=60)
    assert grid.proba is None and grid.n_classes == k  # no 60 x 60 x 300 array kept
    assert np.array_equal(grid.labels, nearest(grid.view.grid_rows(
        grid.xx[0], grid.yy[:, 0])).argmax(1).reshape(60, 60))
    fig = plot_boundary(nearest, ds, resolution=60)
    assert fig.axes[0].get_legend() is None  # 300 legend entries would hide the picture
    assert png_bytes(fig)[:4] == b"\x89PNG"
    heat = plot_confusion(np.ones((k, k), dtype=int), tuple(range(k)))
    assert not heat.axes[0].texts  # no 90,000 numbers to lay out and draw
    assert heat.get_size_inches()[0] < 30


def test_train_with_many_classes_finishes_with_small_metrics_and_pictures(tmp_path):
    # 200 classes: the old run wrote a 200 x 200 matrix per split and drew 40,000
    # numbers in confusion.png (blobs' default 53 s and 5.5 GB)
    run = tmp_path / "many"
    mb, proc = peak_rss_mb("train", "blobs", "--param", "n_classes=200", "--n-samples", 2000,
                           "--epochs", 2, "--out", run, cwd=tmp_path)
    assert (run / "metrics.json").stat().st_size < 30_000
    report = json.loads((run / "metrics.json").read_text())["test"]
    assert report["n_classes"] == 200 and len(report["top_confusions"]) <= 20
    assert (run / "confusion.png").stat().st_size < 300_000
    assert (run / "boundary.png").stat().st_size > 0
    assert mb < 800, f"peak RSS {mb:.0f} MB"
    assert "the 20 of 200 classes with the lowest F1" in proc.stderr


def test_evaluate_prints_the_most_frequent_mistakes_of_many_classes():
    from torchclf.cli.console import confusion_table
    report = {"n_classes": 500, "top_confusions": [
        {"true": "cat", "predicted": "dog", "count": 7}]}
    assert confusion_table(report, ()).splitlines() == [
        "500 classes: the most frequent mistakes (true -> predicted: rows)", "  cat -> dog: 7"]
