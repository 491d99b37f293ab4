"""Optuna search: workers share one storage, pruning is wired, the best trial reproduces."""

import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from torchclf.config import DataConfig, RunConfig  # noqa: E402
from torchclf.scale.tune import PruneCallback, best_config, open_study, optimize, validation_score  # noqa: E402

BASE = RunConfig(name="moons", data=DataConfig(source="moons",
                                               params={"n_samples": 300, "noise": 0.2}))
BASE = BASE.replace("train", epochs=100, log_every=20, optimizer="adam")


def worker(cwd, storage, trials):
    return subprocess.Popen([sys.executable, "-m", "torchclf", "tune", "moons", "--n-samples",
                             "300", "--noise", "0.2", "--epochs", "100", "--log-every", "20",
                             "--trials", str(trials), "--storage", storage, "--study-name",
                             "shared"], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_two_workers_share_one_sqlite_study(tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    procs = [worker(tmp_path, storage, 4) for _ in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        assert "study shared" in out
    study = optuna.load_study(study_name="shared", storage=storage)
    assert len(study.trials) == 8
    assert {t.state.name for t in study.trials} <= {"COMPLETE", "PRUNED"}


def test_best_trial_reproduces_its_score():
    study = open_study("repro", None, seed=0)
    optimize(study, BASE, trials=4)
    config = best_config(study)
    assert validation_score(config) == study.best_value


class FakeTrial:
    def __init__(self, prune):
        self.prune, self.reports = prune, []

    def report(self, value, step):
        self.reports.append((step, value))

    def should_prune(self):
        return self.prune


class State:
    epoch = 40


def test_prune_callback_reports_and_prunes():
    keep = FakeTrial(prune=False)
    PruneCallback(keep).on_log(State(), {"test_accuracy": 0.75})
    assert keep.reports == [(40, 0.75)]
    with pytest.raises(optuna.TrialPruned):
        PruneCallback(FakeTrial(prune=True)).on_log(State(), {"test_accuracy": 0.5})


def test_pruning_happens_in_a_real_study():
    study = open_study("prune", None, seed=1)
    base = BASE.replace("train", epochs=200, log_every=10)
    optimize(study, base, trials=14)
    states = [t.state.name for t in study.trials]
    assert states.count("PRUNED") >= 1, states


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres():
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not (initdb and pg_ctl and shutil.which("runuser")):
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) on this machine")
    pytest.importorskip("psycopg")
    root = Path(tempfile.mkdtemp())
    shutil.chown(root, "nobody")
    port = free_port()
    as_nobody = ["runuser", "-u", "nobody", "--"]
    if subprocess.run([*as_nobody, initdb, "-D", root / "data", "-A", "trust", "-U",
                       "postgres"], capture_output=True).returncode != 0:
        pytest.skip("initdb could not create a cluster here")
    started = subprocess.run([*as_nobody, pg_ctl, "-D", root / "data", "-o",
                              f"-p {port} -k {root} -h 127.0.0.1", "-l", root / "log", "-w",
                              "start"], capture_output=True)
    if started.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip("the PostgreSQL server did not start here")
    try:
        subprocess.run([sys.executable, "-c", f"import psycopg; c = psycopg.connect("
                        f"host='127.0.0.1', port={port}, user='postgres', dbname='postgres'); "
                        "c.autocommit = True; c.cursor().execute('create database study')"],
                       check=True, capture_output=True)
        yield f"postgresql://postgres@127.0.0.1:{port}/study"
    finally:
        subprocess.run([*as_nobody, pg_ctl, "-D", root / "data", "-m", "fast", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def test_workers_share_a_postgresql_study(postgres, tmp_path):
    procs = [worker(tmp_path, postgres, 2) for _ in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    study = optuna.load_study(study_name="shared", storage=postgres)
    assert len(study.trials) == 4
    assert validation_score(best_config(study)) == study.best_value


def test_unreachable_storage_is_one_clear_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "torchclf", "tune", "moons", "--trials", "1",
                           "--storage", "nosuchdb:///x"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and "cannot open storage" in proc.stderr
    assert "Traceback" not in proc.stderr
