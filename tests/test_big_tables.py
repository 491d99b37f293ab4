"""A big table trains in little memory, with the numbers a small one gets.

Evaluating in chunks of rows gives the one-piece loss (up to summation order) and the
one-piece accuracy exactly; a table loaded only to be split is split in its own memory
into the same rows the copying split makes; nothing a user passes in is changed. (The
memory itself is measured by benchmarks/big_table.py, not here.)
"""

import numpy as np
import pytest
import torch

import torchclf as tc
from torchclf import task as tasks
from torchclf.data import dataset
from torchclf.data.dataset import Standardizer, reorder_rows, shares_cells
from torchclf.data.tabular import load_table
from torchclf.engine import engine
from torchclf.engine.engine import evaluate, rows_per_chunk

ROWS = 1037  # 11 chunks of 100 rows (the last one short)


@pytest.fixture
def chunks_of_100(monkeypatch):
    """Evaluation in chunks of 100 rows for a model whose widest layer is 32."""
    monkeypatch.setattr(engine, "EVAL_ELEMENTS", 100 * 32)


def one_piece(*args, **kwargs):
    """``evaluate`` with every row in one chunk."""
    with pytest.MonkeyPatch.context() as m:
        m.setattr(engine, "EVAL_ELEMENTS", 10**9)
        return evaluate(*args, **kwargs)


def problem(n_classes: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(ROWS, 20)).astype(np.float32)
    codes = (X[:, :3].sum(1) * 2 + rng.normal(size=ROWS)).astype(np.int64) % n_classes
    task = "binary" if n_classes == 2 else "multiclass"
    model = tc.MLP(20, (32, 16), n_classes, seed=seed)
    return model, torch.from_numpy(X), tasks.targets(torch.from_numpy(codes), task), task


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_evaluating_in_chunks_gives_the_one_piece_loss_and_accuracy(chunks_of_100,
                                                                     n_classes, weighted):
    model, X, y, task = problem(n_classes)
    assert rows_per_chunk(model, X) == 100 and len(X) > 10 * 100
    weight = torch.tensor([0.5, 2.0, 1.5][:n_classes]) if weighted else None
    loss_fn = tasks.loss_function(task, weight)
    model.train()
    loss, acc = evaluate(model, X, y, task, loss_fn)
    whole_loss, whole_acc = one_piece(model, X, y, task, loss_fn)
    assert model.training  # the caller's mode is back
    assert loss.dtype == whole_loss.dtype == acc.dtype == torch.float32
    assert abs(float(loss) - float(whole_loss)) <= 1e-6 * max(1.0, abs(float(whole_loss)))
    assert float(acc) == float(whole_acc)
    with torch.no_grad():  # and both are what the loss and the labels say
        logits = model.eval()(X)
        assert float(acc) == float((tasks.labels(logits, task) == y.reshape(-1).long())
                                   .float().mean())
        assert abs(float(loss) - float(loss_fn(logits, y))) <= 1e-6


def test_rows_scaled_a_chunk_at_a_time_evaluate_as_rows_scaled_whole(chunks_of_100):
    model, X, y, task = problem(2)
    raw = X.numpy() * 7 + 3
    before = raw.copy()
    scaler = Standardizer().fit(raw)
    loss_fn = tasks.loss_function(task)
    lazy = evaluate(model, torch.from_numpy(raw), y, task, loss_fn,
                    lambda rows: torch.from_numpy(scaler.transform(rows.numpy())))
    eager = evaluate(model, torch.from_numpy(scaler.transform(raw)), y, task, loss_fn)
    assert [float(v) for v in lazy] == [float(v) for v in eager]
    assert raw.tobytes() == before.tobytes()  # the rows evaluated are not changed


def test_a_small_test_set_is_evaluated_in_one_piece_as_before():
    model, X, y, task = problem(2)
    loss_fn = tasks.loss_function(task)
    with torch.no_grad():
        logits = model.eval()(X)
    loss, acc = evaluate(model, X, y, task, loss_fn)
    assert rows_per_chunk(model, X) >= len(X)
    assert float(loss) == float(loss_fn(logits, y))  # bit for bit
    assert float(acc) == float((tasks.labels(logits, task) == y.reshape(-1).long())
                               .float().mean())


