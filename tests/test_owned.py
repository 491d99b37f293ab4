"""Saving never destroys what torchclf did not create: user folders, files, stray paths."""

import io
import os
import stat
import subprocess
import sys

import pytest

from torchclf import config as cfg
from torchclf.cli.main import main
from torchclf.errors import UserError
from torchclf.experiment import run_config
from torchclf.store.owned import MARKER, check_destination, remove_stale_siblings
from helpers import InterruptAt
from torchclf.engine.loop import TrainingInterrupted

QUICK = ["--n-samples", "100", "--epochs", "3", "--no-plots", "-q", "--no-progress"]


def run_cli(*args):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in args], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def users_folder(path):
    path.mkdir()
    (path / "thesis.txt").write_text("four years of work")
    return path


def assert_refused(code, err, path, needle="not a torchclf"):
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in err, err
    assert (path / "thesis.txt").read_text() == "four years of work"
    assert sorted(p.name for p in path.iterdir()) == ["thesis.txt"]
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("ranks", [[], ["--nproc", "2"]])
def test_train_refuses_to_replace_a_users_folder(tmp_path, ranks):
    folder = users_folder(tmp_path / "thesis")
    code, _, err = run_cli("train", "moons", *QUICK, *ranks, "--out", folder)
    assert_refused(code, err, folder)
    assert "thesis.txt" in err


def test_recipes_run_refuses_to_replace_a_users_folder(tmp_path):
    folder = users_folder(tmp_path / "thesis")
    code, out, err = run_cli("recipes", "run", "blobs", "--out", folder, "-q", "--no-plots")
    assert_refused(code, err, folder)
    assert "Epoch" not in out  # refused before training, not after


@pytest.mark.parametrize("flag", ["--save-best", "--out"])
def test_sweep_refuses_to_replace_a_users_folder(tmp_path, flag):
    folder = users_folder(tmp_path / "thesis")
    code, out, err = run_cli("sweep", "moons", "--n-samples", 100, "--epochs", 3, "--seeds", 2,
                             "--no-progress", flag, folder)
    assert_refused(code, err, folder)
    assert "configuration" not in out  # refused before training


def test_tune_save_best_refuses_a_users_folder(tmp_path):
    pytest.importorskip("optuna")
    folder = users_folder(tmp_path / "thesis")
    code, _, err = run_cli("tune", "moons", "--trials", 1, "--epochs", 3, "--save-best", folder)
    assert_refused(code, err, folder)


def test_a_destination_read_from_a_checkpoint_passes_the_same_check(tmp_path):
    folder = users_folder(tmp_path / "thesis")
    ckpt = tmp_path / "run.checkpoint.pt"
    config = cfg.RunConfig().replace("data", params={"n_samples": 100}) \
        .replace("train", epochs=5)
    with pytest.raises(TrainingInterrupted):
        run_config(config, [InterruptAt(1)], checkpoint_path=ckpt, checkpoint_every=1,
                   checkpoint_extra={"out": str(folder)})
    code, _, err = run_cli("train", "--resume", ckpt, "-q", "--no-progress")
    assert code == 2 and "thesis.txt" in err
    assert (folder / "thesis.txt").read_text() == "four years of work"


def test_a_users_file_where_the_checkpoint_goes_is_refused(tmp_path):
    (tmp_path / "r.checkpoint.pt").write_text("my notes")
    code, _, err = run_cli("train", "moons", *QUICK, "--out", tmp_path / "r",
                           "--checkpoint-every", 1)
    assert code == 2 and "not a torchclf checkpoint" in err
    assert (tmp_path / "r.checkpoint.pt").read_text() == "my notes"
    assert not (tmp_path / "r").exists()


