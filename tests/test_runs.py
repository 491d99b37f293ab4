"""Run directories: complete, atomic, reloadable with identical predictions, tamper-evident."""

import json

import numpy as np
import pytest

import torchclf as tc
from torchclf.errors import UserError
from torchclf.store.rundir import unique_run_dir

EXPECTED = {"config.toml", "model.safetensors", "model.json", "history.csv", "metrics.json",
            "boundary.png", "curves.png", "confusion.png", ".torchclf.json"}


def test_save_writes_every_file_and_reload_predicts_identically(trained_run, tmp_path):
    path = trained_run.save(tmp_path / "moons")
    assert {p.name for p in path.iterdir()} == EXPECTED
    for png in ("boundary.png", "curves.png", "confusion.png"):
        assert (path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    loaded = tc.load_run(path)
    grid = np.random.default_rng(0).uniform(-2, 3, size=(500, 2)).astype(np.float32)
    assert np.array_equal(loaded.predict_proba(grid), trained_run.predict_proba(grid))
    assert loaded.metrics == json.loads(json.dumps(trained_run.metrics))
    assert loaded.history["epoch"] == trained_run.history["epoch"]
    assert np.allclose(loaded.history["loss"], trained_run.history["loss"])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_model_json_records_what_prediction_needs(trained_run, tmp_path):
    path = trained_run.save(tmp_path / "r", plots=False)
    info = json.loads((path / "model.json").read_text())
    assert info["architecture"]["spec"]["hidden"] == [8, 8]
    assert info["task"] == "binary" and info["classes"] == [0, 1]
    assert info["feature_names"] == ["x1", "x2"]
    assert len(info["scaler"]["mean"]) == 2
    assert {"torch", "torchclf", "python"} <= set(info["versions"])


def test_string_labels_survive_the_round_trip(tmp_path):
    X = np.random.default_rng(0).normal(size=(60, 3))
    y = np.where(X[:, 0] > 0, "yes", "no")
    train, test = tc.from_arrays(X, y, ["a", "b", "c"]).split(seed=0)
    run = tc.fit(tc.MLP(3, (4,), 2, seed=0), train, test, epochs=50, lr=0.5)
    loaded = tc.load_run(run.save(tmp_path / "s", plots=False))
    assert loaded.predict(test.X).tolist() == run.predict(test.X).tolist()
    assert set(loaded.predict(test.X)) <= {"yes", "no"}


def test_resaving_replaces_the_run_whole(trained_run, tmp_path):
    path = trained_run.save(tmp_path / "r")
    trained_run.save(path, plots=False)
    assert not (path / "boundary.png").exists()  # the old run went, not merged
    assert [p.name for p in tmp_path.iterdir()] == ["r"]


def test_a_run_holding_a_users_file_is_never_replaced(trained_run, tmp_path):
    path = trained_run.save(tmp_path / "r", plots=False)
    (path / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="notes.txt"):
        trained_run.save(path, plots=False)
    assert (path / "notes.txt").read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir()] == ["r"]


def test_failed_save_leaves_the_old_run_and_no_temp_files(trained_run, tmp_path, monkeypatch):
    path = trained_run.save(tmp_path / "r", plots=False)
    before = {p.name: p.read_bytes() for p in path.iterdir()}

    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr("torchclf.store.rundir._write_history", boom)
    with pytest.raises(UserError, match=r"cannot write the run .* \(disk full\)"):
        trained_run.save(path, plots=False)
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["r"]


def test_unique_run_dir_never_reuses_a_name(tmp_path):
    (tmp_path / "moons").mkdir()
    (tmp_path / "moons-2").mkdir()
    assert unique_run_dir(tmp_path, "moons").name == "moons-3"


@pytest.mark.parametrize("damage,match", [
    (lambda p: (p / "model.safetensors").write_bytes(b"\x00" * 10), "corrupt or truncated"),
    (lambda p: (p / "model.safetensors").write_bytes((p / "model.safetensors").read_bytes()[:-20]),
     "corrupt or truncated"),
    (lambda p: (p / "model.json").write_text("{not json"), "corrupt"),
    (lambda p: (p / "model.json").unlink(), "missing"),
])
def test_damaged_model_files_give_clear_errors(trained_run, tmp_path, damage, match):
    path = trained_run.save(tmp_path / "r", plots=False)
    damage(path)
    with pytest.raises(UserError, match=match):
        tc.load_run(path)


def test_model_json_that_does_not_match_the_weights(trained_run, tmp_path):
    path = trained_run.save(tmp_path / "r", plots=False)
    info = json.loads((path / "model.json").read_text())
    info["architecture"]["spec"]["hidden"] = [16, 8]
    (path / "model.json").write_text(json.dumps(info))
    with pytest.raises(UserError, match="do not match"):
        tc.load_run(path)


def test_load_run_rebuilds_the_split(trained_run, tmp_path):
    run = tc.run_config(tc.RunConfig().replace("train", epochs=5))
    loaded = tc.load_run(run.save(tmp_path / "r", plots=False), with_data=True)
    assert np.array_equal(loaded.test.X, run.test.X)
    assert loaded.predictor.report(loaded.test) == run.metrics["test"]


def test_plotting_never_moves_copies_or_switches_the_model(trained_run):
    import torch
    model = trained_run.model
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ids = [id(p) for p in model.parameters()]
    try:
        trained_run.plot_boundary(resolution=40)
        assert model.training
        assert [id(p) for p in model.parameters()] == ids
        assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
        assert next(model.parameters()).device.type == "cpu"
    finally:
        model.eval()


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
@pytest.mark.parametrize("command", [["predict", "r", "points.csv"], ["evaluate", "r"]])
def test_weights_holding_nan_or_inf_are_refused(trained_run, tmp_path, bad, command):
    """A model.safetensors full of NaN used to predict class 0 for every row, exit 0."""
    import subprocess
    import sys
    from safetensors.torch import load_file, save_file
    path = trained_run.save(tmp_path / "r", plots=False)
    weights = path / "model.safetensors"
    state = load_file(str(weights))
    state[sorted(state)[0]].fill_(bad)
    save_file(state, str(weights))
    (tmp_path / "points.csv").write_text("x1,x2\n0.1,0.2\n")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    proc = subprocess.run([sys.executable, "-m", "torchclf", *command], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr + proc.stdout
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    kind = "NaN" if bad != bad else "inf"
    assert f"weights in r/model.safetensors hold {kind}" in proc.stderr
    assert "retrain" in proc.stderr and proc.stdout == ""
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
