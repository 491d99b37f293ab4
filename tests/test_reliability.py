"""Bad input, divergence, interruption and resume: nothing is lost or half-written."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import torchclf as tc
from torchclf.errors import UserError
from torchclf.engine.callbacks import Callback
from helpers import DEEP, DIVERGING_LR, InterruptAt
from torchclf.engine.checkpoint import Checkpoint
from torchclf.engine.loop import TrainingInterrupted


def spirals():
    return tc.datasets.spirals(n_samples=300).split(seed=0)


def train_spirals(**kwargs):
    train, test = spirals()
    model = tc.MLP(2, (16, 16), 3, dropout=0.1, seed=1)
    run = tc.fit(model, train, test, optimizer="adam", lr=0.01, epochs=120, batch_size=64,
                 seed=1, log_every=20, standardize=True, **kwargs)
    return model, run


def test_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path):
    ref_model, ref_run = train_spirals()
    ckpt = tmp_path / "run.checkpoint.pt"
    with pytest.raises(TrainingInterrupted) as info:
        train_spirals(checkpoint_path=ckpt, checkpoint_every=25, callbacks=[InterruptAt(69)])
    assert info.value.epoch == 70 and info.value.checkpoint == ckpt
    resumed_model, resumed_run = train_spirals(resume=Checkpoint.load(ckpt))
    for p, q in zip(ref_model.parameters(), resumed_model.parameters()):
        assert torch.equal(p, q)
    assert resumed_run.history["loss"] == ref_run.history["loss"]
    assert resumed_run.metrics == ref_run.metrics


class PoisonAt(Callback):
    """Turns the weights to nan after one epoch, as a blown-up update would."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, state, row):
        if state.epoch == self.epoch:
            with torch.no_grad():
                for p in state.model.parameters():
                    p.fill_(float("nan"))


def test_divergence_keeps_the_last_good_checkpoint(tmp_path, moons_split):
    train, test = moons_split
    ckpt = tmp_path / "c.pt"
    with pytest.raises(tc.TrainingDiverged, match="diverged at epoch 35.*lower the learning"):
        tc.fit(tc.MLP(2, (8, 8), seed=0), train, test, epochs=100, checkpoint_path=ckpt,
               checkpoint_every=10, callbacks=[PoisonAt(34)], engine="autograd")
    saved = Checkpoint.load(ckpt)
    assert saved.epoch == 30
    assert all(torch.isfinite(v).all() for v in saved.model_state.values())
    assert all(np.isfinite(saved.history["loss"]))


def test_divergence_is_caught_without_log_points(moons_split):
    train, test = moons_split
    with pytest.raises(tc.TrainingDiverged, match=r"diverged at epoch \d+"):
        tc.fit(tc.MLP(2, DEEP, seed=0), train, test, lr=DIVERGING_LR, epochs=100_000)


@pytest.mark.parametrize("damage", [b"", b"garbage", None])
def test_tampered_or_truncated_checkpoint(tmp_path, damage):
    ckpt = tmp_path / "c.pt"
    with pytest.raises(TrainingInterrupted):
        train_spirals(checkpoint_path=ckpt, callbacks=[InterruptAt(3)])
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: len(data) // 2] if damage is None else damage)
    with pytest.raises(UserError, match="corrupt or not a torchclf checkpoint"):
        Checkpoint.load(ckpt)


def test_checkpoint_loading_refuses_pickled_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("touch pwned",))
    path = tmp_path / "evil.pt"
    torch.save({"format": "torchclf-checkpoint-1", "x": Evil()}, path)
    with pytest.raises(UserError):
        Checkpoint.load(path)
    assert not (tmp_path / "pwned").exists() and not os.path.exists("pwned")


@pytest.mark.parametrize("X,y,match", [
    ([[0.0, np.nan], [1.0, 2.0]], [0, 1], "non-finite value"),
    ([[0.0, np.inf], [1.0, 2.0]], [0, 1], "non-finite value"),
])
def test_non_finite_features_are_rejected(X, y, match):
    with pytest.raises(UserError, match=match):
        tc.from_arrays(X, y)


def test_degenerate_training_sets():
    one_class = tc.from_arrays([[0.0], [1.0], [2.0]], ["a", "a", "a"])
    with pytest.raises(UserError, match="at least 2 classes"):
        tc.fit(tc.MLP(1, (2,), 2), one_class, epochs=1)
    empty = tc.from_arrays(np.zeros((0, 2)), np.array([], dtype=int))
    with pytest.raises(UserError, match="empty"):
        tc.fit(tc.MLP(2, (2,), 2), empty, epochs=1)
    with pytest.raises(UserError, match="at least 2 samples"):
        tc.from_arrays([[0.0]], ["a"]).split()
    many_classes = tc.from_arrays(np.arange(3.0).reshape(-1, 1), ["a", "b", "c"])
    with pytest.raises(UserError, match="test split is empty"):
        many_classes.split()


def test_wrong_feature_count_at_predict(trained_run):
    with pytest.raises(UserError, match="expected 2 features"):
        trained_run.predict(np.zeros((3, 5)))
    with pytest.raises(UserError, match="nan or inf"):
        trained_run.predict(np.array([[np.nan, 0.0]]))


