"""The configuration schema: the one source of defaults and bounds, and every front end."""

import ast
import dataclasses
import io
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import torchclf as tc
from torchclf import TorchClassifier
from torchclf import config as cfg
from torchclf.cli.main import main
from torchclf.config import profiles
from torchclf.config.schema import OutputConfig, SearchConfig
from torchclf.errors import UserError

SRC = Path(__file__).resolve().parents[1] / "src" / "torchclf"
SCHEMA = SRC / "config"

# Settings whose defaults and bounds belong to the schema only.
WATCHED = {"lr", "learning_rate", "learning_rate_init", "weight_decay", "alpha", "l2", "wd",
           "epochs", "max_iter", "momentum", "seed", "random_state", "split_seed",
           "activation", "optimizer", "dropout", "test_size", "batch_size", "noise",
           "n_samples", "l1", "lr_schedule", "lr_step_size", "lr_gamma", "lr_patience",
           "class_weight"}

# Modules below the config layer that own a setting's Spec or default, each defined
# once there and attached by the schema to its field (test_owned_specs_are_the_schemas):
# the seed (spec.py), the split (data/dataset.py), the generators (data/synthetic.py) and
# the model's and optimizers' hyperparameters (hyper.py). Torch-free, so the schema can
# import them; they hold named constants, which this scan does not flag.
KNOWN_DEFAULTS = {
    # each generator's own sample count and noise: the dataset registry, and the only
    # place they are written (the schema's data.params is empty: the generator decides)
    ("data/synthetic.py", "n_samples"), ("data/synthetic.py", "noise"),
    # values that mean "unset" in a front end's own words, not defaults of a setting
    ("estimator.py", "batch_size"),   # "auto", as in scikit-learn
    ("web/session.py", "batch_size"),  # 0: full batch, as the page sends it
}
KNOWN_BOUNDS = {
    ("web/session.py", "epochs"),  # Session.step: "nothing left to train", not a bound
    ("engine/precheck.py", "lr"),  # the stuck-loss warning picks its advice, not a bound
}


def _literal(node) -> bool:
    if isinstance(node, ast.Constant):
        return node.value is not None
    if isinstance(node, ast.UnaryOp):
        return _literal(node.operand)
    if isinstance(node, (ast.Tuple, ast.List)):
        return all(_literal(e) for e in node.elts)
    return False


def _name(node) -> str | None:
    return node.id if isinstance(node, ast.Name) else \
        node.attr if isinstance(node, ast.Attribute) else None


def _defaults(tree):
    """(line, name) of literal defaults: keyword defaults, class fields, argparse."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            a = node.args
            pos = a.posonlyargs + a.args
            pairs = [*zip(pos[len(pos) - len(a.defaults):], a.defaults),
                     *zip(a.kwonlyargs, a.kw_defaults)]
            yield from ((node.lineno, arg.arg) for arg, d in pairs
                        if d is not None and arg.arg in WATCHED and _literal(d))
        elif isinstance(node, ast.ClassDef):
            yield from ((s.lineno, s.target.id) for s in node.body
                        if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)
                        and s.target.id in WATCHED and s.value is not None
                        and _literal(s.value))
        elif isinstance(node, ast.Call) and _name(node.func) == "add_argument":
            flags = [a.value.lstrip("-").replace("-", "_") for a in node.args
                     if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            if any(k.arg == "default" and _literal(k.value) for k in node.keywords):
                yield from ((node.lineno, f) for f in flags if f in WATCHED)


def _bounds(tree):
    """(line, name) of order comparisons of a watched setting with a number."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and all(
                isinstance(op, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)) for op in node.ops):
            sides = [node.left, *node.comparators]
            names = {_name(s) for s in sides} & WATCHED
            if names and any(_literal(s) for s in sides):
                yield from ((node.lineno, n) for n in names)


