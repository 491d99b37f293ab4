"""A run rebuilds its own data from any folder: config.toml records the table's absolute
path and its label column, and evaluate, plot and ``--config`` use them (real processes,
real files)."""

import json
import subprocess
import sys

import numpy as np
import pytest

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover
    import tomli as tomllib

QUICK = ["--epochs", "30", "--optimizer", "adam", "--lr", "0.05", "--no-plots", "-q", "--no-progress"]


def cli(*args, cwd, check=True):
    proc = subprocess.run([sys.executable, "-m", "torchclf", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def write_table(path, seed, flip=False):
    """x1, label, x2, other: the label in the middle, a 0/1 column last that is not it."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(200, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    if flip:
        y = 1 - y
    other = rng.integers(0, 2, size=200)
    lines = ["x1,label,x2,other"] + [f"{a:.4f},{c},{b:.4f},{o}"
                                      for (a, b), c, o in zip(X, y, other)]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run trained from folder ``a`` on the relative path ``data.csv``, target ``label``."""
    root = tmp_path_factory.mktemp("rundata")
    (root / "a").mkdir()
    (root / "b").mkdir()
    write_table(root / "a" / "data.csv", seed=0)
    write_table(root / "b" / "data.csv", seed=1, flip=True)  # another table, same name
    cli("train", "data.csv", "--target", "label", *QUICK, "--out", "run", cwd=root / "a")
    return root


def test_config_records_the_absolute_source_and_the_target(trained):
    config = tomllib.loads((trained / "a" / "run" / "config.toml").read_text())
    assert config["data"]["source"] == str(trained / "a" / "data.csv")
    assert config["data"]["target"] == "label"


def test_evaluate_and_plot_from_another_folder_use_the_runs_data(trained):
    run = trained / "a" / "run"
    here = cli("evaluate", "run", cwd=trained / "a").stdout
    elsewhere = cli("evaluate", run, cwd=trained / "b").stdout  # b has its own data.csv
    assert elsewhere == here
    test = json.loads((run / "metrics.json").read_text())["test"]["accuracy"]
    assert f"{100 * test:.2f}%" in elsewhere and test > 0.9
    cli("plot", run, "--out", "plots", cwd=trained / "b")
    assert (trained / "b" / "plots" / "boundary.png").is_file()


def test_config_from_another_folder_retrains_the_same_run(trained, tmp_path):
    run = trained / "a" / "run"
    cli("train", "--config", run / "config.toml", "--out", tmp_path / "again", "--no-plots",
        "-q", cwd=trained / "b")
    assert (tmp_path / "again" / "model.safetensors").read_bytes() == \
        (run / "model.safetensors").read_bytes()


def test_evaluate_on_a_new_file_scores_the_runs_target_column(trained):
    run = trained / "a" / "run"
    write_table(trained / "new.csv", seed=2)
    default = cli("evaluate", run, "new.csv", cwd=trained).stdout
    named = cli("evaluate", run, "new.csv", "--target", "label", cwd=trained).stdout
    assert default == named


def test_evaluate_on_a_file_without_the_runs_target_uses_its_last_column(trained):
    run = trained / "a" / "run"
    text = (trained / "a" / "data.csv").read_text().replace("x1,label,x2,other",
                                                            "x1,y,x2,other")
    (trained / "renamed.csv").write_text(text)
    proc = cli("evaluate", run, "renamed.csv", cwd=trained, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "label" in proc.stderr or "y" in proc.stderr


def test_a_run_without_target_records_the_last_column(tmp_path, monkeypatch):
    from torchclf.config import RunConfig
    from torchclf.experiment import pin_data
    write_table(tmp_path / "t.csv", seed=0)
    monkeypatch.chdir(tmp_path)
    pinned = pin_data(RunConfig().replace("data", source="t.csv"))
    assert (pinned.data.source, pinned.data.target) == (str(tmp_path / "t.csv"), "other")
    assert pin_data(RunConfig()) == RunConfig()  # a built-in dataset is left as named