def test_run_names_cannot_escape_the_runs_folder():
    with pytest.raises(UserError, match="plain folder name"):
        tc.RunConfig(name="../../etc")


# One intra-op thread in all three runs alike: on 2 busy cores torch's thread pool made
# these tiny epochs twice as slow, and the runs compared still share every setting.
ONE_THREAD = dict(os.environ, OMP_NUM_THREADS="1")


def cli(*args, cwd):
    return subprocess.Popen([sys.executable, "-m", "torchclf", *map(str, args)], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=ONE_THREAD)


def test_sigterm_saves_a_checkpoint_and_resume_matches_an_uninterrupted_run(tmp_path):
    # SIGTERM goes as soon as the first checkpoint (epoch 5) is on disk, so the epochs
    # after it only need to outlast the 50 ms poll: 150 in all, not 800.
    # Dropout, Adam and shuffled mini-batches keep every kind of state a resume restores.
    common = ["--epochs", 150, "--batch-size", 64, "--optimizer", "adam", "--lr", 0.01,
              "--dropout", 0.1, "--log-every", 50, "--no-plots"]
    ref = cli("train", "spirals", *common, "--out", "ref", cwd=tmp_path)
    proc = cli("train", "spirals", *common, "--out", "cut", "--checkpoint-every", 5,
               cwd=tmp_path)
    ckpt = tmp_path / "cut.checkpoint.pt"
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert ckpt.exists(), proc.communicate()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err and "--resume" in err
    assert not (tmp_path / "cut").exists()  # no half-written run directory
    resumed = subprocess.run([sys.executable, "-m", "torchclf", "train", "--resume", ckpt,
                              "--no-plots"], cwd=tmp_path, capture_output=True, text=True,
                             timeout=300, env=ONE_THREAD)
    assert resumed.returncode == 0, resumed.stderr
    assert not ckpt.exists()
    ref.communicate(timeout=300)
    assert ref.returncode == 0
    assert (tmp_path / "cut" / "model.safetensors").read_bytes() == \
        (tmp_path / "ref" / "model.safetensors").read_bytes()
    assert (tmp_path / "cut" / "metrics.json").read_text() == \
        (tmp_path / "ref" / "metrics.json").read_text()


FILES = {
    "inf.csv": "a,b,y\n1,2,0\n2,inf,1\n4,5,0\n6,7,1\n",
    "dupes.csv": "a,a,y\n1,2,0\n2,3,1\n4,5,0\n6,7,1\n",
    "oneclass.csv": "a,b,y\n1,2,0\n2,3,0\n4,5,0\n",
    "onerow.csv": "a,b,y\n1,2,0\n",
    "empty.csv": "",
    "header.csv": "a,b,y\n",
    "malformed.csv": 'a,b,y\n1,2,0\n3,"4,1\n',
    "sheet.xlsx": "PK\x03\x04",
    "wrongfeatures.csv": "p,q\n1,2\n",
}


@pytest.mark.parametrize("argv,needle", [
    (["train", "inf.csv"], "infinite value in column 'b' at data row 2"),
    (["train", "dupes.csv"], "duplicate column names: a"),
    (["train", "oneclass.csv"], "only one class"),
    (["train", "onerow.csv"], "only one class"),
    (["train", "empty.csv"], "is empty"),
    (["train", "header.csv"], "no data rows"),
    (["train", "malformed.csv"], "cannot read"),
    (["train", "sheet.xlsx"], "unsupported file type"),
    (["train", "moons", "--test-size", "1.5"], "expected test_size > 0 and < 1"),
    (["train", "moons", "--dropout", "2"], "dropout"),
    (["train", "moons", "--optimizer", "adamm"], "did you mean 'adam'"),
    (["train", "moons", "--device", "tpu"], "unknown device"),
    (["train", "moons", "--task", "regression"], "unknown task 'regression'"),
    (["train", "--resume", "nope.pt"], "checkpoint not found"),
    (["train", "--resume", "sheet.xlsx"], "not a torchclf checkpoint"),
])
def test_cli_bad_input_matrix(tmp_path, argv, needle):
    for name, text in FILES.items():
        (tmp_path / name).write_text(text)
    before = set(os.listdir(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "torchclf", *argv], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert set(os.listdir(tmp_path)) == before  # nothing written, nothing half-written


def test_cli_predict_with_the_wrong_columns(tmp_path, trained_run):
    run_dir = trained_run.save(tmp_path / "run", plots=False)
    (tmp_path / "wrong.csv").write_text("p,q\n1,2\n")
    (tmp_path / "nan.csv").write_text("x1,x2\n1,nan\n")
    for name, needle in (("wrong.csv", "lacks the model's feature column(s) x1, x2"),
                         ("nan.csv", "missing value in column 'x2'")):
        proc = subprocess.run([sys.executable, "-m", "torchclf", "predict", run_dir,
                               tmp_path / name, "-o", tmp_path / "out.csv"],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and needle in proc.stderr, proc.stderr
        assert not (tmp_path / "out.csv").exists()
