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


@pytest.fixture
def two_threads():
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def threads_seen_by_forward(model, X):
    """Evaluate ``model`` on ``X``; (loss, accuracy, torch threads during its forward)."""
    import torch

    from torchclf import task as tasks
    from torchclf.engine.engine import evaluate
    seen = []
    hook = model.register_forward_hook(lambda *_: seen.append(torch.get_num_threads()))
    task = getattr(model, "task", "binary")
    y = torch.zeros(len(X), 1) if task == "binary" else torch.zeros(len(X), dtype=torch.long)
    loss, acc = evaluate(model, X, y, task, tasks.loss_function(task))
    hook.remove()
    return float(loss), float(acc), seen


def test_a_tiny_evaluation_runs_on_one_thread_and_gives_the_same_numbers(two_threads):
    """Waking torch's other threads for a 200-row test set costs milliseconds on a busy
    machine (0.4 s of the lesson's run); on one thread the numbers are the same."""
    import torch

    import torchclf as tc
    model = tc.MLP(2, (8, 8), 2, seed=0)
    X = torch.randn(200, 2, generator=torch.Generator().manual_seed(0))
    loss, acc, seen = threads_seen_by_forward(model, X)
    assert seen == [1] and torch.get_num_threads() == 2
    torch.set_num_threads(1)
    assert threads_seen_by_forward(model, X)[:2] == (loss, acc)


def test_a_large_evaluation_or_another_module_keeps_torchs_threads(two_threads):
    import torch

    import torchclf as tc
    big = torch.zeros(5000, 8)  # 5000 rows x 8 wide: above torch's grain of 32768
    assert threads_seen_by_forward(tc.MLP(8, (8,), 2, seed=0), big)[2] == [2]
    other = torch.nn.Sequential(torch.nn.Linear(2, 1))
    assert threads_seen_by_forward(other, torch.zeros(10, 2))[2] == [2]


def test_with_another_thread_alive_the_thread_count_is_never_touched(two_threads):
    """A thread's first torch call takes the last set_num_threads: while another thread
    lives (a web server's, train_many's), a tiny evaluation keeps every count as it is."""
    import threading

    import torch

    from torchclf.runtime import one_thread_for_tiny
    inside, elsewhere = threading.Event(), []

    def other():
        inside.wait(10)
        elsewhere.append(torch.get_num_threads())

    worker = threading.Thread(target=other)
    worker.start()
    with one_thread_for_tiny(100):
        assert torch.get_num_threads() == 2
        inside.set()
        worker.join(10)
    assert elsewhere == [2] and torch.get_num_threads() == 2
    with one_thread_for_tiny(100):  # alone again: one thread, and back after
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
