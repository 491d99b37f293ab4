"""The options users expect (issue 14): an L1 penalty, learning-rate schedules, class
weights, and class counts with a warning for a rare class, in every front end.

Each option is checked against plain autograd arithmetic written out here, on engine
"auto" against "autograd" (the compiled kernel has none of them), through resume, the
config file, the CLI (one line and exit 2 for a bad value) and TorchClassifier.
"""

import io
import json
import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone

import torchclf as tc
from torchclf import config as cfg
from torchclf import task as tasks
from torchclf.cli.main import main
from torchclf.data.dataset import Dataset
from torchclf.engine.checkpoint import Checkpoint
from torchclf.engine.loop import TrainingInterrupted
from torchclf.errors import UserError
from torchclf.schedules import SCHEDULES, make_schedule
from helpers import InterruptAt

OPTIONS = [{"l1": 0.01}, {"lr_schedule": "step", "lr_step_size": 7},
           {"lr_schedule": "cosine"}, {"lr_schedule": "onecycle"},
           {"lr_schedule": "plateau", "lr_patience": 2}, {"class_weight": "balanced"},
           {"class_weight": {"rare": 3.0}}]


def imbalanced(n_common=570, n_rare=30, seed=0) -> Dataset:
    """Two overlapping blobs, 95/5: an unweighted model mostly predicts the common one."""
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(0, 1, (n_common, 2)),
                   rng.normal(1.5, 1, (n_rare, 2))]).astype(np.float32)
    y = np.r_[np.zeros(n_common, int), np.ones(n_rare, int)]
    return Dataset(X, y, ("common", "rare"), ("x0", "x1"), "imbalanced")


@pytest.fixture(scope="module")
def split():
    return imbalanced().split(0.25, seed=0)


def train(split, epochs=30, hidden=(8,), **options):
    tr, te = split
    model = tc.MLP(2, hidden, 2, seed=0)
    return model, tc.fit(model, tr, te, epochs=epochs, lr=0.5, seed=0, **options)


# -- L1 ------------------------------------------------------------------------------------

def test_l1_step_is_autograd_of_the_penalised_loss_and_the_logged_loss_leaves_it_out(split):
    tr, _ = split
    model, run = train(split, epochs=1, l1=0.01)
    ref = tc.MLP(2, (8,), 2, seed=0)
    X, y = torch.as_tensor(tr.X), tasks.targets(torch.as_tensor(tr.y), "binary")
    data_loss = torch.nn.BCEWithLogitsLoss()(ref(X), y)
    weights = [p for n, p in ref.named_parameters() if n.endswith("weight")]
    (data_loss + 0.01 * sum(w.abs().sum() for w in weights)).backward()
    with torch.no_grad():
        for p in ref.parameters():
            p -= 0.5 * p.grad
    for p, q in zip(model.parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-6)
    assert run.history["loss"][0] == pytest.approx(data_loss.item(), abs=1e-6)


def test_l1_shrinks_the_weights(split):
    plain, _ = train(split, epochs=60)
    sparse, _ = train(split, epochs=60, l1=0.05)
    size = lambda m, kind: sum(float(p.detach().abs().sum()) for n, p in m.named_parameters()
                               if n.endswith(kind))
    assert size(sparse, "weight") < 0.5 * size(plain, "weight")


# -- schedules -----------------------------------------------------------------------------

