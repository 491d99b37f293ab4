"""What a `torchclf train` process imports: nothing it does not use.

scikit-learn (about 1 s), torch._dynamo (about 1 s, pulled in by torch.optim's
wrappers) and matplotlib are each as slow to import as torch itself; the lesson's moons
run trains in 0.02 s. These check the module sets in real processes (not times: those
are in benchmarks/startup.py).
"""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HEAVY = ("sklearn", "matplotlib", "matplotlib.pyplot", "torch._dynamo", "pandas", "scipy")


def modules_after(code: str, cwd: Path) -> dict:
    """Run ``code`` in a fresh interpreter; return what it prints last as JSON plus the
    heavy modules it ended up importing."""
    script = textwrap.dedent(code) + textwrap.dedent(f"""
        import json, sys
        print(json.dumps({{"heavy": [m for m in {HEAVY!r} if m in sys.modules],
                           "result": result}}))
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def engine_of(run: Path) -> str:
    from torchclf.config import load
    return load(run / "config.toml").train.engine


def train(args: str) -> str:
    return f"""
        from torchclf.cli.main import main
        result = main({args.split()!r})
    """


@pytest.mark.parametrize("name", ["moons", "circles", "blobs"])
def test_train_without_plots_imports_no_scikit_learn_matplotlib_or_dynamo(tmp_path, name):
    got = modules_after(train(f"train {name} --epochs 5 --no-plots --quiet --split lesson "
                              "--out run"), tmp_path)
    assert got["result"] == 0
    heavy = set(got["heavy"])
    if engine_of(tmp_path / "run") == "autograd":  # no C compiler: autograd's step loads it
        heavy.discard("torch._dynamo")
    assert heavy == set()


def test_train_with_plots_draws_on_agg_without_pyplot(tmp_path):
    got = modules_after(train("train moons --epochs 5 --quiet --out run"), tmp_path)
    assert got["result"] == 0 and "matplotlib" in got["heavy"]
    assert "matplotlib.pyplot" not in got["heavy"] and "sklearn" not in got["heavy"]
    assert (tmp_path / "run" / "boundary.png").read_bytes()[:4] == b"\x89PNG"


def test_kernel_checkpoints_and_resumes_without_dynamo(tmp_path):
    """The checkpoint written under the kernel holds torch.optim's own state_dict, read
    and loaded without torch._dynamo, and resuming gives the uninterrupted weights."""
    got = modules_after("""
        import torch, torchclf as tc
        from torchclf.engine.checkpoint import Checkpoint
        from torchclf.engine.loop import fit
        train, test = tc.datasets.moons(n_samples=200).split()
        def run(epochs, **kw):
            model = tc.MLP(2, (8, 8), 2, seed=0)
            out = fit(model, train, test, lr=0.1, momentum=0.9, epochs=epochs, seed=0,
                      engine="fast", **kw)
            return out, model
        run(6, checkpoint_path="c.pt", checkpoint_every=4)  # written after epoch 4
        ck = Checkpoint.load("c.pt")
        resumed_out, resumed = run(8, resume=ck)
        _, whole = run(8)
        result = {
            "engine": resumed_out.engine,
            "momentum_buffers": sorted(len(s) for s in ck.optimizer_state["state"].values()),
            "same": all(torch.equal(a, b) for a, b in
                        zip(resumed.state_dict().values(), whole.state_dict().values())),
        }
    """, tmp_path)
    assert got["result"]["engine"] == "fast", "the kernel could not be built here"
    assert got["result"]["momentum_buffers"] == [1] * 6  # torch.optim.SGD's format
    assert got["result"]["same"] and got["heavy"] == []


def test_the_dynamo_bypass_leaves_torch_optim_as_it_was(tmp_path):
    got = modules_after("""
        import torch
        from torchclf.optimizers import make_optimizer, without_dynamo_import
        p = torch.nn.Parameter(torch.ones(3))
        opt = make_optimizer("adam", [p], 0.1)
        with without_dynamo_import():
            state = opt.state_dict()
        wrapped = [getattr(torch.optim.Optimizer, n).__wrapped__
                   for n in ("add_param_group", "state_dict", "load_state_dict")]
        left = [hasattr(fn, "__dynamo_disable") for fn in wrapped]
        before = "torch._dynamo" in sys.modules
        p.grad = torch.ones(3)
        opt.step()  # torch's own wrappers work as before: autograd's step loads dynamo
        result = {"left": left, "before": before, "after": "torch._dynamo" in sys.modules,
                  "groups": state["param_groups"][0]["params"], "p": p.tolist()}
    """.replace("import torch\n", "import sys, torch\n", 1), tmp_path)
    r = got["result"]
    assert r["left"] == [False] * 3 and r["groups"] == [0]
    assert (r["before"], r["after"]) == (False, True)
    assert r["p"] == pytest.approx([0.9] * 3)
