"""A read-only folder or a full disk: one line and exit 2, found before training where it
can be, and nothing half-written left behind.

The real faults need a tmpfs mounted read-only or tiny, which only root may do; without
it those tests are skipped (the reason is printed), and the in-process ones below still
run everywhere.
"""

import errno
import io
import os
import subprocess

import pytest

from torchclf.cli.main import main

QUICK = ["--n-samples", "100", "--epochs", "3", "--no-plots", "-q", "--no-progress"]


def run_cli(*args):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in args], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def one_line(code, err, needle):
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and needle in lines[0], err
    assert "Traceback" not in err


def tmpfs(folder, options):
    folder.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip() or 'not root'}): "
                    "the in-process tests cover the same paths")
    return folder


@pytest.fixture
def read_only(tmp_path):
    folder = tmpfs(tmp_path / "ro", "ro,size=64k")
    yield folder
    subprocess.run(["umount", str(folder)])


@pytest.fixture
def full_disk(tmp_path):
    folder = tmpfs(tmp_path / "full", "size=64k")
    try:
        with open(folder / "filler", "wb") as f:
            while True:
                f.write(b"x" * 4096)
                f.flush()
    except OSError as e:
        assert e.errno == errno.ENOSPC
    yield folder
    subprocess.run(["umount", str(folder)])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run") / "r"
    assert run_cli("train", "moons", *QUICK, "--out", folder)[0] == 0
    points = folder.parent / "points.csv"
    points.write_text("x1,x2\n0,0\n")
    return folder, points


def test_a_read_only_destination_is_refused_before_any_work(read_only, run, tmp_path):
    folder, points = run
    for argv in (["train", "moons", *QUICK, "--out", read_only / "r"],
                 ["train", "moons", *QUICK, "--runs-dir", read_only / "runs"],
                 ["train", "moons", *QUICK, "--checkpoint-every", "1", "--out",
                  read_only / "deeper" / "r"],
                 ["sweep", "moons", "--n-samples", "60", "--epochs", "2", "--seeds", "1",
                  "--no-progress", "--out", read_only / "s"],
                 ["predict", folder, points, "-o", read_only / "p.csv"],
                 ["plot", folder, "--out", read_only / "figures"]):
        code, out, err = run_cli(*argv)
        one_line(code, err, "read-only")
        assert "saved" not in out and "configurations" not in out  # before any work
    assert os.listdir(read_only) == []


def test_a_full_disk_at_the_save_is_one_line_and_leaves_nothing(full_disk):
    for argv in (["train", "moons", *QUICK, "--out", full_disk / "r"],
                 ["train", "moons", *QUICK, "--runs-dir", full_disk / "runs"],
                 ["train", "moons", *QUICK, "--checkpoint-every", "1", "--out",
                  full_disk / "c"],
                 ["sweep", "moons", "--n-samples", "60", "--epochs", "2", "--seeds", "1",
                  "--no-progress", "--out", full_disk / "s"]):
        code, _, err = run_cli(*argv)
        one_line(code, err, "No space left on device")
        assert os.listdir(full_disk) == ["filler"], argv


def test_a_full_disk_at_predict_and_plot_leaves_nothing(full_disk, run):
    folder, points = run
    code, _, err = run_cli("predict", folder, points, "-o", full_disk / "p.csv")
    one_line(code, err, "No space left on device")
    code, _, err = run_cli("plot", folder, "--out", full_disk / "figures")
    one_line(code, err, "No space left on device")
    assert os.listdir(full_disk) == ["filler"]


def disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_failed_write_after_training_is_one_line_in_process(tmp_path, monkeypatch):
    import torchclf.store.rundir as rundir
    import torchclf.atomic as atomic
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(rundir, "save_model", disk_full)
    code, _, err = run_cli("train", "moons", *QUICK)
    one_line(code, err, "No space left on device")
    assert os.listdir(tmp_path) == []  # no runs/ folder, no hidden temporary
    monkeypatch.setattr(atomic.os, "fsync", disk_full)
    code, _, err = run_cli("train", "moons", *QUICK, "--checkpoint-every", "1")
    one_line(code, err, "No space left on device")
    assert os.listdir(tmp_path) == []


def test_a_folder_without_write_permission_is_refused_in_process(tmp_path, monkeypatch):
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **k: False if mode & os.W_OK
                        else real(p, mode, **k))
    code, out, err = run_cli("train", "moons", *QUICK, "--out", tmp_path / "r")
    one_line(code, err, "cannot write")
    assert os.listdir(tmp_path) == []