def _replayed(name, history, lr=0.5, epochs=30, **settings):
    """The lr torch's own scheduler gives each epoch, fed the run's training losses."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    sched = make_schedule(name, opt, epochs, **settings)
    lrs = []
    with warnings.catch_warnings():  # this optimizer never steps: torch would say so
        warnings.simplefilter("ignore", UserWarning)
        for loss in history["loss"]:
            lrs.append(opt.param_groups[0]["lr"])
            sched.step(torch.tensor(loss))
    return lrs


@pytest.mark.parametrize("name", [n for n in SCHEDULES if n != "none"])
def test_the_history_lr_column_is_the_schedule(split, name):
    _, run = train(split, lr_schedule=name, lr_step_size=7, lr_patience=2)
    lrs = run.history["lr"]
    assert lrs == _replayed(name, run.history, step_size=7, patience=2)
    assert run.config["train"]["engine"] == "autograd"
    if name == "step":
        assert lrs == [pytest.approx(0.5 * 0.5 ** (e // 7)) for e in range(30)]
    elif name == "cosine":
        assert lrs[0] == 0.5 and lrs[15] == pytest.approx(0.25) and lrs[-1] < 0.01
    elif name == "onecycle":
        assert lrs[0] == pytest.approx(0.5 / 25) and max(lrs) == pytest.approx(0.5)
        assert lrs.index(max(lrs)) == round(0.3 * 30) - 1 and lrs[-1] < 0.01


def test_plateau_cuts_the_lr_when_the_training_loss_stalls(split):
    _, run = train(split, epochs=40, batch_size=32, lr_schedule="plateau", lr_patience=1)
    lrs = run.history["lr"]
    assert lrs[0] == 0.5 and sorted(set(lrs)) == [0.0625, 0.125, 0.25, 0.5]
    assert lrs == _replayed("plateau", run.history, epochs=40, patience=1)


def test_mini_batches_step_the_schedule_once_per_epoch(split):
    _, run = train(split, epochs=9, batch_size=64, lr_schedule="step", lr_step_size=3)
    assert run.history["lr"] == pytest.approx([0.5] * 3 + [0.25] * 3 + [0.125] * 3)


# -- every option: auto is autograd exactly; fast refuses ----------------------------------

@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(map(str, o.values())))
def test_auto_trains_each_option_exactly_as_autograd(split, options):
    m_auto, auto = train(split, epochs=20, **options)
    m_grad, grad = train(split, epochs=20, engine="autograd", **options)
    for p, q in zip(m_auto.parameters(), m_grad.parameters()):
        assert torch.equal(p, q)
    for key in ("loss", "accuracy", "test_loss", "test_accuracy", "lr"):
        np.testing.assert_array_equal(auto.history[key], grad.history[key])
    assert auto.config["train"]["engine"] == grad.config["train"]["engine"] == "autograd"


@pytest.mark.parametrize("options,name", [
    ({"l1": 0.01}, "l1"), ({"lr_schedule": "cosine"}, "lr_schedule"),
    ({"class_weight": "balanced"}, "class_weight")])
def test_engine_fast_refuses_each_option_by_name(split, options, name):
    with pytest.raises(UserError, match=f"engine 'fast' .* has no {name}: use engine 'auto'"):
        train(split, engine="fast", **options)


# -- class weights -------------------------------------------------------------------------

def test_balanced_weights_raise_the_rare_class_recall(split):
    _, plain = train(split, epochs=200, hidden=())
    _, balanced = train(split, epochs=200, hidden=(), class_weight="balanced")
    recall = lambda run: run.metrics["test"]["per_class"]["rare"]["recall"]
    assert recall(plain) <= 0.25 and recall(balanced) >= 0.6
    assert balanced.metrics["test"]["recall_macro"] > plain.metrics["test"]["recall_macro"]


def test_balanced_weights_are_sklearns_and_a_table_fills_in_ones(split):
    from sklearn.utils.class_weight import compute_class_weight
    tr, _ = split
    got = tasks.class_weights("balanced", tr.y, tr.classes)
    np.testing.assert_allclose(got, compute_class_weight("balanced", classes=np.arange(2),
                                                         y=tr.y))
    assert list(tasks.class_weights({"rare": 4}, tr.y, tr.classes)) == [1.0, 4.0]
    assert tasks.class_weights("none", tr.y, tr.classes) is None


def test_weighted_losses_are_means_over_the_weights_for_binary_and_multiclass():
    g = torch.Generator().manual_seed(0)
    z, y = torch.randn(50, 1, generator=g), torch.randint(0, 2, (50,), generator=g)
    w = torch.tensor([1.0, 7.0])
    binary = tasks.loss_function("binary", w)(z, tasks.targets(y, "binary"))
    # one logit z is the two logits (0, z): the same loss as weighted cross-entropy
    multi = tasks.loss_function("multiclass", w)(torch.cat([torch.zeros_like(z), z], 1), y)
    torch.testing.assert_close(binary, multi)
    by_hand = (w[y] * torch.nn.functional.binary_cross_entropy_with_logits(
        z.reshape(-1), y.float(), reduction="none")).sum() / w[y].sum()
    torch.testing.assert_close(binary, by_hand)


def test_class_weight_table_labels_and_weights_are_checked(split):
    with pytest.raises(UserError, match="class_weight names 'rar', which is not a class"):
        train(split, class_weight={"rar": 2.0})
    with pytest.raises(UserError, match=r"expected class_weight\['rare'\] > 0, got 0"):
        train(split, class_weight={"rare": 0})
    with pytest.raises(UserError, match="did you mean 'balanced'"):
        train(split, class_weight="balance")


# -- class counts and the rare-class warning -----------------------------------------------

def test_metrics_count_each_class_and_a_rare_class_is_warned_about(split):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, run = train(split, epochs=2)
    assert not caught  # 5% is few, not under 1%
    assert run.metrics["train"]["class_counts"] == {"common": 428, "rare": 22}
    assert run.metrics["test"]["class_counts"] == {"common": 142, "rare": 8}
    assert set(run.metrics["test"]["per_class"]["rare"]) == {"precision", "recall", "f1"}
    with pytest.warns(UserWarning, match=r"class 'rare' \(2 of 450 rows\) has under 1%"):
        train(imbalanced(n_common=597, n_rare=3).split(0.25, seed=0), epochs=2)


# -- resume --------------------------------------------------------------------------------

def _spirals_run(epochs=60, **kwargs):
    tr, te = tc.datasets.spirals(n_samples=300).split(seed=0)
    model = tc.MLP(2, (16,), 3, seed=1)
    run = tc.fit(model, tr, te, lr=0.2, epochs=epochs, batch_size=64, seed=1, log_every=10,
                 l1=1e-3, class_weight="balanced", **kwargs)
    return model, run


@pytest.mark.parametrize("schedule", ["cosine", "plateau", "onecycle"])
def test_resume_with_every_option_is_bit_identical(tmp_path, schedule):
    ref_model, ref = _spirals_run(lr_schedule=schedule)
    ckpt = tmp_path / "run.checkpoint.pt"
    with pytest.raises(TrainingInterrupted):
        _spirals_run(lr_schedule=schedule, checkpoint_path=ckpt, callbacks=[InterruptAt(33)])
    model, resumed = _spirals_run(lr_schedule=schedule, resume=Checkpoint.load(ckpt))
    for p, q in zip(ref_model.parameters(), model.parameters()):
        assert torch.equal(p, q)
    assert resumed.history["lr"] == ref.history["lr"]
    assert resumed.history["loss"] == ref.history["loss"]


def test_resume_refuses_a_schedule_it_was_not_trained_with(tmp_path):
    ckpt = tmp_path / "run.checkpoint.pt"
    with pytest.raises(TrainingInterrupted):
        _spirals_run(lr_schedule="cosine", checkpoint_path=ckpt, callbacks=[InterruptAt(9)])
    with pytest.raises(UserError, match="trained with an lr schedule"):
        _spirals_run(resume=Checkpoint.load(ckpt))
    with pytest.raises(UserError, match="trained with lr schedule 'cosine', not 'step'"):
        _spirals_run(lr_schedule="step", resume=Checkpoint.load(ckpt))
    with pytest.raises(UserError, match="'cosine' spans the run's 60 epochs, so the resumed "
                                        "run cannot train 90: resume with epochs 60"):
        _spirals_run(epochs=90, lr_schedule="cosine", resume=Checkpoint.load(ckpt))


@pytest.mark.parametrize("engine,interrupt_at", [("autograd", 38), ("fast", 38),
                                                 ("autograd", 21)])
def test_resume_with_early_stopping_stops_where_the_uninterrupted_run_stops(
        tmp_path, engine, interrupt_at):
    """The checkpoint carries early stopping's best loss, best epoch and best weights:
    interrupted before its best epoch or after, the resumed run stops at the same epoch,
    for the same reason, with the same restored best weights and history."""
    def go(**kwargs):
        tr, te = tc.datasets.moons(n_samples=400, noise=0.3).split(seed=0)
        model = tc.MLP(2, (16, 16), seed=1)
        run = tc.fit(model, tr, te, lr=0.3, epochs=400, batch_size=32, seed=2,
                     log_every=50, early_stopping=8, engine=engine, **kwargs)
        return model, run
    ref_model, ref = go()  # best at epoch 34, stopped at 42: 38 is after the best
    assert ref.stop_reason == "early stopping at epoch 42: validation loss best at epoch 34"
    ckpt = tmp_path / "c.pt"
    with pytest.raises(TrainingInterrupted):
        go(checkpoint_path=ckpt, callbacks=[InterruptAt(interrupt_at)])
    model, resumed = go(resume=Checkpoint.load(ckpt))
    assert resumed.stop_reason == ref.stop_reason
    assert resumed.history.keys() == ref.history.keys()
    for key in set(ref.history) - {"seconds"}:  # NaN where an epoch had no test numbers
        np.testing.assert_array_equal(resumed.history[key], ref.history[key])
    for p, q in zip(ref_model.parameters(), model.parameters()):
        assert torch.equal(p, q)


def test_cli_resume_with_early_stopping_saves_the_uninterrupted_runs_files(tmp_path):
    """`--resume` of a run with --early-stopping, interrupted after its best epoch:
    the same weights (the best epoch's) and metrics as the run never interrupted."""
    from torchclf.experiment import run_config
    flags = ["moons", "--n-samples", 400, "--noise", 0.3, "--hidden", "16,16", "--lr", 0.3,
             "--batch-size", 32, "--epochs", 400, "--early-stopping", 8, "--no-plots", "-q",
             "--no-progress"]
    assert invoke(["train", *flags, "--out", tmp_path / "ref"])[0] == 0
    epochs = len((tmp_path / "ref" / "history.csv").read_text().splitlines()) - 1
    assert epochs < 400  # it stopped early, 8 epochs after its best
    config = cfg.load(tmp_path / "ref" / "config.toml")
    with pytest.raises(TrainingInterrupted):
        run_config(config, [InterruptAt(epochs - 3)], checkpoint_path=tmp_path / "c.pt",
                   checkpoint_extra={"out": str(tmp_path / "cut")})
    code, _, err = invoke(["train", "--resume", tmp_path / "c.pt", "--out", tmp_path / "cut",
                           "--no-plots", "-q", "--no-progress"])
    assert code == 0, err
    for name in ("model.safetensors", "metrics.json"):
        assert (tmp_path / "cut" / name).read_bytes() == (tmp_path / "ref" / name).read_bytes()


def test_resume_refuses_early_stopping_it_was_not_trained_with(tmp_path):
    ckpt = tmp_path / "run.checkpoint.pt"
    with pytest.raises(TrainingInterrupted):
        _spirals_run(checkpoint_path=ckpt, callbacks=[InterruptAt(9)])
    with pytest.raises(UserError, match="the checkpoint was trained without early stopping: "
                                        "resume it with the settings it was trained with"):
        _spirals_run(early_stopping=5, resume=Checkpoint.load(ckpt))
    with pytest.raises(TrainingInterrupted):
        _spirals_run(early_stopping=5, checkpoint_path=ckpt, callbacks=[InterruptAt(9)])
    with pytest.raises(UserError, match="trained with early stopping"):
        _spirals_run(resume=Checkpoint.load(ckpt))


# -- config file and CLI -------------------------------------------------------------------

def invoke(argv):
    out, err = io.StringIO(), io.StringIO()
    try:
        code = main([str(a) for a in argv], out=out, err=err)
    except SystemExit as e:
        code = e.code
    return code, out.getvalue(), err.getvalue()


QUICK = ["--n-samples", 200, "--epochs", 40, "--no-plots", "-q", "--no-progress"]
FLAGS = ["--l1", 0.001, "--lr-schedule", "step", "--lr-step-size", 10, "--lr-gamma", 0.3,
         "--class-weight", "0=2,1=1"]


def test_config_round_trips_every_option(tmp_path):
    config = cfg.RunConfig().replace("train", l1=0.01, lr_schedule="plateau", lr_patience=3,
                                     lr_gamma=0.2, class_weight={"a": 2.0, "b": 0.5})
    path = tmp_path / "config.toml"
    path.write_text(config.to_toml())
    assert cfg.load(path) == config
    assert cfg.RunConfig().train.autograd_only() == [] and \
        config.train.autograd_only() == ["l1", "lr_schedule", "class_weight"]


def test_cli_flags_are_saved_and_the_config_reproduces_the_run(tmp_path):
    code, _, err = invoke(["train", "moons", *QUICK, *FLAGS, "--out", tmp_path / "a"])
    assert code == 0, err
    saved = cfg.load(tmp_path / "a" / "config.toml").train
    assert (saved.l1, saved.lr_schedule, saved.lr_step_size, saved.lr_gamma) == \
        (0.001, "step", 10, 0.3)
    assert saved.class_weight == {"0": 2.0, "1": 1.0} and saved.engine == "autograd"
    code, _, err = invoke(["train", "--config", tmp_path / "a" / "config.toml", "--no-plots",
                           "-q", "--no-progress", "--out", tmp_path / "b"])
    assert code == 0, err
    for name in ("model.safetensors", "metrics.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    history = (tmp_path / "a" / "history.csv").read_text().splitlines()
    lr_column = history[0].split(",").index("lr")
    lrs = [float(line.split(",")[lr_column]) for line in history[1:]]
    assert lrs == pytest.approx([0.1 * 0.3 ** (e // 10) for e in range(40)])


def test_cli_resume_keeps_the_schedule_and_refuses_changing_it(tmp_path):
    ckpt = tmp_path / "a.checkpoint.pt"
    code, _, err = invoke(["train", "moons", *QUICK, *FLAGS, "--out", tmp_path / "a"])
    assert code == 0, err
    ref = json.loads((tmp_path / "a" / "metrics.json").read_text())
    with pytest.raises(TrainingInterrupted):
        tc.run_config(cfg.load(tmp_path / "a" / "config.toml").replace(name="a"),
                      [InterruptAt(19)], checkpoint_path=ckpt,
                      checkpoint_extra={"out": str(tmp_path / "b")})
    code, _, err = invoke(["train", "--resume", ckpt, "--lr-schedule", "cosine", "-q"])
    assert code == 2 and "cannot change --lr-schedule (the checkpoint has 'step')" in err
    code, _, err = invoke(["train", "--resume", ckpt, "--no-plots", "-q", "--no-progress"])
    assert code == 0, err
    assert json.loads((tmp_path / "b" / "metrics.json").read_text()) == ref


@pytest.mark.parametrize("flags,needle", [
    (["--l1", -1], "expected l1 >= 0, got -1"),
    (["--lr-schedule", "cosin"], "unknown lr schedule 'cosin': did you mean 'cosine'?"),
    (["--lr-step-size", 0], "expected lr_step_size >= 1"),
    (["--lr-gamma", 1], "expected lr_gamma > 0 and < 1, got 1"),
    (["--lr-patience", -2], "expected lr_patience >= 0"),
    (["--class-weight", "balancd"], "did you mean 'balanced'?"),
    (["--class-weight", "0=-1"], "expected class_weight['0'] > 0, got -1"),
    (["--class-weight", "0=x"], "expected LABEL=WEIGHT pairs"),
    (["--class-weight", "2=1"], "class_weight names '2', which is not a class"),
    (["--engine", "fast", "--l1", 0.1], "engine 'fast' (the compiled kernel) has no l1"),
    (["--nproc", 2, "--lr-schedule", "step"], "--nproc does not support --lr-schedule"),
])
def test_cli_refuses_bad_values_in_one_line_writing_nothing(tmp_path, flags, needle):
    code, out, err = invoke(["train", "moons", *QUICK, *flags, "--out", tmp_path / "run"])
    assert code == 2 and needle in err, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("torchclf: error: ")
    assert not (tmp_path / "run").exists()


def test_cli_shows_the_rare_class_warning_as_one_line_and_counts_classes(tmp_path):
    rows = ["x0,x1,label"] + [f"{i % 7},{i % 5},common" for i in range(300)] + \
        ["9,9,rare", "9,8,rare"]
    (tmp_path / "rare.csv").write_text("\n".join(rows) + "\n")
    proc = subprocess.run([sys.executable, "-m", "torchclf", "train", str(tmp_path / "rare.csv"),
                           "--epochs", "5", "--no-plots", "-q", "--no-progress",
                           "--out", str(tmp_path / "run")], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == [
        "torchclf: warning: class 'rare' (1 of 241 rows) has under 1% of the training rows: "
        "few examples to learn from and to measure on; consider class_weight 'balanced'"]
    assert "rows rare" in proc.stdout and "recall rare" in proc.stdout
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["train"]["class_counts"] == {"common": 240, "rare": 1}
    assert metrics["test"]["class_counts"] == {"common": 60, "rare": 1}


def test_a_sweep_refuses_options_it_would_drop():
    from torchclf.scale.sweep import Grid, run_sweep
    base = cfg.RunConfig().replace("train", class_weight="balanced", epochs=2)
    with pytest.raises(UserError, match="a sweep trains its models without class_weight"):
        run_sweep(base, Grid(seeds=1))


# -- TorchClassifier -----------------------------------------------------------------------

def test_estimator_takes_the_options_and_clones_them(split):
    tr, te = split
    labels = np.asarray(tr.classes, dtype=object)
    est = tc.TorchClassifier(hidden_layer_sizes=(), max_iter=200, learning_rate_init=0.05,
                             random_state=0, n_iter_no_change=1000)
    plain = clone(est).fit(tr.X, labels[tr.y])
    weighted = clone(est).set_params(class_weight={"rare": 19.0}, l1=1e-4,
                                     lr_schedule="cosine").fit(tr.X, labels[tr.y])
    assert clone(weighted).get_params()["class_weight"] == {"rare": 19.0}
    recall = lambda m: np.mean(m.predict(te.X[te.y == 1]) == "rare")
    assert recall(weighted) > recall(plain) + 0.3
    assert not hasattr(weighted, "partial_fit") and hasattr(plain, "partial_fit")


@pytest.mark.parametrize("params,needle", [
    ({"l1": -0.1}, "'l1' parameter"), ({"lr_schedule": "cosin"}, "'lr_schedule' parameter"),
    ({"class_weight": {"b": 0}}, "'class_weight' parameter"),
    ({"class_weight": {"zz": 2}}, "'class_weight' parameter.*not a class")])
def test_estimator_names_a_bad_option(params, needle):
    X = np.random.default_rng(0).normal(size=(20, 2))
    y = np.array(["a", "b"] * 10)
    with pytest.raises(ValueError, match=needle):
        tc.TorchClassifier(max_iter=2, **params).fit(X, y)