def test_retraining_into_its_own_run_and_into_an_empty_folder_works(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_cli("train", "moons", *QUICK, "--out", empty)[0] == 0
    assert (empty / "model.json").is_file() and (empty / MARKER).is_file()
    assert run_cli("train", "moons", *QUICK, "--out", empty, "--epochs", 4)[0] == 0
    assert "epochs = 4" in (empty / "config.toml").read_text()


def test_a_run_written_before_the_marker_existed_is_still_ours(tmp_path):
    run = tmp_path / "old"
    assert run_cli("train", "moons", *QUICK, "--out", run)[0] == 0
    (run / MARKER).unlink()
    assert run_cli("train", "moons", *QUICK, "--out", run)[0] == 0
    (run / MARKER).unlink()
    (run / "model.json").write_text('{"hand": "made"}')
    code, _, err = run_cli("train", "moons", *QUICK, "--out", run)
    assert code == 2 and "marker" in err


@pytest.mark.parametrize("make,needle", [
    (lambda p: p.write_text("x"), "is not a folder"),
    (lambda p: None, "not a new folder name"),
])
def test_odd_output_paths_are_refused(tmp_path, monkeypatch, make, needle):
    target = tmp_path / "file.txt"
    make(target)
    monkeypatch.chdir(tmp_path)
    out = target if target.exists() else "."
    code, _, err = run_cli("train", "moons", *QUICK, "--out", out)
    assert code == 2 and needle in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == (["file.txt"] if target.exists()
                                                          else [])


def test_the_current_folder_and_its_parents_are_refused(tmp_path, monkeypatch):
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    monkeypatch.chdir(inner)
    for path in (inner, inner.parent):
        with pytest.raises(UserError, match="current folder"):
            check_destination(path)


def test_plot_and_predict_never_overwrite_a_users_file(tmp_path):
    run = tmp_path / "r"
    assert run_cli("train", "moons", *QUICK, "--out", run)[0] == 0
    figures = tmp_path / "figures"
    figures.mkdir()
    (figures / "boundary.png").write_bytes(b"my own figure")
    code, _, err = run_cli("plot", run, "--out", figures)
    assert code == 2 and "boundary.png" in err
    assert (figures / "boundary.png").read_bytes() == b"my own figure"
    points = tmp_path / "points.csv"
    points.write_text("x1,x2\n0,0\n")
    code, _, err = run_cli("predict", run, points, "-o", figures)
    assert code == 2 and "is a folder" in err


def test_predict_output_replaces_only_its_own_predictions(tmp_path):
    run = tmp_path / "r"
    assert run_cli("train", "moons", *QUICK, "--out", run)[0] == 0
    points = tmp_path / "points.csv"
    points.write_text("x1,x2\n0,0\n1,0.5\n")
    mine = tmp_path / "results.csv"
    mine.write_text("x1,x2,label\n0,0,a\n")  # the user's own table
    for target, needle in [(mine, "not written by torchclf predict"),
                           (points, "is the input file"),
                           (run / "model.json", "not written by torchclf predict")]:
        before = target.read_bytes()
        code, out, err = run_cli("predict", run, points, "-o", target)
        assert code == 2 and needle in err and len(err.splitlines()) == 1, err
        assert target.read_bytes() == before
    out_file = tmp_path / "predictions.csv"
    assert run_cli("predict", run, points, "-o", out_file)[0] == 0
    first = out_file.read_text()
    assert first.splitlines()[0].startswith("x1,x2,predicted,proba_")
    assert run_cli("predict", run, points, "-o", out_file)[0] == 0  # its own: replaced
    assert out_file.read_text() == first


def test_plot_writes_nothing_when_drawing_fails(tmp_path, monkeypatch):
    """Every picture is drawn before a byte is written: a failure while drawing the
    second one leaves no folder and no first picture behind."""
    from torchclf import plots
    run = tmp_path / "r"
    assert run_cli("train", "moons", *QUICK, "--out", run)[0] == 0
    drawn, real = [], plots.png_bytes

    def fails_second(fig, dpi=100):
        drawn.append(fig)
        if len(drawn) == 2:
            raise MemoryError("out of memory while drawing")
        return real(fig, dpi)

    monkeypatch.setattr(plots, "png_bytes", fails_second)
    with pytest.raises(MemoryError):
        main(["plot", str(run), "--out", str(tmp_path / "new" / "figures")])
    assert len(drawn) == 2 and not (tmp_path / "new").exists()


@pytest.mark.parametrize("existing", [False, True])
def test_a_failed_write_of_several_files_removes_only_what_it_created(tmp_path, monkeypatch,
                                                                      existing):
    from torchclf.store import owned
    folder = tmp_path / "a" / "b"
    if existing:
        folder.mkdir(parents=True)
        (folder / "mine.txt").write_text("the user's")
        (folder / "two.png").write_bytes(b"old two")
    real, calls = owned.atomic_write_bytes, []

    def disk_full_at_third(path, data):
        calls.append(path)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(path, data)

    monkeypatch.setattr(owned, "atomic_write_bytes", disk_full_at_third)
    with pytest.raises(UserError, match="No space left on device"):
        owned.write_files(folder, {"one.png": b"1", "two.png": b"2", "three.png": b"3"})
    if existing:  # the user's file and the replaced one stay; the new one is gone
        assert sorted(os.listdir(folder)) == ["mine.txt", "two.png"]
        assert (folder / "two.png").read_bytes() == b"2"
    else:
        assert not (tmp_path / "a").exists()
    monkeypatch.setattr(owned, "atomic_write_bytes", real)
    assert owned.write_files(folder, {"one.png": b"1"}) == [folder / "one.png"]


@pytest.mark.parametrize("umask,folder_mode,file_mode", [(0o022, 0o755, 0o644),
                                                          (0o077, 0o700, 0o600)])
def test_run_folders_respect_the_umask(tmp_path, umask, folder_mode, file_mode):
    old = os.umask(umask)
    try:
        assert run_cli("train", "moons", *QUICK, "--out", tmp_path / "r")[0] == 0
    finally:
        os.umask(old)
    run = tmp_path / "r"
    assert stat.S_IMODE(run.stat().st_mode) == folder_mode
    for name in ("model.safetensors", "model.json", "config.toml", "history.csv"):
        assert stat.S_IMODE((run / name).stat().st_mode) == file_mode, name


def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_temporaries_of_a_killed_save_are_cleaned_and_nothing_else(tmp_path):
    stale = tmp_path / f".r.{dead_pid()}.abc123.tmp"
    stale.mkdir()
    (stale / MARKER).write_text('{"torchclf": "run"}')
    (stale / "model.json").write_text("{}")
    live = tmp_path / f".r.{os.getppid()}.def456.tmp"  # a process that is still running
    live.mkdir()
    (live / MARKER).write_text('{"torchclf": "run"}')
    lookalike = tmp_path / f".r.{dead_pid()}.ghi789.tmp"  # not ours: no marker
    lookalike.mkdir()
    (lookalike / "diary.txt").write_text("private")
    assert remove_stale_siblings(tmp_path / "r") == [stale]
    assert live.exists() and (lookalike / "diary.txt").exists()


def test_saving_again_cleans_up_after_a_save_killed_midway(tmp_path):
    script = ("import os, signal, torchclf.store.rundir as r\n"
              "def die(*a, **k): os.kill(os.getpid(), signal.SIGKILL)\n"
              "r._write_history = die\n"
              "from torchclf.cli.main import main\n"
              f"main(['train', 'moons', '--n-samples', '100', '--epochs', '3', '--no-plots',"
              f" '-q', '--out', {str(tmp_path / 'r')!r}])\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == -9
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".r.") and left[0].endswith(".tmp")
    assert run_cli("train", "moons", *QUICK, "--out", tmp_path / "r")[0] == 0
    assert [p.name for p in tmp_path.iterdir()] == ["r"]
