"""Training you can watch: the lesson's lines, the progress bar, verbose and live=True."""

import io

import pytest
import torch

import torchclf as tc
from torchclf.callbacks import LiveView, PrintLog, ProgressBar


@pytest.fixture(scope="module")
def moons():
    return tc.datasets.moons(n_samples=200, noise=0.1, seed=0).split(test_size=0.25, seed=0)


def model():
    return tc.MLP(in_features=2, hidden=(8,), n_classes=2, activation="relu", seed=0)


def lines(text):
    return [line for line in text.splitlines() if line.strip()]


def test_fit_with_log_every_prints_the_lessons_lines(moons, capsys):
    train, test = moons
    run = tc.fit(model(), train, test, epochs=30, log_every=10)
    out = lines(capsys.readouterr().out)
    assert [line.split("|")[0] for line in out] == [
        "Epoch:     0 ", "Epoch:    10 ", "Epoch:    20 ", "Epoch:    29 "]
    assert out[-1] == tc.callbacks.lesson_line(
        {k: v[-1] for k, v in run.history.items()})
    assert "Test acc:" in out[-1]


def test_verbose_false_is_silent_and_trains_the_same(moons, capsys):
    train, test = moons
    quiet = tc.fit(model(), train, test, epochs=30, log_every=10, verbose=False)
    assert capsys.readouterr() == ("", "")
    loud = tc.fit(model(), train, test, epochs=30, log_every=10, verbose=0 + 1)
    assert len(lines(capsys.readouterr().out)) == 4
    for a, b in zip(quiet.model.state_dict().values(), loud.model.state_dict().values()):
        assert torch.equal(a, b)


def test_fit_without_log_every_prints_nothing_unless_verbose(moons, capsys):
    train, test = moons
    tc.fit(model(), train, test, epochs=20)
    assert capsys.readouterr() == ("", "")
    tc.fit(model(), train, test, epochs=20, verbose=True)
    assert lines(capsys.readouterr().out)[0].startswith("Epoch:    19 | Loss:")


def test_printer_writes_to_its_stream_in_each_format(moons, capsys):
    train, test = moons
    out, naive = io.StringIO(), io.StringIO()
    tc.fit(model(), train, test, epochs=21, log_every=10, verbose=False,
           callbacks=[PrintLog(out), PrintLog(naive, log_format="naive", every=10)])
    assert capsys.readouterr() == ("", "")
    assert len(lines(out.getvalue())) == 3   # 0, 10, 20 (the last)
    assert [line.split(" loss")[0] for line in lines(naive.getvalue())] == [
        "Epoch 0", "Epoch 10", "Epoch 20"]


def test_progress_bar_counts_rows_on_its_stream(moons):
    train, test = moons
    err = io.StringIO()
    tc.fit(model(), train, test, epochs=40, verbose=False, callbacks=[ProgressBar(err)])
    text = err.getvalue()
    assert "rows" in text and "6.00k" in text  # 40 epochs x 150 rows


def test_a_bar_leaves_no_thread_behind(moons):
    # a live thread keeps torch's thread count fixed (runtime.one_thread_for_tiny)
    import threading
    train, test = moons
    before = threading.active_count()
    tc.fit(model(), train, test, epochs=5, verbose=False,
           callbacks=[ProgressBar(io.StringIO())])
    assert threading.active_count() == before


def test_a_delayed_bar_stays_away_from_a_quick_fit(moons):
    train, test = moons
    bar = ProgressBar(io.StringIO(), delay=60)
    tc.fit(model(), train, test, epochs=20, verbose=False, callbacks=[bar])
    assert bar.tqdm is None and bar.file.getvalue() == ""


def test_lines_and_bar_share_a_stream_cleanly(moons):
    train, test = moons
    stream = io.StringIO()
    bar = ProgressBar(stream)
    tc.fit(model(), train, test, epochs=20, log_every=10, verbose=False,
           callbacks=[bar, PrintLog(stream, bar)])
    logged = [line for line in stream.getvalue().replace("\r", "\n").splitlines()
              if line.startswith("Epoch:")]
    assert len(logged) == 3


def test_live_view_draws_each_log_point_and_the_end(moons, monkeypatch):
    train, test = moons
    pictures = []
    view = LiveView(train, test, min_seconds=0, show=pictures.append, resolution=20)
    tc.fit(model(), train, test, epochs=25, log_every=10, verbose=False, callbacks=[view])
    assert view.pictures == len(pictures) == 4   # epochs 0, 10, 20 and 24 (the last)
    assert all(p.startswith(b"\x89PNG") for p in pictures)


def test_live_true_outside_a_notebook_does_nothing(moons, capsys):
    train, test = moons
    run = tc.fit(model(), train, test, epochs=20, log_every=10, verbose=False, live=True)
    assert capsys.readouterr() == ("", "")
    assert run.history["epoch"][-1] == 19

