"""Every user mistake on the command line: exit 2, one line naming it, nothing written.

Flags out of range or of the wrong type, paths that are a file where a folder is wanted
(and the reverse), config files with wrong types, run directories whose files were edited
by hand, and ``--resume`` with flags that would change the checkpoint's run. Most cases
call the CLI's ``main`` in-process (fast); a few run real subprocesses for the exit code
and stderr a shell sees.
"""

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from torchclf.cli.main import main
from torchclf.engine.loop import TrainingInterrupted
from torchclf.experiment import run_config
from helpers import InterruptAt

QUICK = ["--n-samples", "100", "--no-plots", "-q", "--no-progress"]
TRAIN = ["train", "moons", *QUICK, "--epochs", "3"]


def invoke(argv, capsys):
    """(exit code, stdout, stderr) of the CLI run in-process, argparse's own exits too."""
    out, err = io.StringIO(), io.StringIO()
    try:
        code = main([str(a) for a in argv], out=out, err=err)
    except SystemExit as e:
        code = e.code
    captured = capsys.readouterr()
    return code, out.getvalue() + captured.out, err.getvalue() + captured.err


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.stat().st_size if p.is_file() else None
            for p in folder.rglob("*")}


def assert_refused(argv, needle, folder, capsys):
    """Exit 2, exactly one stderr line ``torchclf...: error: ...needle...``, no file touched."""
    before = snapshot(folder)
    code, _, err = invoke(argv, capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("torchclf") and ": error: " in lines[0], err
    assert needle in lines[0], err
    assert snapshot(folder) == before
    return lines[0]


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """A small trained run directory, copied fresh into each test that edits it."""
    root = tmp_path_factory.mktemp("mistakes")
    code = main(["train", "moons", *QUICK, "--epochs", "5", "--out", str(root / "run")],
                out=io.StringIO(), err=io.StringIO())
    assert code == 0
    return root / "run"


@pytest.fixture
def work(tmp_path, monkeypatch, saved_run):
    """A working folder holding a copy of the run, a points file, a file and a folder."""
    shutil.copytree(saved_run, tmp_path / "run")
    (tmp_path / "points.csv").write_text("x1,x2\n0.1,0.2\n")
    (tmp_path / "afile").write_text("not a folder")
    (tmp_path / "adir").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


# -- flags ----------------------------------------------------------------------------------

@pytest.mark.parametrize("flags,needle", [
    (["--epochs", "-1"], "expected epochs >= 1 and <= 10,000,000, got -1"),
    (["--epochs", "0"], "expected epochs >= 1"),
    (["--epochs", "1e3"], "argument --epochs: expected a whole number, got '1e3'"),
    (["--epochs", str(2**70)], "expected epochs >= 1 and <= 10,000,000"),
    (["--seed", "abc"], "argument --seed: expected a whole number, got 'abc'"),
    (["--seed", str(2**70)], "expected seed >= 0 and <= 2**63-1"),
    (["--n-samples", "0"], "expected n_samples >= 2"),
    (["--n-samples", "-5"], "expected n_samples >= 2"),
    (["--n-samples", str(10**12)], "expected n_samples >= 2 and <= 10,000,000"),
    (["--batch-size", "0"], "expected batch_size >= 1"),
    (["--batch-size", str(10**30)], "expected batch_size >= 1 and <= 1,000,000,000"),
    (["--lr", "nan"], "expected lr to be a finite number"),
    (["--weight-decay", "nan"], "expected weight_decay to be a finite number"),
    (["--weight-decay", "-1"], "expected weight_decay >= 0"),
    (["--weight-decay", "inf"], "expected weight_decay to be a finite number"),
    (["--momentum", "nan"], "expected momentum to be a finite number"),
    (["--hidden", "0"], "expected hidden sizes >= 1"),
    (["--hidden", "-3"], "expected hidden sizes >= 1"),
    (["--hidden", "abc"], "expected hidden sizes like '8,8' (integers), got 'abc'"),
    (["--hidden", "200000000"], "expected hidden >= 1 and <= 65,536"),
    (["--test-size", "nan"], "expected test_size to be a finite number"),
    (["--param", "n_classes=abc"], "expected n_classes to be an integer"),
    (["--runs-dir", ""], "expected runs_dir not empty"),
    (["--runs-dir", "  "], "expected runs_dir not empty"),
])
def test_bad_training_flags(work, capsys, flags, needle):
    assert_refused([*TRAIN, *flags], needle, work, capsys)


# -- paths: a file where a folder is wanted, the reverse, the current folder, nothing ------

@pytest.mark.parametrize("argv,needle", [
    ([*TRAIN, "--out", "afile"], "afile exists and is not a folder"),
    ([*TRAIN, "--out", "afile/sub"], "afile is a file, so afile/sub cannot be created"),
    ([*TRAIN, "--out", "."], "'.' is not a new folder name"),
    ([*TRAIN, "--out", ".."], "'..' is not a new folder name"),
    ([*TRAIN, "--out", ""], "argument --out: expected a path, got an empty string"),
    ([*TRAIN, "--runs-dir", "afile"], "afile is a file, so afile/moons cannot be created"),
    (["train", "", *QUICK], "argument source: expected a path"),
    (["train", "--config", "", *QUICK], "argument --config: expected a path"),
    (["train", "--config", "adir", *QUICK], "cannot read config file adir"),
    (["predict", "run", "points.csv", "-o", "adir"], "adir is a folder: give a file name"),
    (["predict", "run", "points.csv", "-o", "."], ". is a folder: give a file name"),
    (["predict", "run", "points.csv", "-o", "afile/x.csv"], "afile is a file, so"),
    (["predict", "run", "points.csv", "-o", ""], "argument --output/-o: expected a path"),
    (["predict", "", "points.csv"], "argument run: expected a path"),
    (["predict", "points.csv", "points.csv"], "run directory not found: points.csv"),
    (["predict", "run", "adir"], "unsupported file type"),
    (["evaluate", "run", ""], "argument data: expected a path"),
    (["plot", "run", "--out", "afile"], "afile is a file: give --out a folder"),
    (["plot", "run", "--out", "afile/sub"], "afile is a file, so afile/sub"),
    (["plot", "run", "--out", ""], "argument --out: expected a path"),
    (["sweep", "moons", "--n-samples", "100", "--epochs", "3", "--out", "afile"],
     "afile exists and is not a folder: choose a new folder for the sweep"),
    (["sweep", "moons", "--n-samples", "100", "--epochs", "3", "--out", "."],
     "'.' is not a new folder name"),
    (["sweep", "moons", "--n-samples", "100", "--epochs", "3", "--save-best", "afile"],
     "afile exists and is not a folder"),
    (["tune", "moons", "--n-samples", "100", "--save-best", ""], "argument --save-best"),
    (["recipes", "run", "moons", "--out", "."], "'.' is not a new folder name"),
])
def test_bad_paths(work, capsys, argv, needle):
    assert_refused(argv, needle, work, capsys)


# -- config files ---------------------------------------------------------------------------

@pytest.mark.parametrize("text,needle", [
    ('[train]\nepochs = "ten"\n', "expected epochs to be an integer >= 1 and <= 10,000,000, "
                                  "got 'ten' in c.toml [train]"),
    ('[train]\nepochs = 3.0\n', "expected epochs to be an integer"),
    ('[train]\nepochs = 1e400\n', "expected epochs to be an integer"),
    ('[train]\nlr = [1]\n', "expected lr to be a finite number > 0 and <= 1000, got [1]"),
    ('[train]\nlr = nan\n', "expected lr to be a finite number"),
    ('[train]\nseed = true\n', "expected seed to be an integer"),
    ('[model]\nhidden = "x"\n', "expected hidden to be a list of integers"),
    ('[model]\nhidden = [200000000]\n', "expected hidden >= 1 and <= 65,536"),
    ('bogus = 1\n', "unknown key in c.toml 'bogus'"),
    ('[train]\nbogus = 1\n', "unknown key in c.toml [train] 'bogus'"),
    ('training = "x"\n', "did you mean 'train'?"),
    ('train = "x"\n', "expected a [train] table in c.toml, got 'x'"),
    ('[train\nepochs=3', "c.toml is not valid TOML"),
    ('name = 5\n', "expected name to be a string, got 5 in c.toml"),
    ('[data]\nsource = ""\n', "expected source not empty"),
    ('[data]\nparams = 5\n', "expected params to be a table"),
    ('[data.params]\nn_samples = "many"\n', "expected n_samples to be an integer"),
])
def test_bad_config_files(work, capsys, text, needle):
    (work / "c.toml").write_text(text)
    assert_refused(["train", "--config", "c.toml", *QUICK], needle, work, capsys)


# -- a run directory edited by hand -----------------------------------------------------------

def edit(keys, value=None, delete=False):
    def apply(info):
        for k in keys[:-1]:
            info = info[k]
        if delete:
            del info[keys[-1]]
        else:
            info[keys[-1]] = value
    return apply


HIDDEN = ["architecture", "spec", "hidden"]
BAD_MODEL_JSON = [
    (edit(HIDDEN, "abc"), "'architecture.spec.hidden' must be a list of integers >= 1 and "
                          "<= 65,536 (at most 64 of them), got 'abc'"),
    (edit(HIDDEN, [200000000]), "'architecture.spec.hidden' must be a list of integers"),
    (edit(HIDDEN, [100000, 100000]), "got [100000, 100000]"),
    (edit(HIDDEN, [8.5, 8]), "got [8.5, 8]"),
    (edit(HIDDEN, [True, 8]), "got [True, 8]"),
    (edit(HIDDEN, None), "'architecture.spec.hidden' must be a list of integers"),
    (edit(HIDDEN, delete=True), "'architecture.spec.hidden' is missing"),
    (edit(HIDDEN, [8, 9]), "weights in run/model.safetensors do not match model.json"),
    (edit(HIDDEN, [65536] * 64), "weights in run/model.safetensors do not match"),
    (edit(["architecture", "spec", "activation"], "swish"),
     "'architecture.spec.activation' must be one of relu"),
    (edit(["architecture", "spec", "dropout"], None), "'architecture.spec.dropout' must be"),
    (edit(["architecture", "spec", "in_features"], -1),
     "'architecture.spec.in_features' must be an integer >= 1 and <= 1,000,000, got -1"),
    (edit(["architecture", "spec", "in_features"], 200000000), "got 200000000"),
    (edit(["architecture", "spec", "in_features"], 3),
     "'feature_names' must be a list of 3 distinct column names"),
    (edit(["architecture", "spec", "out_features"], 2),
     "'architecture.spec.out_features' must be 1 for 2 classes (binary), got 2"),
    (edit(["architecture", "spec", "bogus"], 1), "unknown key in 'architecture.spec' 'bogus'"),
    (edit(["architecture", "n_classes"], 200000000), "'architecture.n_classes' must be"),
    (edit(["architecture", "task"], "regression"), "'architecture.task' must be one of"),
    (edit(["architecture"], None), "'architecture' is missing"),
    (edit(["architecture", "spec"], []), "'architecture.spec' must be a table"),
    (edit(["task"], "multiclass"), "'task' must be 'binary', as 'architecture.task' says"),
    (edit(["classes"], "01"), "'classes' must be a list of 2 distinct labels"),
    (edit(["classes"], [0, 0]), "'classes' must be a list of distinct labels"),
    (edit(["classes"], [None, 1]), "'classes' must be a list of 2 distinct labels"),
    (edit(["classes"], delete=True), "'classes' must be a list of 2"),
    (edit(["feature_names"], [1, 2]), "'feature_names' must be a list of 2"),
    (edit(["feature_names"], ["a", "a"]), "'feature_names' must be a list of distinct"),
    (edit(["scaler"], {"mean": [0], "scale": [1]}), "'scaler.mean' must be a list of 2 finite"),
    (edit(["scaler"], {"mean": [0, 0], "scale": [0, 1]}), "'scaler.scale' must be a list of 2 "
                                                          "numbers > 0"),
    (edit(["scaler"], 5), "'scaler' must be a table"),
    (edit(["estimator"], 5), "'estimator' must be a table"),
    (edit(["extra_key"], 1), "unknown key at the top level 'extra_key'"),
    (edit(["format_version"], 99), "run/model.json was written by a newer torchclf"),
    (edit(["format_version"], "1"), "'format_version' must be 1"),
]


@pytest.fixture
def no_big_layers(monkeypatch):
    """Fail the test if any real (not meta-device) layer over 10M weights is created."""
    original = torch.nn.Linear.__init__

    def guarded(self, in_features, out_features, *args, **kwargs):
        if torch.get_default_device().type != "meta":
            assert in_features * out_features <= 10**7, "a huge layer was allocated"
        original(self, in_features, out_features, *args, **kwargs)
    monkeypatch.setattr(torch.nn.Linear, "__init__", guarded)


@pytest.mark.parametrize("change,needle", BAD_MODEL_JSON)
def test_hand_edited_model_json_is_refused_before_any_weights_exist(work, capsys, no_big_layers,
                                                                      change, needle):
    path = work / "run" / "model.json"
    info = json.loads(path.read_text())
    change(info)
    path.write_text(json.dumps(info))
    line = assert_refused(["predict", "run", "points.csv"], needle, work, capsys)
    assert "run/model" in line


@pytest.mark.parametrize("command", [["evaluate", "run"], ["plot", "run", "--out", "plots"]])
@pytest.mark.parametrize("change,needle", [BAD_MODEL_JSON[1], BAD_MODEL_JSON[20]])
def test_evaluate_and_plot_check_model_json_too(work, capsys, no_big_layers, command, change,
                                                needle):
    path = work / "run" / "model.json"
    info = json.loads(path.read_text())
    change(info)
    path.write_text(json.dumps(info))
    assert_refused(command, needle, work, capsys)


@pytest.mark.parametrize("damage,command,needle", [
    (lambda run: (run / "config.toml").unlink(), ["evaluate", "run"],
     "run/config.toml is missing, so the run's data cannot be rebuilt"),
    (lambda run: (run / "config.toml").unlink(), ["plot", "run", "--out", "plots"],
     "run/config.toml is missing"),
    (lambda run: (run / "config.toml").write_text("[train]\nepochs = -3\n"), ["evaluate", "run"],
     "expected epochs >= 1 and <= 10,000,000, got -3 in run/config.toml [train]"),
    (lambda run: (run / "metrics.json").write_text("{nope"), ["evaluate", "run"],
     "cannot read run/metrics.json"),
    (lambda run: (run / "metrics.json").write_text("[1]"), ["evaluate", "run"],
     "run/metrics.json does not hold a table of metrics"),
    (lambda run: (run / "history.csv").write_text("epoch,loss\n1,abc\n"), ["evaluate", "run"],
     "cannot read run/history.csv"),
    (lambda run: (run / "history.csv").write_text("epoch,loss\n1\n"), ["evaluate", "run"],
     "line 2 has 1 cells, not 2"),
    (lambda run: (run / "model.json").write_text("null"), ["predict", "run", "points.csv"],
     "run/model.json is not a torchclf model description"),
    (lambda run: (run / "model.safetensors").write_bytes(b"\0" * 8),
     ["predict", "run", "points.csv"], "cannot read weights run/model.safetensors"),
    (lambda run: (run / "model.safetensors").unlink(), ["predict", "run", "points.csv"],
     "missing weights file run/model.safetensors"),
])
def test_damaged_run_files(work, capsys, damage, command, needle):
    damage(work / "run")
    assert_refused(command, needle, work, capsys)


# -- --resume with other flags: applied or refused, never ignored ----------------------------

@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A checkpoint of a 100-epoch moons run interrupted after epoch 51 (as the CLI
    writes it: its run goes to ``out``)."""
    import torchclf.config as cfg
    root = tmp_path_factory.mktemp("resume")
    config = cfg.RunConfig(name="moons").replace("data", params={"n_samples": 100}) \
        .replace("train", epochs=100, batch_size=40)
    path = root / "out.checkpoint.pt"
    with pytest.raises(TrainingInterrupted):
        run_config(config, [InterruptAt(50)], checkpoint_path=path, checkpoint_every=10,
                   checkpoint_extra={"out": "out"})
    return path


@pytest.fixture
def ckpt(work, checkpoint):
    shutil.copy(checkpoint, work / "ck.pt")
    return "ck.pt"


@pytest.mark.parametrize("flags,needle", [
    (["--lr", "0.5", "--epochs", "500"], "cannot change --lr (the checkpoint has 0.1): drop it"),
    (["--hidden", "4", "--seed", "7"], "cannot change --hidden (the checkpoint has 8,8), "
                                       "--seed (the checkpoint has 42): drop them"),
    (["--optimizer", "adam"], "--optimizer (the checkpoint has 'sgd')"),
    (["--batch-size", "16"], "--batch-size (the checkpoint has 40)"),
    (["--device", "cpu"], "--device (the checkpoint has 'auto')"),
    (["--n-samples", "200"], "--n-samples/--noise/--param (the checkpoint has "),
    (["--no-standardize"], "--no-standardize (the checkpoint has True)"),
    (["--early-stopping", "5"], "--early-stopping (the checkpoint has unset)"),
    (["--log-every", "7"], "--log-every (the checkpoint has 100)"),
    (["--epochs", "40"], "--epochs 40: the checkpoint has already trained 51 epochs"),
    (["--epochs", "0"], "expected epochs >= 1"),
    (["moons"], "drop 'moons'"),
    (["--config", "c.toml"], "drop --config"),
])
def test_resume_refuses_flags_that_would_change_the_run(work, capsys, ckpt, flags, needle):
    (work / "c.toml").write_text('[train]\nepochs = 3\n')
    line = assert_refused(["train", "--resume", ckpt, *QUICK[2:], *flags], needle, work, capsys)
    assert "--resume" in line or "epochs" in line


def test_resume_applies_more_epochs_and_matches_a_run_that_long(work, capsys, ckpt):
    """--epochs past the checkpoint trains on: the weights are those of an uninterrupted
    run of that length, and the saved config.toml reproduces the resumed run exactly."""
    code, _, err = invoke(["train", "--resume", ckpt, "--epochs", "250", "--lr", "0.1",
                           *QUICK[2:]], capsys)  # --lr as saved: no conflict
    assert code == 0, err
    fresh = ["train", "moons", *QUICK, "--batch-size", "40", "--epochs", "250"]
    assert invoke([*fresh, "--out", "fresh"], capsys)[0] == 0
    weights = (work / "out" / "model.safetensors").read_bytes()
    assert weights == (work / "fresh" / "model.safetensors").read_bytes()
    saved = (work / "out" / "config.toml").read_text()
    assert "epochs = 250" in saved and "eval_every = 1" in saved  # 100 // 100, as trained
    assert invoke(["train", "--config", "out/config.toml", "--out", "again", *QUICK[2:]],
                  capsys)[0] == 0
    for name in ("model.safetensors", "metrics.json"):
        assert (work / "again" / name).read_bytes() == (work / "out" / name).read_bytes()
    assert history(work / "again") == history(work / "out")


def history(run: Path) -> list:
    """history.csv without its wall-clock column."""
    with (run / "history.csv").open() as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def test_resume_saves_where_out_says_and_keeps_that_checkpoint(work, capsys, ckpt):
    code, out, err = invoke(["train", "--resume", ckpt, "--out", "elsewhere", *QUICK[2:]],
                            capsys)
    assert code == 0, err
    assert "saved run to elsewhere" in out
    assert (work / "elsewhere" / "model.safetensors").is_file() and not (work / "out").exists()
    assert (work / "ck.pt").is_file()  # another run may still resume from it


# -- the same, as a shell sees it -----------------------------------------------------------

@pytest.mark.parametrize("argv,needle", [
    (["train", "moons", "--epochs", "99999999999999"], "expected epochs >= 1 and <= 10,000,000"),
    (["train", "moons", "--weight-decay", "nan"], "expected weight_decay to be a finite"),
    (["train", "moons", "--out", ""], "argument --out: expected a path"),
    (["predict", "run", "points.csv"], "'architecture.spec.hidden' must be a list of integers"),
])
def test_in_a_real_process(work, argv, needle):
    path = work / "run" / "model.json"
    info = json.loads(path.read_text())
    info["architecture"]["spec"]["hidden"] = [200000000]
    path.write_text(json.dumps(info))
    before = snapshot(work)
    proc = subprocess.run([sys.executable, "-m", "torchclf", *argv], cwd=work,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("torchclf") and needle in proc.stderr
    assert snapshot(work) == before


def test_load_run_with_data_needs_the_runs_config(tmp_path):
    """From Python as from the CLI: no config.toml, no silently rebuilt default data."""
    import torchclf as tc
    run = tc.run_config(tc.config.RunConfig(name="m").replace("train", epochs=5))
    folder = run.save(tmp_path / "run")
    (folder / "config.toml").unlink()
    assert tc.load_run(folder).predict([[0.0, 0.0]]).shape == (1,)  # the model still loads
    with pytest.raises(tc.UserError, match="config.toml is missing"):
        tc.load_run(folder, with_data=True)
