"""DDP for real: two processes on this host match one process on the same global batch."""

import json
import os
import subprocess
import sys
import tomllib

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


@pytest.mark.parametrize("name,split", [("d.parquet", "stratified"), ("d.csv", "stratified"),
                                        ("d.parquet", "lesson")])
def test_two_processes_match_one(table, name, split, tmp_path):
    single = tmp_path / "single"
    ddp = tmp_path / "ddp"
    flags = [*COMMON, "--split", split]
    run(["-m", "torchclf", "train", table / name, *flags, "--out", single], tmp_path)
    out = run(["-m", "torchclf", "train", table / name, *flags, "--nproc", 2, "--out", ddp],
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
    data = [tomllib.loads((d / "config.toml").read_text())["data"] for d in (single, ddp)]
    assert data[0] == data[1]  # both record the file's absolute path and its label column
    assert (data[1]["source"], data[1]["target"]) == (str(table / name), "y")


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


@pytest.fixture(scope="module")
def bad_table(table):
    """d.csv with an empty cell in row 1500: rank 1's half of the rows."""
    frame = pd.read_csv(table / "d.csv")
    frame.loc[1499, "b"] = np.nan
    frame.to_csv(table / "bad.csv", index=False)
    return table / "bad.csv"


BAD_ROW = "torchclf: error: bad.csv: missing value in column 'b' at data row 1500: " \
    "fill or drop those rows"


def test_a_bad_file_is_one_line_before_any_rank_starts(bad_table, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "torchclf", "train", str(bad_table),
                           "--target", "y", "--nproc", "2"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.splitlines() == [BAD_ROW.replace(
        "bad.csv", str(bad_table))]
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def malformed_table(table):
    """d.csv with a fourth field on data row 1500 (file line 1501): rank 1's rows."""
    lines = (table / "d.csv").read_text().splitlines(keepends=True)
    lines[1500] = lines[1500].rstrip("\n") + ",9\n"
    (table / "malformed.csv").write_text("".join(lines))
    return table / "malformed.csv"


MALFORMED = "torchclf: error: cannot read malformed.csv as CSV: Error tokenizing data. " \
    "C error: Expected 5 fields in line 1501, saw 6"


@pytest.mark.parametrize("name,line", [("bad.csv", BAD_ROW), ("malformed.csv", MALFORMED)])
def test_a_bad_row_in_one_rank_stops_every_rank_with_one_line(bad_table, malformed_table,
                                                              tmp_path, name, line):
    """Under torchrun each rank reads its own rows: rank 0 has no bad row, and must not be
    left waiting for rank 1 (a gloo error and two tracebacks). Every rank stops with the
    same error; rank 0 alone prints it, so the line is whole on a shared terminal. A row
    pandas cannot parse is such an error too, not a rank's traceback. (torchrun's own
    launcher then reports the failed child in its way.)"""
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc_per_node", "2", "-m", "torchclf", "train", name,
                           "--target", "y", "--no-plots", "--out", "ddp"], cwd=bad_table.parent,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert proc.stderr.count(line) == 1 and proc.stderr.count("torchclf: error:") == 1, \
        proc.stderr
    assert "[rank0]: Traceback" not in proc.stderr and "[rank1]: Traceback" not in proc.stderr
    assert not (bad_table.parent / "ddp").exists()


TEARDOWN = """
import os
from torchclf import config
from torchclf.scale.distributed import train_rank
train_rank(config.RunConfig().replace("data", source="moons").replace("train", epochs=1))
print(" ".join(open(f"/proc/self/task/{t}/comm").read() for t in os.listdir("/proc/self/task")))
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="lists threads in /proc")
def test_a_rank_leaves_no_gloo_thread_running_at_exit(tmp_path):
    """test_torchrun_directly once died of SIGABRT after 'saved run': DDP's constructor
    first imported torch.distributed.nn.functional, whose default arguments bind the live
    group, so destroy_process_group could not free it and gloo's threads were still
    running when the rank exited, racing the exit's destructors."""
    env = dict(os.environ, RANK="0", LOCAL_RANK="0", WORLD_SIZE="1",
               MASTER_ADDR="127.0.0.1", MASTER_PORT="0")
    proc = subprocess.run([sys.executable, "-c", TEARDOWN], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    threads = proc.stdout.split()
    assert threads and not [t for t in threads if "gloo" in t or "tcpstore" in t], threads
