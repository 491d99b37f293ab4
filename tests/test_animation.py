"""The boundary over time: boundary.gif from the CLI, from a Run and from a loaded run."""

from __future__ import annotations

import dataclasses
import io
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import torchclf as tc
from torchclf import recipes
from torchclf.animation import BoundarySnapshots, Frame, boundary_gif, frame_title, thin
from torchclf.experiment import run_config

SMALL = {"n_samples": 200}


def moons(epochs: int, log_every: int | None = 10, engine: str = "auto", **params):
    config = recipes.load("moons")
    config = config.replace("data", params={**config.data.params, **params})
    return config.replace("train", epochs=epochs, log_every=log_every, engine=engine)


def recorded(config):
    snapshots = BoundarySnapshots()
    return run_config(config, [snapshots]), snapshots.frames


def frames_of(gif: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(gif))
    assert image.format == "GIF"
    return image


@pytest.mark.parametrize("engine", ["fast", "autograd"])
def test_a_frame_holds_the_weights_of_a_run_stopped_at_its_epoch(engine):
    run, frames = recorded(moons(30, engine=engine, **SMALL))
    assert [f.epoch for f in frames] == [0, 10, 20, 29]  # the lesson's log points
    stopped, _ = recorded(moons(11, engine=engine, **SMALL))  # epochs 0..10
    for frame, reference in ((frames[1], stopped), (frames[-1], run)):
        state = reference.model.state_dict()
        assert all(torch.equal(frame.state[k], state[k]) for k in state), frame.epoch
    assert not all(torch.equal(frames[0].state[k], state[k]) for k in state)  # it moved


def test_the_gif_has_a_titled_frame_per_log_point_in_order():
    run, frames = recorded(moons(40, **SMALL))
    image = frames_of(boundary_gif(run, frames, dpi=20, resolution=20))
    assert image.n_frames == len(frames) == 5
    assert image.info["loop"] == 0
    titles = [frame_title(run, f, run.predictor.predict_proba) for f in frames[-1:]]
    train, test = (100 * run.metrics[s]["accuracy"] for s in ("train", "test"))
    assert titles == [f"moons | Epoch 39 | train acc {train:.1f}% | test acc {test:.1f}%"]


def test_frames_are_thinned_evenly_keeping_the_first_and_last():
    many = [Frame(e, {}) for e in range(0, 1000, 3)]
    kept = [f.epoch for f in thin(many, 50)]
    assert len(kept) == 50 and kept[0] == 0 and kept[-1] == many[-1].epoch
    assert kept == sorted(kept)
    steps = np.diff(kept)
    assert steps.max() - steps.min() <= 3  # even, up to rounding to a log point
    assert thin(many[:7], 50) == many[:7]
    with pytest.raises(tc.UserError, match="max_frames"):
        thin(many, 1)


def test_1000_epochs_of_moons_fit_in_2_mb():
    run, frames = recorded(moons(1000, log_every=100))
    gif = boundary_gif(run, frames)
    assert frames_of(gif).n_frames == 11
    assert len(gif) <= 2_000_000


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "torchclf", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_cli_animate_writes_the_gif_inside_the_run_and_a_loaded_run_redraws_it(tmp_path):
    proc = cli("train", "moons", "--n-samples", 200, "--epochs", 40, "--log-every", 10,
               "--animate", "--max-frames", 3, "-q", "--out", "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    gif = (tmp_path / "run" / "boundary.gif").read_bytes()
    assert frames_of(gif).n_frames == 3
    assert (tmp_path / "run" / "boundary.png").exists()
    # trained again from config.toml: same weights, so the same picture
    loaded = tc.load_run(tmp_path / "run")
    again = loaded.animate_boundary(tmp_path / "again.gif", max_frames=3)
    assert again.read_bytes() == gif


def test_cli_animate_refuses_what_it_cannot_record_before_writing(tmp_path):
    for flags, needle in ((["--nproc", 2], "--animate records the boundary in one process"),
                          (["--max-frames", 1], "max_frames")):
        proc = cli("train", "moons", "--epochs", 5, "--animate", *flags, "--out", "run",
                   cwd=tmp_path)
        assert proc.returncode == 2
        assert proc.stderr.startswith("torchclf: error: ") and needle in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
        assert list(tmp_path.iterdir()) == []


def test_cli_animate_refuses_a_resumed_run_whose_first_epochs_are_gone(tmp_path):
    from helpers import InterruptAt
    from torchclf.engine.loop import TrainingInterrupted
    with pytest.raises(TrainingInterrupted):
        run_config(moons(20, **SMALL), [InterruptAt(5)], checkpoint_path=tmp_path / "c.pt")
    proc = cli("train", "--resume", "c.pt", "--epochs", 20, "--animate", "--out", "run",
               cwd=tmp_path)
    assert proc.returncode == 2 and "drop --animate" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt"]


def test_nothing_to_animate_is_a_clear_error(tmp_path):
    run = tc.run_config(moons(5, **SMALL))
    with pytest.raises(tc.UserError, match="no log points to animate.*--log-every"):
        run.animate_boundary(tmp_path / "b.gif", recorded=[])
    without_data = tc.Run.of(dataclasses.replace(run, train=None, test=None))
    with pytest.raises(tc.UserError, match="with_data=True"):
        without_data.animate_boundary(tmp_path / "b.gif", recorded=[Frame(0, {})])
    ds = tc.datasets.make("moons", n_samples=100, noise=0.1, seed=3).split(0.2, seed=0)
    model = tc.MLP(2, (4,), 2, seed=123)  # not the model the config describes
    fitted = tc.fit(model, *ds, epochs=5, log_every=2)
    with pytest.raises(tc.UserError, match="recorded="):
        fitted.animate_boundary(tmp_path / "b.gif")
    assert list(tmp_path.iterdir()) == []


def test_frames_recorded_during_fit_need_no_second_training(tmp_path):
    train, test = tc.datasets.make("moons", n_samples=100, noise=0.1, seed=3).split(0.2, seed=0)
    snapshots = tc.BoundarySnapshots()
    run = tc.fit(tc.MLP(2, (4,), 2, seed=1), train, test, epochs=9, log_every=4,
                 callbacks=[snapshots])
    path = run.animate_boundary(tmp_path / "b.gif", recorded=snapshots.frames)
    assert Image.open(path).n_frames == 3  # epochs 0, 4, 8
