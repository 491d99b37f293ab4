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

