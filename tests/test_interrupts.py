"""Real signals to real processes: one line, an honest exit code, nothing left behind."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

ENV = dict(os.environ, OMP_NUM_THREADS="1")


def wait_for(condition, proc, what, timeout=120):
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"exited before {what}: {proc.communicate()}"
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.05)


def trial_states(db):
    try:
        with sqlite3.connect(db) as c:
            return [s for (s,) in c.execute("select state from trials")]
    except sqlite3.Error:  # not created yet
        return []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_tune_with_one_line_and_no_trial_left_running(sig, tmp_path):
    pytest.importorskip("optuna")
    db = tmp_path / "study.db"
    # a trial of 100,000 epochs would run for minutes: only the signal ends it in time
    proc = subprocess.Popen([sys.executable, "-m", "torchclf", "tune", "moons", "--n-samples",
                             "200", "--epochs", "100000", "--log-every", "1000", "--trials",
                             "50", "--storage", f"sqlite:///{db}"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    wait_for(lambda: "RUNNING" in trial_states(db), proc, "running trial")
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig
    assert err == "torchclf: interrupted\n"  # not Optuna's warning with a traceback
    assert trial_states(db) == ["FAIL"]  # recorded as failed, none left RUNNING, none new


def descendants(pid):
    """Every live process below ``pid``, from /proc (no psutil): {pid: start time}."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry)] = (int(fields[1]), fields[19])  # ppid, start time
    found, todo = {}, [pid]
    while todo:
        parent = todo.pop()
        for child, (ppid, start) in parents.items():
            if ppid == parent and child not in found:
                found[child] = start
                todo.append(child)
    return found


def alive(pid, start):
    """Is the process that had this pid and start time still running (not a zombie)?"""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[19] == start and fields[0] != "Z"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_nproc_2_ends_torchrun_and_every_rank(sig, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "torchclf", "train", "moons", "--epochs",
                             "1000000", "--log-every", "1", "--no-plots", "--nproc", "2",
                             "--out", "run"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)
    started = {}
    try:
        first = proc.stdout.readline()  # rank 0's first epoch line: every rank is training
        assert first.startswith("Epoch:"), proc.communicate()
        started = descendants(proc.pid)
        assert len(started) >= 3, started  # torchrun and two ranks
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 128 + sig, err
        assert err.strip() == "torchclf: interrupted" and "Traceback" not in err
        deadline = time.monotonic() + 60  # the CLI waited for them: they should be gone
        while any(alive(p, s) for p, s in started.items()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [p for p, s in started.items() if alive(p, s)], "a worker outlived the CLI"
        assert not (tmp_path / "run").exists()  # nothing saved after "interrupted"
    finally:  # a failing run leaves nothing training either
        for pid, start in {proc.pid: None, **started}.items():
            if start is None or alive(pid, start):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
