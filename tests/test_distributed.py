"""DDP for real: two processes on this host match one process on the same global batch."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import load_file

COMMON = ["--target", "y", "--batch-size", 100, "--epochs", 4, "--optimizer", "adam",
          "--lr", 0.01, "--log-every", 1, "--no-plots", "--hidden", "16,16"]


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 4)).astype(np.float32)
    frame = pd.DataFrame(X, columns=list("abcd"))
    frame["y"] = np.where(X[:, 0] * X[:, 1] > 0, "yes", "no")
    frame.to_parquet(root / "d.parquet", row_group_size=300)
    frame.to_csv(root / "d.csv", index=False)
    return root


def run(cmd, cwd):
    proc = subprocess.run([sys.executable, *map(str, cmd)], cwd=cwd, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def same_weights(a, b, atol=1e-5):
    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert wa.keys() == wb.keys()
    return max(float(np.abs(wa[k] - wb[k]).max()) for k in wa) < atol


@pytest.mark.parametrize("name", ["d.parquet", "d.csv"])
def test_two_processes_match_one(table, name, tmp_path):
    single = tmp_path / "single"
    ddp = tmp_path / "ddp"
    run(["-m", "torchclf", "train", table / name, *COMMON, "--out", single], tmp_path)
    out = run(["-m", "torchclf", "train", table / name, *COMMON, "--nproc", 2, "--out", ddp],
              tmp_path)
    assert "(2 processes)" in out
    assert out.count("Epoch:") == 4  # only rank 0 prints
    assert same_weights(single, ddp)
    m1 = json.loads((single / "metrics.json").read_text())
    m2 = json.loads((ddp / "metrics.json").read_text())
    for split in ("train", "test"):
        assert m1[split]["confusion_matrix"] == m2[split]["confusion_matrix"]
        assert m1[split]["log_loss"] == pytest.approx(m2[split]["log_loss"], abs=1e-5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddp", "single"]


def test_torchrun_directly(table, tmp_path):
    run(["-m", "torchclf", "train", table / "d.parquet", *COMMON, "--out", "single"], tmp_path)
    run(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", 2,
         "-m", "torchclf", "train", table / "d.parquet", *COMMON, "--out", "ddp"], tmp_path)
    assert same_weights(tmp_path / "single", tmp_path / "ddp")


def test_unsupported_combinations_are_refused(table, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "torchclf", "train", str(table / "d.csv"),
                           "--target", "y", "--nproc", "2", "--early-stopping", "5"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--nproc does not support early stopping" in proc.stderr