def test_fit_with_a_test_set_of_many_chunks_logs_the_one_piece_numbers(monkeypatch):
    train, test = tc.datasets.moons(n_samples=3000, noise=0.2, seed=0).split(0.4, seed=0)
    runs = {}
    for name, elements in (("chunked", 16 * 50), ("whole", 10**9)):
        monkeypatch.setattr(engine, "EVAL_ELEMENTS", elements)
        runs[name] = tc.fit(tc.MLP(2, (16,), seed=0), train, test, epochs=5, log_every=1,
                            standardize=True, seed=0).history
    chunked, whole = runs["chunked"], runs["whole"]
    assert chunked["test_accuracy"] == whole["test_accuracy"]
    assert chunked["loss"] == whole["loss"]
    assert np.allclose(chunked["test_loss"], whole["test_loss"], rtol=1e-6, atol=0)


# -- the split in place -------------------------------------------------------------------

def table(tmp_path, rows=500, seed=0):
    rng = np.random.default_rng(seed)
    path = tmp_path / "t.csv"
    X = rng.normal(size=(rows, 4)).round(3)
    labels = np.where(X[:, 0] + rng.normal(size=rows) > 0, "yes", "no")
    lines = ["a,b,c,d,label"] + [",".join(map(str, r)) + f",{l}" for r, l in zip(X, labels)]
    path.write_text("\n".join(lines) + "\n")
    return path


def assert_same_parts(ours, theirs):
    for a, b in zip(ours, theirs):
        assert a.X.tobytes() == b.X.tobytes() and a.y.tobytes() == b.y.tobytes()
        assert a.raw.equals(b.raw) and a.feature_names == b.feature_names
        assert a.classes == b.classes and a.meta == b.meta


@pytest.mark.parametrize("stratify", [True, False])
def test_a_table_split_in_its_own_memory_has_the_rows_the_copying_split_has(tmp_path,
                                                                           stratify):
    path = table(tmp_path)
    copied = load_table(path).split(0.25, seed=3, stratify=stratify)
    ds = load_table(path)
    reused = ds.split(0.25, seed=3, stratify=stratify, reuse=True)
    assert_same_parts(reused, copied)
    for part in reused:
        assert shares_cells(part.raw, part.X)  # the raw rows are still X's own
        # stratified: the parts are the loaded X, reordered; the lesson's shuffled
        # split cannot reorder in place, so it copies as before
        assert np.shares_memory(part.X, ds.X) == stratify


def test_the_default_split_and_a_users_arrays_leave_the_data_as_it_was():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3)).astype(np.float32)
    y = np.where(X[:, 0] > 0, "a", "b")
    X_before, y_before = X.copy(), y.copy()
    ds = tc.from_arrays(X, y)
    train, test = ds.split()
    run = tc.fit(tc.MLP(3, (8,), seed=0), train, test, epochs=3, standardize=True)
    run.predict(X)
    assert X.tobytes() == X_before.tobytes() and (y == y_before).all()
    assert ds.X.tobytes() == X_before.tobytes()
    assert not np.shares_memory(train.X, ds.X)


def test_reordering_rows_in_place_puts_the_first_rows_first_then_the_others(monkeypatch):
    monkeypatch.setattr(dataset, "REORDER_ROWS", 64)  # many blocks
    rng = np.random.default_rng(2)
    X = rng.normal(size=(1000, 3)).astype(np.float32)
    before = X.copy()
    first = np.sort(rng.choice(1000, size=700, replace=False))
    then = rng.permutation(np.setdiff1d(np.arange(1000), first))
    a, b = reorder_rows(X, first, then)
    assert a.tobytes() == before[first].tobytes() and b.tobytes() == before[then].tobytes()
    assert np.shares_memory(a, X) and np.shares_memory(b, X)
