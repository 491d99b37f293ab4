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


def tune(cwd, *flags):
    return subprocess.run([sys.executable, "-m", "torchclf", "tune", *map(str, flags),
                           "--trials", "1", "--epochs", "5", "--log-every", "5",
                           "--storage", f"sqlite:///{cwd / 'study.db'}", "--study-name", "s"],
                          cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("other,needle", [
    (["moons", "--n-samples", "200", "--noise", "0.3"],
     "data.params.noise is 0.2 in the study, 0.3 here"),
    (["circles", "--n-samples", "200", "--noise", "0.2"],
     "data.source is 'moons' in the study, 'circles' here"),
    (["moons", "--n-samples", "200", "--noise", "0.2", "--optimizer", "sgd"],
     "train.optimizer is 'adam' in the study, 'sgd' here"),
])
def test_a_study_refuses_other_data_or_settings(tmp_path, other, needle):
    first = tune(tmp_path, "moons", "--n-samples", 200, "--noise", 0.2)
    assert first.returncode == 0, first.stderr
    proc = tune(tmp_path, *other, "--save-best", "best")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "study 's' was created for other data or settings" in lines[0]
    assert needle in lines[0] and "another --study-name" in lines[0]
    assert not (tmp_path / "best").exists()
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path / 'study.db'}")
    assert len(study.trials) == 1  # nothing trained on the other data
    again = tune(tmp_path, "moons", "--n-samples", 200, "--noise", 0.2)
    assert again.returncode == 0, again.stderr  # the study's own settings still join


def test_a_study_of_a_table_records_its_absolute_path_and_target(tmp_path):
    for folder, flip in (("a", False), ("b", True)):
        (tmp_path / folder).mkdir()
        rows = [f"{i / 50:.2f},{(i % 7) / 7:.2f},{int((i % 2 == 0) != flip)}"
                for i in range(100)]
        (tmp_path / folder / "data.csv").write_text("u,v,y\n" + "\n".join(rows) + "\n")
    storage = tmp_path / "a" / "study.db"
    first = tune(tmp_path / "a", "data.csv")
    assert first.returncode == 0, first.stderr
    (tmp_path / "b" / "study.db").symlink_to(storage)
    proc = tune(tmp_path / "b", "data.csv")  # the same name, another file
    assert proc.returncode == 2 and f"data.source is '{tmp_path / 'a' / 'data.csv'}'" \
        in proc.stderr, proc.stderr
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{storage}")
    assert study.user_attrs["torchclf"]["data"]["target"] == "y"


def test_a_study_without_a_record_but_with_trials_is_refused():
    from torchclf.errors import UserError
    study = open_study("old", None)
    study.optimize(lambda trial: 0.5, n_trials=1)  # as an older torchclf left it
    with pytest.raises(UserError, match="does not record the data and settings"):
        optimize(study, BASE, trials=1)
    assert len(study.trials) == 1
