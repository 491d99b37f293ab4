"""Sweeps: every configuration across seeds, summarised, saved, best run reproducible."""

import subprocess
import sys

import pandas as pd
import pytest

from torchclf.config import DataConfig, RunConfig
from torchclf.errors import UserError
from torchclf.scale.sweep import Grid, run_sweep


def test_sweep_reports_mean_and_std_per_configuration(tmp_path):
    base = RunConfig(name="moons", data=DataConfig(source="moons", params={"n_samples": 300,
                                                                             "noise": 0.1}))
    base = base.replace("train", epochs=200)
    grid = Grid(hidden=[(4,), (8, 8)], lr=[0.05, 0.3], activation=["relu"], seeds=3)
    result = run_sweep(base, grid)
    assert len(result.runs) == 12 and len(result.summary) == 4
    assert (result.summary["seeds"] == 3).all()
    means = result.summary["test_mean"].tolist()
    assert means == sorted(means, reverse=True)
    first = result.summary.iloc[0]
    rows = result.runs[result.runs["config"] == first["config"]]
    assert first["test_mean"] == pytest.approx(rows["test_accuracy"].mean())
    assert first["test_std"] == pytest.approx(rows["test_accuracy"].std())
    folder = result.save(tmp_path / "sweep")
    assert pd.read_csv(folder / "results.csv").shape[0] == 12
    assert (folder / "summary.png").read_bytes()[:4] == b"\x89PNG"


def test_empty_grid_is_refused():
    with pytest.raises(UserError, match="seeds"):
        Grid(seeds=0).specs()


def test_cli_sweep_end_to_end_and_best_run_retrains_identically(tmp_path):
    def cli(*args):
        proc = subprocess.run([sys.executable, "-m", "torchclf", *map(str, args)],
                              cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout
    out = cli("sweep", "moons", "--n-samples", 300, "--noise", 0.1, "--hidden", "4", "8,8",
              "--lr", 0.05, 0.3, "--activation", "relu", "tanh", "--seeds", 3, "--epochs",
              200, "--out", "sw", "--save-best", "best")
    assert "8 configurations x 3 seeds" in out and "±" in out
    for name in ("results.csv", "summary.csv", "summary.png"):
        assert (tmp_path / "sw" / name).exists()
    cli("train", "--config", "best/config.toml", "--out", "again", "--no-plots", "-q")
    assert (tmp_path / "again" / "model.safetensors").read_bytes() == \
        (tmp_path / "best" / "model.safetensors").read_bytes()


def test_cli_sweep_bad_values(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "torchclf", "sweep", "moons", "--activation",
                           "rellu"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "did you mean 'relu'" in proc.stderr
    assert "Traceback" not in proc.stderr
