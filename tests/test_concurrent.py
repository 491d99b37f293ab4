"""Many torchclf processes at once: each keeps its own run, and readers see whole runs.

Real processes, started together; nothing here depends on timing (every process is
waited for, and the reader's loop counts loads, not seconds).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

QUICK = ["--n-samples", "100", "--epochs", "5", "--no-plots", "-q", "--no-progress"]


def start(cwd, *args):
    return subprocess.Popen([sys.executable, "-m", "torchclf", *map(str, args)], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))


def finish(procs):
    results = [(p.wait(), *p.communicate()) for p in procs]
    for code, out, err in results:
        assert "Traceback" not in err, err
    return results


def saved_to(out):
    return [line.split("saved run to ", 1)[1] for line in out.splitlines()
            if line.startswith("saved run to ")]


def hidden(folder):
    return [p.name for p in Path(folder).iterdir() if p.name.startswith(".")]


def test_parallel_trains_with_the_default_name_each_keep_their_own_run(tmp_path):
    procs = [start(tmp_path, "train", "moons", "--seed", seed, *QUICK) for seed in range(4)]
    results = finish(procs)
    assert [code for code, _, _ in results] == [0] * 4, results
    paths = [saved_to(out)[0] for _, out, _ in results]
    assert len(set(paths)) == 4, paths
    runs = tmp_path / "runs"
    assert sorted(p.name for p in runs.iterdir()) == ["moons", "moons-2", "moons-3", "moons-4"]
    seeds = set()
    for path in paths:
        config = (tmp_path / path / "config.toml").read_text()
        seeds.add(next(line for line in config.splitlines() if line.startswith("seed")))
    assert len(seeds) == 4  # four different runs, not one run four times
    assert not [p for p in tmp_path.rglob("*.checkpoint.pt")]


def test_parallel_sweeps_with_the_default_name_each_keep_their_own_folder(tmp_path):
    procs = [start(tmp_path, "sweep", "moons", "--n-samples", "60", "--epochs", "2",
                   "--seeds", "1", "--lr", "0.1", "--no-progress") for _ in range(3)]
    results = finish(procs)
    assert [code for code, _, _ in results] == [0] * 3, results
    assert sorted(p.name for p in (tmp_path / "sweeps").iterdir()) == \
        ["moons", "moons-2", "moons-3"]


SAVER = """
import os, sys, time
from pathlib import Path
from torchclf.store.rundir import load_run, save_run
source, target, go, times = sys.argv[1:]
run = load_run(source)
Path(f"{target}.{os.getpid()}.ready").write_text("")
while not Path(go).exists():
    time.sleep(0.001)
for _ in range(int(times)):
    save_run(run, target, plots=False)
"""


def two_runs(tmp_path):
    """Two saved runs of one architecture (seeds 1 and 2), and their probabilities."""
    from torchclf.experiment import run_config
    from torchclf import config as cfg
    from torchclf.store.rundir import save_run
    points = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    expected = {}
    for seed in (1, 2):
        config = cfg.RunConfig().replace("data", source="moons", params={"n_samples": 100})
        config = config.replace("train", epochs=3, seed=seed).replace(name=f"s{seed}")
        run = run_config(config)
        save_run(run, tmp_path / f"s{seed}", plots=False)
        expected[seed] = run.predictor.predict_proba(points)
    assert not np.allclose(expected[1], expected[2])
    return points, expected


def test_concurrent_saves_to_one_folder_all_succeed_and_leave_one_whole_run(tmp_path):
    points, expected = two_runs(tmp_path)
    target, go = tmp_path / "out", tmp_path / "go"
    sources = [tmp_path / "s1", tmp_path / "s2", tmp_path / "s1", tmp_path / "s2"]
    procs = [subprocess.Popen([sys.executable, "-c", SAVER, source, target, go, "25"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for source in sources]
    while len(list(tmp_path.glob("out.*.ready"))) < 4:  # every process loaded: go at once
        assert all(p.poll() is None for p in procs)
    go.write_text("")
    for p in procs:
        _, err = p.communicate()
        assert p.returncode == 0, err  # never "Directory not empty", nothing raised
    assert hidden(tmp_path) == []  # no .out.PID.*.old or .tmp left behind
    from torchclf.store.rundir import load_run
    run = load_run(target)
    seed = run.config["train"]["seed"]
    np.testing.assert_array_equal(run.predictor.predict_proba(points), expected[seed])
    assert sorted(p.name for p in target.iterdir()) == [
        ".torchclf.json", "config.toml", "history.csv", "metrics.json", "model.json",
        "model.safetensors"]


WRITER = """
import sys
from pathlib import Path
from torchclf.store.rundir import load_run, save_run
a, b, target, started, stop = sys.argv[1:]
runs = [load_run(a), load_run(b)]
i = 0
while not Path(stop).exists():
    save_run(runs[i % 2], target, plots=False)
    i += 1
    if i == 2:
        Path(started).write_text("")
print(i)
"""


def test_a_reader_never_sees_half_of_a_run_being_resaved(tmp_path):
    from torchclf.store.rundir import load_run, save_run
    points, expected = two_runs(tmp_path)
    target, started, stop = tmp_path / "target", tmp_path / "started", tmp_path / "stop"
    save_run(load_run(tmp_path / "s1"), target, plots=False)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, tmp_path / "s1",
                               tmp_path / "s2", target, started, stop],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while not started.exists():
            assert writer.poll() is None, writer.communicate()
        seen = set()
        for _ in range(200):
            run = load_run(target)
            seed = run.config["train"]["seed"]
            np.testing.assert_allclose(run.predictor.predict_proba(points), expected[seed],
                                       rtol=0, atol=0)
            assert run.metrics == json.loads((tmp_path / f"s{seed}" / "metrics.json")
                                             .read_text())
            seen.add(seed)
    finally:
        stop.write_text("")
        out, err = writer.communicate()
    assert writer.returncode == 0, err
    assert int(out) > 2  # the writer kept re-saving while the reader read
    assert hidden(tmp_path) == []


def test_without_renameat2_saves_still_replace_whole(tmp_path, monkeypatch):
    """Where renameat2 is missing (not Linux, an old kernel or file system), two plain
    renames put the folder in place: re-saving still replaces the run whole."""
    from torchclf.store import swap
    from torchclf.store.rundir import load_run, save_run
    two_runs(tmp_path)
    monkeypatch.setattr(swap, "_RENAMEAT2", None)
    out = tmp_path / "out"
    out.mkdir()
    for seed in (1, 2, 1):
        run = load_run(tmp_path / f"s{seed}")
        save_run(run, out / "r", plots=False)
        assert load_run(out / "r").config["train"]["seed"] == seed
    assert [p.name for p in out.iterdir()] == ["r"]
