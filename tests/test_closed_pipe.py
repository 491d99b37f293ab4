"""`torchclf train ... | head -1`: the reader of stdout leaves, the work is kept.

Printing stops, training runs to the end and the run is saved; exit 0, and stderr says
where the run went (the "saved run to" line had no reader)."""

import json
import os
import subprocess
import sys

import pytest

ENV = dict(os.environ, OMP_NUM_THREADS="1")


def start(*args, cwd):
    return subprocess.Popen([sys.executable, "-m", "torchclf", *map(str, args)], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=ENV)


def finish_without_reader(proc, read_first_line):
    """Close our (the only) read end of the child's stdout, then wait for it."""
    first = proc.stdout.readline() if read_first_line else ""
    proc.stdout.close()
    err = proc.stderr.read()
    proc.wait(timeout=300)
    return first, err


def test_train_piped_to_head_keeps_training_and_saves_the_run(tmp_path):
    # one line a epoch: far more than a pipe holds, so writes fail once the reader left
    proc = start("train", "moons", "--epochs", 1500, "--log-every", 1, "--no-plots",
                 "--out", "run", cwd=tmp_path)
    first, err = finish_without_reader(proc, read_first_line=True)
    assert first.startswith("Epoch:")
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "saved run to run" in err
    history = (tmp_path / "run" / "history.csv").read_text().splitlines()
    assert history[-1].startswith("1499,")  # every epoch trained, not just the first
    import torchclf as tc
    assert tc.load_run(tmp_path / "run").metrics["test"]["accuracy"] > 0.8


def test_sweep_and_its_best_run_are_saved_when_stdout_is_closed(tmp_path):
    proc = start("sweep", "moons", "--lr", 0.1, 0.01, "--seeds", 2, "--epochs", 50,
                 "--out", "sw", "--save-best", "best", cwd=tmp_path)
    _, err = finish_without_reader(proc, read_first_line=False)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "to best" in err
    assert (tmp_path / "sw" / "summary.csv").exists()
    assert json.loads((tmp_path / "best" / "metrics.json").read_text())["test"]


def test_tune_save_best_is_saved_when_stdout_is_closed(tmp_path):
    pytest.importorskip("optuna")
    proc = start("tune", "moons", "--n-samples", 200, "--trials", 2, "--epochs", 20,
                 "--log-every", 10, "--save-best", "best", cwd=tmp_path)
    _, err = finish_without_reader(proc, read_first_line=False)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "saved to best" in err
    assert json.loads((tmp_path / "best" / "metrics.json").read_text())["test"]