def _outside_schema(find, known):
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if SCHEMA in path.parents:
            continue
        rel = path.relative_to(SRC).as_posix()
        found += [f"{rel}:{line} {name}" for line, name in find(ast.parse(path.read_text()))
                  if (rel, name) not in known]
    return found


def test_defaults_are_defined_only_in_the_schema():
    assert _outside_schema(_defaults, KNOWN_DEFAULTS) == []


def test_bounds_are_checked_only_by_the_schema():
    assert _outside_schema(_bounds, KNOWN_BOUNDS) == []


def test_cli_modules_list_no_registry_names_by_hand():
    from torchclf.model import ACTIVATIONS
    from torchclf.optimizers import OPTIMIZERS
    names = {*ACTIVATIONS, *OPTIMIZERS} - {"identity"}
    for path in sorted((SRC / "cli").glob("*.py")):
        text = path.read_text()
        assert not [n for n in names if f"{n}," in text or f'"{n}"' in text], path


def test_owned_specs_are_the_schemas():
    """The schema attaches the owners' Specs, so a direct call and a flag agree."""
    from torchclf import hyper
    from torchclf.config.schema import DataConfig, ModelConfig, TrainConfig
    from torchclf.data import dataset
    from torchclf.spec import SEED, spec_of
    owned = [(ModelConfig, "dropout", hyper.DROPOUT), (TrainConfig, "lr", hyper.LR),
             (TrainConfig, "momentum", hyper.MOMENTUM),
             (TrainConfig, "weight_decay", hyper.WEIGHT_DECAY),
             (TrainConfig, "seed", SEED), (DataConfig, "split_seed", SEED),
             (DataConfig, "test_size", dataset.TEST_SIZE),
             (TrainConfig, "l1", hyper.L1), (TrainConfig, "lr_step_size", hyper.LR_STEP_SIZE),
             (TrainConfig, "lr_gamma", hyper.LR_GAMMA),
             (TrainConfig, "lr_patience", hyper.LR_PATIENCE),
             (TrainConfig, "class_weight", hyper.CLASS_WEIGHT)]
    for cls, name, spec in owned:
        assert dataclasses.replace(spec_of(cls, name), help=spec.help) == spec, name
    with pytest.raises(UserError, match="expected dropout >= 0 and < 1, got 1.5"):
        tc.MLP(2, (4,), dropout=1.5)
    with pytest.raises(UserError, match="expected dropout >= 0 and < 1, got 1.5"):
        cfg.ModelConfig(dropout=1.5)


def test_the_scan_finds_what_it_looks_for():
    code = ("def f(lr=0.1, seed=None): pass\n"
            "class C:\n    epochs: int = 5\n"
            "p.add_argument('--momentum', default=0.9)\n"
            "if lr <= 0: pass\n")
    tree = ast.parse(code)
    assert [n for _, n in _defaults(tree)] == ["lr", "epochs", "momentum"]
    assert [n for _, n in _bounds(tree)] == ["lr"]


# -- the schema itself ----------------------------------------------------------------------

def test_defaults_and_profiles_are_valid_and_round_trip(tmp_path):
    for config in [cfg.RunConfig(), *(profiles.apply(p) for p in profiles.PROFILES.values())]:
        path = tmp_path / "config.toml"
        path.write_text(config.to_toml())
        assert cfg.load(path) == config
    OutputConfig(), SearchConfig()


