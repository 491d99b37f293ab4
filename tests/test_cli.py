"""The command line end to end, in real subprocesses, on real files."""

import csv
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from torchclf.cli.main import main

PNG = b"\x89PNG\r\n\x1a\n"


def cli(*args, cwd=None, check=True):
    proc = subprocess.run([sys.executable, "-m", "torchclf", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def moons_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    proc = cli("train", "moons", "--n-samples", 400, "--hidden", "8,8", "--epochs", 300,
               "--lr", 0.1, "--log-every", 100, "--out", root / "runs" / "moons", "--progress")
    return root, proc


def test_train_prints_lesson_lines_and_writes_the_run(moons_run):
    root, proc = moons_run
    lines = [l for l in proc.stdout.splitlines() if l.startswith("Epoch:")]
    assert [l.split("|")[0].strip() for l in lines] == [
        "Epoch:     0", "Epoch:   100", "Epoch:   200", "Epoch:   299"]
    assert "Test acc:" in lines[-1]
    assert "saved run to" in proc.stdout
    assert "rows/s" in proc.stderr and "epoch" in proc.stderr  # the bar, on stderr
    run = root / "runs" / "moons"
    for name in ("config.toml", "model.safetensors", "model.json", "history.csv",
                 "metrics.json"):
        assert (run / name).is_file()
    for name in ("boundary.png", "curves.png", "confusion.png"):
        assert (run / name).read_bytes()[:8] == PNG


def test_predict_writes_probabilities_and_labels(moons_run, tmp_path):
    root, _ = moons_run
    points = tmp_path / "points.csv"
    points.write_text("x1,x2,note\n-1.0,0.5,a\n1.0,-0.4,b\n0.5,0.25,c\n")
    out = tmp_path / "pred.csv"
    cli("predict", root / "runs" / "moons", points, "--output", out)
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 3 and rows[0]["note"] == "a"
    assert {"predicted", "proba_0", "proba_1"} <= set(rows[0])
    for r in rows:
        assert abs(float(r["proba_0"]) + float(r["proba_1"]) - 1) < 1e-5
        assert r["predicted"] == ("1" if float(r["proba_1"]) > 0.5 else "0")
    assert rows[0]["predicted"] == "0" and rows[1]["predicted"] == "1"
    to_stdout = cli("predict", root / "runs" / "moons", points)
    assert to_stdout.stdout.splitlines()[0].startswith("x1,x2,note,predicted")


def test_plot_and_evaluate_rebuild_the_data_from_the_config(moons_run, tmp_path):
    root, _ = moons_run
    proc = cli("plot", root / "runs" / "moons", "--out", tmp_path / "plots")
    for name in ("boundary.png", "curves.png", "confusion.png"):
        assert (tmp_path / "plots" / name).read_bytes()[:8] == PNG
    ev = cli("evaluate", root / "runs" / "moons")
    assert "accuracy" in ev.stdout and "confusion matrix" in ev.stdout


def test_config_file_reproduces_the_run_exactly(moons_run, tmp_path):
    root, _ = moons_run
    run = root / "runs" / "moons"
    cli("train", "--config", run / "config.toml", "--out", tmp_path / "again", "--no-plots")
    assert (tmp_path / "again" / "metrics.json").read_text() == (run / "metrics.json").read_text()
    assert (tmp_path / "again" / "model.safetensors").read_bytes() == \
        (run / "model.safetensors").read_bytes()


def test_train_on_a_csv_with_string_labels(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 3))
    species = np.array(["setosa", "versicolor", "virginica"])[np.argmax(X, axis=1)]
    data = tmp_path / "flowers.csv"
    with data.open("w") as f:
        f.write("a,b,c,species\n")
        for row, s in zip(X, species):
            f.write(f"{row[0]},{row[1]},{row[2]},{s}\n")
    out = tmp_path / "runs" / "flowers"
    cli("train", data, "--target", "species", "--optimizer", "adam", "--lr", 0.05, "--epochs",
        200, "--out", out, "--quiet")
    assert (out / "boundary.png").read_bytes()[:8] == PNG  # 3 features: PCA view
    pred = cli("predict", out, data).stdout
    labels = [line.split(",")[4] for line in pred.splitlines()[1:]]
    assert set(labels) <= {"setosa", "versicolor", "virginica"}
    assert np.mean(np.array(labels) == species) > 0.9


def test_default_run_names_never_overwrite(tmp_path):
    for _ in range(2):
        cli("train", "blobs", "--epochs", 3, "--no-plots", "--quiet", cwd=tmp_path)
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["blobs", "blobs-2"]


def test_recipes_list_show_and_run(tmp_path):
    listing = cli("recipes", "list").stdout
    assert "moons" in listing and "96.0%" in listing
    shown = cli("recipes", "show", "spirals").stdout
    assert 'optimizer = "adam"' in shown
    ran = cli("recipes", "run", "blobs", "--out", tmp_path / "blobs", "--no-plots")
    assert "PASS: test accuracy" in ran.stdout


def test_datasets_lists_every_generator():
    out = cli("datasets").stdout
    for name in ("circles", "moons", "blobs", "spirals", "xor", "gauss"):
        assert name in out


@pytest.mark.parametrize("args,needle", [
    (["train", "moonz"], "did you mean 'moons'"),
    (["train", "moons", "--lr", "abc"], "expected a number"),
    (["train", "moons", "--lr", "-1"], "lr > 0"),
    (["train", "moons", "--epochs", "0"], "expected epochs >= 1"),
    (["train", "moons", "--activation", "rellu"], "did you mean 'relu'"),
    (["train", "moons", "--hidden", "8,x"], "hidden sizes"),
    (["train", "moons", "--param", "colour=3"], "unknown parameter"),
    (["train", "moons", "--target", "y"], "--target applies to CSV/Parquet"),
    (["train", "missing.csv"], "missing.csv"),
    (["train", "--config", "nope.toml"], "config file not found"),
    (["predict", "no-such-run", "x.csv"], "run directory not found"),
    (["recipes", "run", "moon"], "did you mean 'moons'"),
])
def test_user_mistakes_exit_2_with_one_line(args, needle, tmp_path):
    proc = cli(*args, cwd=tmp_path, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert not (tmp_path / "runs").exists()


def test_missing_target_column_and_unreadable_file(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("a,b,label\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n")
    proc = cli("train", data, "--target", "lable", check=False, cwd=tmp_path)
    assert proc.returncode == 2 and "lable" in proc.stderr and "Traceback" not in proc.stderr
    binary = tmp_path / "bad.parquet"
    binary.write_bytes(b"\x00\x01garbage")
    proc = cli("train", binary, check=False, cwd=tmp_path)
    assert proc.returncode == 2 and "bad.parquet" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_help_does_not_import_torch():
    code = ("import sys, torchclf.cli.main as c; c.build_parser().format_help(); "
            "print('torch' in sys.modules, 'matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert out.strip() == "False False"


def test_main_in_process_with_injected_streams():
    out, err = io.StringIO(), io.StringIO()
    assert main(["datasets"], out=out, err=err) == 0
    assert "spirals" in out.getvalue() and err.getvalue() == ""


def test_a_large_table_trains_in_mini_batches_with_rows_per_second(tmp_path):
    import pandas as pd
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 20)).astype(np.float32)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(20)])
    frame["y"] = np.where(X[:, :3].sum(1) > 0, "pos", "neg")
    frame.to_parquet(tmp_path / "big.parquet")
    proc = cli("train", tmp_path / "big.parquet", "--target", "y", "--epochs", 2,
               "--optimizer", "adam", "--lr", 0.003, "--out", tmp_path / "run", "--no-plots",
               "--progress")
    assert "rows/s" in proc.stderr
    import json
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] > 0.9