def test_a_config_written_by_an_earlier_version_still_loads(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('name = "moons"\ndescription = ""\nexpect_at_most = false\n'
                    '[data]\nsource = "blobs"\ntest_size = 0.2\nsplit_seed = 42\n'
                    'standardize = true\n[data.params]\nn_classes = "5"\nnoise = 1.5\n'
                    '[model]\nhidden = [8, 8]\nactivation = "relu"\ndropout = 0.0\n'
                    'task = "auto"\n[train]\noptimizer = "sgd"\nlr = 1\nmomentum = 0.0\n'
                    'weight_decay = 0.0\nepochs = 1000\nseed = 42\nlog_every = 100\n'
                    'device = "auto"\n')
    config = cfg.load(path)
    assert config.train.lr == 1.0 and isinstance(config.train.lr, float)
    assert config.data.params == {"n_classes": 5, "noise": 1.5}


@pytest.mark.parametrize("section,values,needle", [
    ("train", {"epochs": "abc"}, "expected epochs to be an integer"),
    ("train", {"lr": True}, "expected lr to be a finite number"),
    ("train", {"seed": -1}, "expected seed >= 0"),
    ("train", {"batch_size": 0}, "expected batch_size >= 1"),
    ("train", {"momentum": 1.0}, "expected momentum >= 0 and < 1"),
    ("model", {"hidden": 8}, "expected hidden to be a list of integers"),
    ("model", {"hidden": [8, 200_000_000]}, "<= 65,536 for each item"),
    ("model", {"dropout": 1}, "expected dropout >= 0 and < 1"),
    ("model", {"activation": "rellu"}, "did you mean 'relu'"),
    ("data", {"test_size": 0}, "expected test_size > 0 and < 1"),
    ("data", {"target": 3}, "expected target to be a string"),
    ("data", {"params": {"n_samples": 10**12}}, "expected n_samples >= 2"),
])
def test_toml_values_are_checked_and_named_with_their_file(tmp_path, section, values, needle):
    import tomli_w
    path = tmp_path / "bad.toml"
    path.write_text(tomli_w.dumps({section: values}))
    with pytest.raises(UserError) as info:
        cfg.load(path)
    message = str(info.value)
    assert needle in message and "\n" not in message
    assert str(path) in message or "did you mean" in message


@pytest.mark.parametrize("name", ["lr", "weight_decay", "momentum", "dropout", "test_size"])
def test_nan_and_inf_are_refused_by_name(name):
    section = {"dropout": "model", "test_size": "data"}.get(name, "train")
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(UserError, match=f"expected {name} to be a finite number"):
            cfg.RunConfig().replace(section, **{name: bad})


# -- front ends -----------------------------------------------------------------------------

@pytest.mark.parametrize("flags,needle", [
    (["--epochs", "99999999999999"], "expected epochs >= 1 and <= 10,000,000"),
    (["--seed", "-1"], "expected seed >= 0"),
    (["--seed", str(2**70)], "expected seed >= 0 and <= 2**63-1"),
    (["--weight-decay", "nan"], "expected weight_decay to be a finite number"),
    (["--lr", "inf"], "expected lr to be a finite number"),
    (["--hidden", "200000000"], "expected hidden >= 1 and <= 65,536"),
    (["--n-samples", "10000000000"], "expected n_samples"),
    (["--param", "noise=abc"], "expected noise to be a finite number"),
    (["--nproc", "0"], "expected nproc >= 1"),
    (["--checkpoint-every", "0"], "expected checkpoint_every >= 1"),
])
def test_cli_refuses_bad_values_in_one_line_before_any_work(tmp_path, monkeypatch, flags,
                                                           needle):
    monkeypatch.chdir(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    assert main(["train", "moons", *flags], out=out, err=err) == 2
    assert needle in err.getvalue() and err.getvalue().count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_huge_epochs_at_once_without_a_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "torchclf", "train", "moons", "--epochs",
                           "99999999999999"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "epochs" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_help_comes_from_the_schema_and_the_registries():
    from torchclf.cli.main import build_parser
    from torchclf.model import ACTIVATIONS
    from torchclf.optimizers import OPTIMIZERS
    text = build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    text = " ".join(text.split())
    assert all(name in text for name in [*ACTIVATIONS, *OPTIMIZERS])
    assert "(> 0 and <= 1000; default: 0.1)" in text
    tune = build_parser()._subparsers._group_actions[0].choices["tune"].format_help()
    assert f"default: {profiles.TUNE['train']['epochs']})" in " ".join(tune.split())


@pytest.mark.parametrize("flags,needle", [
    (["--lr", "0.1", "nan"], "expected lr to be a finite number"),
    (["--hidden", "8", "200000000"], "expected hidden"),
    (["--seeds", "0"], "expected seeds >= 1"),
    (["--engine", "gpu"], "unknown engine 'gpu'"),
])
def test_sweep_flags_are_checked_by_the_schema(tmp_path, monkeypatch, flags, needle):
    monkeypatch.chdir(tmp_path)
    err = io.StringIO()
    assert main(["sweep", "moons", *flags], out=io.StringIO(), err=err) == 2
    assert needle in err.getvalue()


def test_sweep_grid_and_tune_space_are_checked_by_the_schema(monkeypatch):
    from torchclf.scale import tune
    from torchclf.scale.sweep import Grid
    with pytest.raises(UserError, match="expected weight_decay"):
        Grid(weight_decay=-1.0)
    with pytest.raises(UserError, match="did you mean 'adam'"):
        Grid(optimizer=["adm"])
    tune.check_space()
    monkeypatch.setitem(tune.LOG_RANGES, "lr", (1e-3, 1e4))
    with pytest.raises(UserError, match="expected lr"):
        tune.check_space()


@pytest.mark.parametrize("settings,needle", [
    ({"l2": math.nan}, "L2 weight decay (l2) to be a finite number"),
    ({"lr": 100_000}, "learning rate (lr) > 0 and <= 1000"),
    ({"seed": 2**70}, "expected seed >= 0"),
    ({"batch_size": -1}, "batch_size"),
    ({"noise": 1e9}, "expected noise"),
    ({"epochs": "abc"}, "epochs must be a whole number"),
])
def test_playground_settings_use_the_schema_bounds_in_the_pages_words(settings, needle):
    from torchclf.web.session import Settings
    with pytest.raises(UserError) as info:
        Settings.parse(settings)
    assert needle in str(info.value)


def test_playground_defaults_come_from_its_profile():
    from torchclf.web.session import Settings
    s = Settings()
    assert s.epochs == profiles.PLAYGROUND["train"]["epochs"] and s.lr == cfg.TrainConfig().lr
    assert s.run_config(10).train.weight_decay == s.l2


@pytest.mark.parametrize("params", [
    {"max_iter": 0}, {"max_iter": -5}, {"batch_size": 0}, {"hidden_layer_sizes": 0},
    {"device": "tpu"}, {"learning_rate_init": math.inf}, {"alpha": math.nan},
    {"activation": "rellu"}, {"random_state": -1}, {"validation_fraction": 1.5},
])
def test_estimator_names_the_scikit_learn_parameter(params):
    X = np.random.default_rng(0).normal(size=(20, 2))
    y = np.arange(20) % 2
    (name,) = params
    with pytest.raises(ValueError, match=f"The '{name}' parameter of TorchClassifier"):
        TorchClassifier(**params).fit(X, y)
    with pytest.raises(ValueError, match=f"'{name}'"):
        TorchClassifier(**params).partial_fit(X, y, classes=[0, 1])


def test_estimator_defaults_are_its_profile():
    params = TorchClassifier().get_params()
    assert params["learning_rate_init"] == profiles.ESTIMATOR["train"]["lr"]
    assert params["alpha"] == profiles.ESTIMATOR["train"]["weight_decay"]
    assert params["hidden_layer_sizes"] == profiles.ESTIMATOR["model"]["hidden"]
    assert params["max_iter"] == profiles.ESTIMATOR["train"]["epochs"]
    from sklearn.neural_network import MLPClassifier  # the defaults it promises to keep
    theirs = MLPClassifier().get_params()
    assert (params["max_iter"], params["learning_rate_init"], params["alpha"], params["tol"],
            params["n_iter_no_change"], params["hidden_layer_sizes"]) == (
        theirs["max_iter"], theirs["learning_rate_init"], theirs["alpha"], theirs["tol"],
        theirs["n_iter_no_change"], theirs["hidden_layer_sizes"])
