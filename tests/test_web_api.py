"""The playground's HTTP API: sessions, training, points, uploads, limits, exports."""

import io
import subprocess
import sys
import time
import tomllib
import zipfile

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from torchclf.config import from_dict  # noqa: E402
from torchclf.web.limits import LIMITS  # noqa: E402
from torchclf.web.server import create_app  # noqa: E402
from torchclf.web.session import Settings  # noqa: E402


@pytest.fixture
def client():
    return TestClient(create_app(), base_url="http://127.0.0.1:8000")  # a host it answers to


CSV = {"content-type": "text/csv"}  # what the page sends with a file


def start(client, **settings):
    r = client.post("/api/session", json={"settings": settings})
    assert r.status_code == 200, r.text
    return r.json()


def train(client, sid, epochs, per=100):
    """Step a new session until it has run ``epochs`` epochs (a step may stop early at
    its time budget; the frame says how far it got)."""
    done, frame = 0, None
    while done < epochs:
        frame = client.post(f"/api/session/{sid}/step",
                            json={"epochs": min(per, epochs - done)}).json()
        done = frame["epoch"]
    return frame


def reproduced(client, sid, tmp_path):
    """The test accuracy printed by the session's exported script, run in ``tmp_path``."""
    (tmp_path / "reproduce.py").write_text(client.get(f"/api/session/{sid}/export/script.py").text)
    out = subprocess.run([sys.executable, "reproduce.py"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return float(out.stdout.split("test accuracy:")[1])


def test_moons_accuracy_rises(client):
    first = start(client, dataset="moons", points=300, noise=0.1)
    assert first["epoch"] == 0 and len(first["train"]) == 240 and len(first["test"]) == 60
    frame = train(client, first["id"], 1000)
    assert frame["epoch"] == 1000
    assert frame["history"]["test_accuracy"][-1] > 0.95 > frame["history"]["test_accuracy"][0]
    assert frame["grid"]["resolution"] == 60 and len(frame["confusion"]) == 2


def test_every_dataset_and_many_classes(client):
    for name in ("circles", "moons", "blobs", "spirals", "xor", "gauss"):
        frame = start(client, dataset=name, classes=5, points=200)
        assert len(frame["classes"]) == (5 if name in ("blobs", "spirals") else 2)


def test_tabs_do_not_mix(client):
    a = start(client, dataset="moons", lr=0.1)
    b = start(client, dataset="spirals", classes=4, optimizer="adam", lr=0.01)
    fa = train(client, a["id"], 200)
    fb = train(client, b["id"], 100)
    assert fa["epoch"] == 200 and fb["epoch"] == 100
    assert len(fa["classes"]) == 2 and len(fb["classes"]) == 4


def test_clicked_points_join_the_training_set(client):
    f = start(client, dataset="moons", points=100)
    g = client.post(f"/api/session/{f['id']}/points", json={"x": 0.5, "y": 0.5, "label": 1}).json()
    assert len(g["train"]) == len(f["train"]) + 1 and g["train"][-1][2] == 1


def test_upload_a_csv(client):
    f = start(client)
    text = "a,b,kind\n" + "".join(f"{i % 7},{i % 5},{'x' if i % 2 else 'y'}\n" for i in range(40))
    r = client.post(f"/api/session/{f['id']}/upload", content=text, headers=CSV)
    assert r.status_code == 200 and r.json()["classes"] == ["x", "y"]
    assert r.json()["grid"]["view"] == "identity"  # two numbers: drawn as they are
    g = client.post(f"/api/session/{f['id']}/points", json={"x": 9, "y": 9, "label": 1}).json()
    assert len(g["train"]) == len(r.json()["train"]) + 1 and g["train"][-1] == [9, 9, 1]
    bad = client.post(f"/api/session/{f['id']}/upload", content="a\n1\n2\n", headers=CSV)
    assert bad.status_code == 400 and "feature columns and a label column" in bad.json()["error"]
    wide = ",".join(f"c{i}" for i in range(LIMITS.max_columns + 1)) + "\n"
    bad = client.post(f"/api/session/{f['id']}/upload", content=wide, headers=CSV)
    assert bad.status_code == 400 and "too many columns" in bad.json()["error"]


def table_csv(n=200, seed=0):
    """A real table: a number with gaps, text with a gap, the label named "class" in the
    middle, then another number."""
    import numpy as np
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=n), rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    label = np.where(x + 2 * (colour == "red") > y + 0.5, "a", "b")
    rows = [f"{'' if i % 10 == 3 else round(x[i], 4)},{'' if i == 5 else colour[i]},"
            f"{label[i]},{round(y[i], 4)}" for i in range(n)]
    return "x,colour,class,y\n" + "\n".join(rows) + "\n"


def test_upload_a_table_with_text_and_gaps_trains_and_exports(client, tmp_path):
    f = start(client, lr=0.05)
    r = client.post(f"/api/session/{f['id']}/upload", content=table_csv(), headers=CSV)
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["classes"] == ["a", "b"] and first["n_train"] == 160 and first["n_test"] == 40
    assert first["grid"]["view"] == "pca" and "PCA plane" in first["grid"]["note"]
    assert len(first["train"]) == 160
    frame = train(client, f["id"], 300)
    assert frame["history"]["test_accuracy"][-1] > 0.85
    point = client.post(f"/api/session/{f['id']}/points", json={"x": 0, "y": 0, "label": 0})
    assert point.status_code == 400 and "2 numeric features" in point.json()["error"]
    # the export carries the rows as uploaded (text and gaps) and reproduces the run
    assert reproduced(client, f["id"], tmp_path) == pytest.approx(
        frame["history"]["test_accuracy"][-1], abs=1e-4)
    points = (tmp_path / "points.csv").read_text().splitlines()
    assert points[0] == "x,colour,y,label" and points[6] == "0.3616,,-0.4764,a"
    assert len(points) == 201 and points[4].startswith(",")  # row 3's gap stays a gap
    z = zipfile.ZipFile(io.BytesIO(client.get(f"/api/session/{f['id']}/export/model.zip").content))
    z.extractall(tmp_path / "model")
    from torchclf.store.modelfiles import load_model
    import pandas as pd
    rows = pd.read_csv(tmp_path / "points.csv")
    predictor = load_model(tmp_path / "model")
    assert predictor.encoder.inputs == ("x", "colour", "y")
    assert (predictor.predict(rows.head(40)) == rows["label"].head(40)).mean() > 0.8


@pytest.mark.parametrize("settings,needle", [
    ({"points": 10**6}, "too many points"), ({"hidden": [8] * 9}, "too many layers"),
    ({"hidden": [500]}, "neurons"), ({"epochs": 10**9}, "epochs"),
    ({"dataset": "moonz"}, "did you mean 'moons'"), ({"activation": "rellu"}, "did you mean"),
    ({"dataset": "wnie"}, "did you mean 'wine'"), ({"dataset": "irs"}, "did you mean 'iris'"),
    ({"dataset": "blobs", "classes": 11}, "classes must be between 2 and 10"),
    ({"dataset": "wine", "points": 10**6}, "too many points"),  # checked, as for an upload
    ({"dataset": "wine", "features": ["x1", "x1_sq"]}, "need 2 numeric columns"),
    ({"lr": -1}, "learning rate"), ({"colour": 1}, "unknown setting"),
])
def test_limits_give_a_clear_message(client, settings, needle):
    r = client.post("/api/session", json={"settings": settings})
    assert r.status_code == 400 and needle in r.json()["error"]


def test_step_and_upload_limits(client):
    f = start(client)
    r = client.post(f"/api/session/{f['id']}/step", json={"epochs": LIMITS.max_step + 1})
    assert r.status_code == 400 and "a step trains" in r.json()["error"]
    big = "a,b,c\n" + "1,2,x\n" * (LIMITS.max_upload_bytes // 6 + 10)
    r = client.post(f"/api/session/{f['id']}/upload", content=big, headers=CSV)
    assert r.status_code == 400 and "too large" in r.json()["error"]
    r = client.post("/api/session/nope/step", json={"epochs": 1})
    assert r.status_code == 400 and "expired" in r.json()["error"]


def test_idle_sessions_are_cleaned_up(client, monkeypatch):
    f = start(client)
    sessions = client.app.state.sessions
    sessions[f["id"]].last_seen = time.monotonic() - LIMITS.idle_seconds - 1
    start(client)
    assert f["id"] not in sessions
    g = start(client)
    assert client.delete(f"/api/session/{g['id']}").status_code == 200
    assert g["id"] not in sessions


def test_exports_reproduce_the_run(client, tmp_path):
    f = start(client, dataset="moons", points=300, noise=0.1, optimizer="adam", lr=0.02)
    frame = train(client, f["id"], 300)
    config = client.get(f"/api/session/{f['id']}/export/config.toml").text
    parsed = from_dict(tomllib.loads(config))
    assert parsed.train.epochs == 300 and parsed.model.hidden == (8, 8)
    assert reproduced(client, f["id"], tmp_path) == pytest.approx(
        frame["history"]["test_accuracy"][-1], abs=1e-4)
    z = zipfile.ZipFile(io.BytesIO(client.get(f"/api/session/{f['id']}/export/model.zip").content))
    assert {"model.safetensors", "model.json", "config.toml", "reproduce.py"} <= set(z.namelist())


def test_script_for_clicked_points_carries_the_data(client, tmp_path):
    f = start(client, dataset="moons", points=100)
    client.post(f"/api/session/{f['id']}/points", json={"x": 3.0, "y": 3.0, "label": 0})
    train(client, f["id"], 100)
    (tmp_path / "r.py").write_text(client.get(f"/api/session/{f['id']}/export/script.py").text)
    out = subprocess.run([sys.executable, "r.py"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "points.csv").read_text().count("\n") == 102


def test_a_step_stops_at_its_time_budget_after_whole_epochs():
    from torchclf.web.session import Session, Settings
    session = Session.create(Settings(dataset="moons"))
    session.step(500, seconds=0.0)  # budget spent at once: one whole epoch, then return
    assert session.epoch == 1 and session.history["epoch"] == [1]
    session.step(500)  # no budget (the library's default): every epoch asked for
    assert session.epoch == 501


def test_a_heavy_step_trains_off_the_event_loop_while_other_tabs_answer():
    import asyncio
    import httpx

    heavy_settings = {"dataset": "moons", "points": 5000, "hidden": [64] * 6, "batch_size": 1}

    async def scenario():
        transport = httpx.ASGITransport(app=create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            heavy = (await c.post("/api/session", json={"settings": heavy_settings})).json()
            light = (await c.post("/api/session", json={"settings": {}})).json()
            training = asyncio.create_task(
                c.post(f"/api/session/{heavy['id']}/step", json={"epochs": 1000}))
            await asyncio.sleep(0.05)  # the heavy step is under way
            answer = await c.post(f"/api/session/{light['id']}/step", json={"epochs": 1})
            answered_while_training = not training.done()
            frame = (await training).json()
            return answer, answered_while_training, frame

    answer, answered_while_training, frame = asyncio.run(scenario())
    assert answer.status_code == 200 and answer.json()["epoch"] == 1
    assert answered_while_training  # on the event loop, the light tab would have waited
    assert 1 <= frame["epoch"] < 1000  # the heavy step returned at its time budget


@pytest.mark.parametrize("route,body,needle", [
    ("step", b'{"epochs": 1', "not valid JSON"),            # truncated
    ("step", b"[1, 2]", "expected a JSON object"),
    ("step", b'{"epochs": "abc"}', "epochs must be a whole number"),
    ("step", b'{"epochs": 1.5}', "epochs must be a whole number"),
    ("points", b'{"y": 0, "label": 0}', "a point needs 'x'"),
    ("points", b'{"x": 3e38, "y": 0, "label": 0}', "finite number within"),
    ("points", b'{"x": 0, "y": 0, "label": "a"}', "label must be a whole number"),
])
def test_malformed_requests_answer_400_with_a_message(client, route, body, needle):
    sid = start(client)["id"]
    r = client.post(f"/api/session/{sid}/{route}", content=body,
                    headers={"content-type": "application/json"})
    assert r.status_code == 400 and needle in r.json()["error"], r.text
    assert client.post(f"/api/session/{sid}/step", json={"epochs": 5}).json()["epoch"] == 5


@pytest.mark.parametrize("body", [b'{"settings": {"seed": 1180591620717411303424}}',
                                  b'{"settings": {"l2": NaN}}', b'{"settings": [1]}', b"nul"])
def test_bad_settings_answer_400(client, body):
    r = client.post("/api/session", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"], r.text


@pytest.mark.parametrize("settings,needle", [
    ({"hidden": "64"}, "hidden must be a list of neurons per layer such as [8, 8]"),
    ({"hidden": ["8", "8"]}, "hidden must be a list of whole numbers"),
    ({"hidden": [8.5]}, "hidden must be a list of whole numbers"),
    ({"hidden": [True]}, "hidden must be a list of whole numbers"),
    ({"epochs": 1.5}, "epochs must be a whole number such as 500"),
    ({"epochs": "500"}, "epochs must be a whole number"),
    ({"points": True}, "points must be a whole number"),
    ({"lr": "0.1"}, "lr must be a number such as 0.03"),
    ({"noise": False}, "noise must be a number"),
    ({"dataset": 5}, "dataset must be a name in quotes"),
])
def test_settings_of_the_wrong_type_are_refused_naming_the_setting(client, settings, needle):
    """Types are checked, not converted: "64" was read as layers [6, 4], 1.5 epochs as 1."""
    r = client.post("/api/session", json={"settings": settings})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert needle in error and "\n" not in error
    assert client.app.state.sessions == {}
    sid = start(client)["id"]  # the same check for a live change
    r = client.post(f"/api/session/{sid}/settings", json={"settings": settings})
    assert r.status_code == 400 and needle in r.json()["error"]


def test_whole_floats_and_tuples_are_still_taken(client):
    frame = start(client, epochs=300.0, hidden=[4.0, 3], lr=1)
    shapes = [w["shape"] for w in frame["network"]["weights"]]
    assert frame["max_epochs"] == 300 and shapes[:2] == [[4, 2], [3, 4]]


def test_session_ids_are_minted_by_the_server_only(client):
    sessions = client.app.state.sessions
    r = client.post("/api/session/made-up-id/upload", content=b"x1,x2,label\n0,0,a\n1,1,b\n",
                    headers=CSV)
    assert r.status_code == 400 and "expired" in r.json()["error"]
    made_up = client.post("/api/session", json={"id": "made-up-id", "settings": {}}).json()
    assert made_up["id"] != "made-up-id" and set(sessions) == {made_up["id"]}
    again = client.post("/api/session", json={"id": made_up["id"], "settings": {}}).json()
    assert again["id"] == made_up["id"] and len(sessions) == 1  # a tab's Reset keeps its id


def test_an_oversized_upload_is_refused_while_it_streams_in(client):
    sid = start(client)["id"]

    def chunks():  # no content-length: the server must count as it reads
        for _ in range(LIMITS.max_upload_bytes // 65536 + 2):
            yield b"1,2,a\n" * 10923
    r = client.post(f"/api/session/{sid}/upload", content=chunks(), headers=CSV)
    assert r.status_code == 400 and "too large" in r.json()["error"]


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_new_learning_rate_and_l2_apply_from_the_next_epoch_without_a_reset(optimizer):
    import torch
    from torchclf import task as tasks
    from torchclf.engine import fast
    from torchclf.model import MLP
    from torchclf.optimizers import make_optimizer
    from torchclf.web.session import Session, Settings
    settings = Settings(dataset="moons", points=200, optimizer=optimizer, lr=0.05)
    session = Session.create(settings)
    # SGD full batch runs in the compiled kernel: it must read the new values too
    assert (session.fast is not None) == (optimizer == "sgd" and fast.load_kernel() is not None)
    session.step(30)
    session.retune(session.settings.retuned({"lr": 0.3, "l2": 0.01}))
    session.step(20)
    assert session.epoch == 50 and session.history["epoch"] == [30, 50]
    # autograd with torch.optim, the param groups changed before epoch 31
    model = MLP(2, settings.hidden, 2, settings.activation, seed=settings.seed)
    opt = make_optimizer(optimizer, model.parameters(), 0.05)
    loss_fn = tasks.loss_function(model.task)
    for epoch in range(50):
        if epoch == 30:
            for group in opt.param_groups:
                group["lr"], group["weight_decay"] = 0.3, 0.01
        opt.zero_grad()
        loss_fn(model(session.X), session.y).backward()
        opt.step()
    for ours, theirs in zip(session.model.parameters(), model.parameters()):
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-4)


def test_an_l1_penalty_set_while_training_applies_from_the_next_epoch():
    import torch
    from torchclf import task as tasks
    from torchclf.model import MLP
    from torchclf.optimizers import make_optimizer
    from torchclf.web.session import Session, Settings
    settings = Settings(dataset="moons", points=200, optimizer="sgd", lr=0.1)
    session = Session.create(settings)
    session.step(30)
    session.retune(session.settings.retuned({"l1": 0.01}))
    assert session.fast is None  # the kernel has no L1: autograd carries on
    session.step(20)
    assert session.epoch == 50 and session.history["epoch"] == [30, 50]
    assert session.settings.run_config(50).train.l1 == 0.01  # config.toml and script say it
    model = MLP(2, settings.hidden, 2, settings.activation, seed=settings.seed)
    opt = make_optimizer("sgd", model.parameters(), 0.1)
    loss_fn = tasks.loss_function(model.task)
    for epoch in range(50):
        opt.zero_grad()
        loss = loss_fn(model(session.X), session.y)
        if epoch >= 30:  # L1 on the weight matrices, not the biases
            loss = loss + 0.01 * sum(p.abs().sum() for p in model.parameters() if p.dim() >= 2)
        loss.backward()
        opt.step()
    for ours, theirs in zip(session.model.parameters(), model.parameters()):
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-4)


def test_lr_l2_and_the_epoch_cap_change_while_training_goes_on(client):
    sid = start(client, dataset="moons", points=100, epochs=20)["id"]
    assert train(client, sid, 20)["epoch"] == 20
    capped = client.post(f"/api/session/{sid}/step", json={"epochs": 5}).json()
    assert capped["epoch"] == capped["max_epochs"] == 20  # the cap holds
    url = f"/api/session/{sid}/settings"
    r = client.post(url, json={"settings": {"lr": 0.5, "epochs": 40}})
    assert r.status_code == 200, r.text
    assert r.json()["epoch"] == 20 and r.json()["max_epochs"] == 40
    assert r.json()["settings"]["lr"] == 0.5
    session = client.app.state.sessions[sid]
    assert session.opt.param_groups[0]["lr"] == 0.5
    frame = client.post(f"/api/session/{sid}/step", json={"epochs": 5}).json()
    assert frame["epoch"] == 25 and frame["history"]["epoch"][-2:] == [20, 25]
    # an unchanged structural value may come along (the page sends what it shows)
    assert client.post(url, json={"settings": {"hidden": [8, 8], "l2": 0.001}}).status_code == 200


@pytest.mark.parametrize("changes,needle", [
    ({"hidden": [3]}, "start a new session"), ({"dataset": "circles"}, "start a new session"),
    ({"lr": -1}, "learning rate"), ({"l2": "x"}, "l2 must be a number such as 0"), ({"l1": -1}, "L1 penalty"),
    ({"epochs": 10**9}, "epochs"), ({"colour": 1}, "unknown setting"),
])
def test_a_refused_settings_change_leaves_the_session_alone(client, changes, needle):
    sid = start(client, dataset="moons", points=100)["id"]
    train(client, sid, 5)
    session = client.app.state.sessions[sid]
    r = client.post(f"/api/session/{sid}/settings", json={"settings": changes})
    assert r.status_code == 400 and needle in r.json()["error"], r.text
    assert client.app.state.sessions[sid] is session and session.epoch == 5
    assert session.settings.lr == session.opt.param_groups[0]["lr"] == Settings().lr


def test_settings_of_an_expired_session_or_not_an_object_are_refused(client):
    r = client.post("/api/session/nope/settings", json={"settings": {"lr": 0.2}})
    assert r.status_code == 400 and "expired" in r.json()["error"]
    sid = start(client)["id"]
    r = client.post(f"/api/session/{sid}/settings", json={"settings": [1]})
    assert r.status_code == 400 and "JSON object" in r.json()["error"]


def test_options_say_which_controls_apply_and_what_the_defaults_are(client):
    o = client.get("/api/options").json()
    assert o["controls"]["moons"] == ["noise", "points"] and o["controls"]["custom"] == []
    assert o["controls"]["blobs"] == ["noise", "points", "classes"]
    assert o["live_settings"] == ["lr", "l2", "l1", "epochs"]
    frame = start(client, **o["defaults"])
    assert frame["settings"] == o["defaults"]
    assert len(frame["classes"]) == 2  # moons: the Classes control does not apply


def test_a_frame_counts_each_class_and_predicts_every_test_point(client):
    f = start(client, dataset="blobs", classes=4, points=200)
    for split in ("train", "test"):
        assert f["counts"][split] == [sum(p[2] == c for p in f[split]) for c in range(4)]
    assert len(f["test_pred"]) == len(f["test"])
    wrong = sum(pred != p[2] for pred, p in zip(f["test_pred"], f["test"]))
    confusion = f["confusion"]
    assert wrong == sum(confusion[i][j] for i in range(4) for j in range(4) if i != j)


def test_the_favicon_is_served(client):
    r = client.get("/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert r.content.lstrip().startswith(b"<svg")


def test_an_uploaded_cell_cannot_inject_code_into_the_exported_script():
    import ast
    from torchclf.web.server import script
    from torchclf.web.session import Session, Settings
    from torchclf.web.sources import from_csv_text
    evil = '"""; import os; os.system(\'echo pwned\') #\\'
    rows = [f'{i},"{evil.replace(chr(34), chr(34) * 2)}",{"ab"[i % 2]}' for i in range(4)]
    rows += [f"{i},plain,{'ab'[i % 2]}" for i in range(4, 12)]
    session = Session.create(Settings(dataset="custom"),
                             from_csv_text("n,text,label\n" + "\n".join(rows) + "\n"))
    assert evil in session.points_csv()
    tree = ast.parse(script(session))
    points = next(node.value for node in tree.body if isinstance(node, ast.Assign)
                  and node.targets[0].id == "POINTS")
    assert ast.literal_eval(points) == session.points_csv()
    assert not any(isinstance(node, ast.Import) and node.names[0].name == "os"
                   for node in ast.walk(tree))


def config_accuracy(client, sid):
    """The test accuracy ``torchclf train`` gets from the session's exported config.toml."""
    from torchclf import experiment
    config = from_dict(tomllib.loads(client.get(f"/api/session/{sid}/export/config.toml").text))
    return config, experiment.run_config(config).metrics["test"]["accuracy"]


@pytest.mark.parametrize("name,rows,features,classes,accuracy", [
    ("iris", 150, 4, 3, 0.85), ("wine", 178, 13, 3, 1.0)])
def test_a_bundled_table_trains_as_torchclf_train_trains_it(client, name, rows, features,
                                                            classes, accuracy):
    first = start(client, dataset=name)
    assert first["n_train"] + first["n_test"] == rows and len(first["classes"]) == classes
    assert first["grid"]["view"] == "pca" and len(first["network"]["features"]) == features
    frame = train(client, first["id"], 300)
    got = frame["history"]["test_accuracy"][-1]
    assert got >= accuracy  # chance is 1/3
    config, retrained = config_accuracy(client, first["id"])
    assert config.data.source == name and config.data.params == {}
    assert config.train.epochs == 300 and retrained == pytest.approx(got, abs=1e-4)
    z = zipfile.ZipFile(io.BytesIO(client.get(f"/api/session/{first['id']}/export/model.zip").content))
    assert {"config.toml", "reproduce.py"} <= set(z.namelist())
    assert "points.csv" not in z.namelist()  # the table is named, not carried


def test_a_bundled_tables_script_reproduces_the_run(client, tmp_path, monkeypatch, capsys):
    import runpy
    sid = start(client, dataset="wine", optimizer="adam", lr=0.01)["id"]
    frame = train(client, sid, 100)
    text = client.get(f"/api/session/{sid}/export/script.py").text
    assert "ds = tc.datasets.load('wine')\n" in text
    (tmp_path / "reproduce.py").write_text(text)
    monkeypatch.chdir(tmp_path)  # in this process: a fresh one pays 2.5 s of imports
    runpy.run_path("reproduce.py", run_name="__main__")
    printed = float(capsys.readouterr().out.split("test accuracy:")[1])
    assert printed == pytest.approx(frame["history"]["test_accuracy"][-1], abs=1e-4)
    assert not (tmp_path / "points.csv").exists()


def test_a_bundled_table_trains_as_an_upload_of_the_same_table(client):
    from torchclf.data import bundled
    wine = bundled.load("wine")
    text = "\n".join([",".join([*wine.feature_names, "label"])] + [
        ",".join([*map(repr, row.tolist()), wine.classes[c]]) for row, c in zip(wine.X, wine.y)])
    named = start(client, dataset="wine")
    sid = start(client)["id"]
    uploaded = client.post(f"/api/session/{sid}/upload", content=text + "\n", headers=CSV).json()
    assert uploaded["classes"] == named["classes"] and uploaded["train"] == named["train"]
    assert uploaded["grid"]["view"] == named["grid"]["view"] == "pca"
    ours, theirs = train(client, named["id"], 50), train(client, sid, 50)
    # the last row: how many rows a session has depends on where its steps' time budget
    # cut them on a busy machine, not on what it trained
    assert ours["history"]["epoch"][-1] == theirs["history"]["epoch"][-1] == 50
    for key in ("test_accuracy", "loss"):
        assert ours["history"][key][-1] == pytest.approx(theirs["history"][key][-1], abs=1e-6)


def test_generator_settings_on_a_table_are_ignored_as_for_an_upload(client):
    """Points, noise, classes and data_draw are ignored for a table, as for an upload:
    the page sends every setting it shows (and the URL carries them), with those controls
    disabled; their limits still apply, as for an upload."""
    plain = start(client, dataset="wine")
    odd = start(client, dataset="wine", points=50, noise=0.3, classes=5, data_draw=3)
    assert odd["train"] == plain["train"] and odd["test"] == plain["test"]
    assert odd["settings"]["points"] == 50  # echoed as sent, as an upload's are
    config = from_dict(tomllib.loads(client.get(f"/api/session/{odd['id']}/export/config.toml").text))
    assert config.data.source == "wine" and config.data.params == {}


def test_options_list_the_tables_and_every_one_trains(client):
    """Every bundled table fits the playground: digits (1797 rows, 64 features, 10
    classes, each with its own colour and marker) too. A table over the limits would be
    listed with why (``refused``), as an upload of it would be refused."""
    o = client.get("/api/options").json()
    assert list(o["tables"]) == ["iris", "wine", "breast_cancer", "digits"]
    assert o["tables"]["wine"] == {"rows": 178, "features": 13, "classes": 3, "refused": None,
                                   "description": "chemical analysis of wines from 3 cultivars"}
    assert all(t["refused"] is None for t in o["tables"].values())
    assert all(o["controls"][name] == [] for name in o["tables"])
    assert "wine" not in o["datasets"]  # the 2-D generators, one picture each
    for name, rows, classes in (("breast_cancer", 569, 2), ("digits", 1797, 10)):
        frame = start(client, dataset=name)
        assert frame["n_train"] + frame["n_test"] == rows and len(frame["classes"]) == classes
        stepped = train(client, frame["id"], 1000, per=500)
        assert stepped["epoch"] == 1000 and stepped["grid"]["view"] == "pca"
    assert stepped["history"]["test_accuracy"][-1] > 0.8  # digits (0.94 here); chance 0.1


def test_an_upload_with_more_classes_than_the_page_tells_apart_is_refused(client):
    f = start(client)
    rows = "".join(f"{i % 11},{i % 7},c{i % 11}\n" for i in range(110))
    r = client.post(f"/api/session/{f['id']}/upload", content="a,b,label\n" + rows,
                    headers=CSV)
    assert r.status_code == 400 and r.json()["error"] == (
        "the CSV has 11 classes; the playground takes 2 to 10 (the colours and markers its "
        "page tells apart)")


def test_uploaded_labels_are_kept_as_written_as_torchclf_train_reads_them():
    from torchclf.web.sources import from_csv_text
    rows = [f"{i},{i % 5},{['01', '1', '2'][i % 3]}" for i in range(12)]
    assert from_csv_text("a,b,label\n" + "\n".join(rows) + "\n").classes == ("01", "1", "2")
    rows = [f"{i},{i % 5},{i % 2}" for i in range(12)]
    assert from_csv_text("a,b,label\n" + "\n".join(rows) + "\n").classes == (0, 1)


def test_training_never_takes_the_request_pool_so_other_requests_answer(monkeypatch):
    """Steps that hold every request thread used to starve /api/options and new sessions
    (45 heavy streams: 6.7 s for options); training has threads of its own now."""
    import asyncio
    import threading

    import anyio.to_thread
    import httpx

    from torchclf.web import session as session_module

    release, entered, threads = threading.Event(), threading.Semaphore(0), set()
    real_step = session_module.Session.step

    def blocked_step(self, *args, **kwargs):
        threads.add(threading.current_thread().name)
        entered.release()
        release.wait(60)
        return real_step(self, *args, **kwargs)

    async def scenario():
        anyio.to_thread.current_default_thread_limiter().total_tokens = 2  # a small pool
        transport = httpx.ASGITransport(app=create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            ids = [(await c.post("/api/session", json={"settings": {}})).json()["id"]
                   for _ in range(3)]
            monkeypatch.setattr(session_module.Session, "step", blocked_step)
            steps = [asyncio.create_task(c.post(f"/api/session/{sid}/step", json={"epochs": 1}))
                     for sid in ids]
            await asyncio.to_thread(entered.acquire, True, 30)  # training is under way
            try:  # generous bound: it only matters when requests wait for training
                options = await asyncio.wait_for(c.get("/api/options"), 30)
                new = await asyncio.wait_for(c.post("/api/session", json={"settings": {}}), 30)
            finally:
                release.set()
            return options, new, [(await s) for s in steps]

    options, new, steps = asyncio.run(scenario())
    assert options.status_code == 200 and new.status_code == 200
    assert [s.status_code for s in steps] == [200] * 3
    assert all(name.startswith("torchclf-train") for name in threads), threads


def test_training_threads_take_sessions_in_turn_and_cap_what_one_session_queues():
    import threading

    from torchclf.web.trainer import QUEUED, Busy, Trainer

    trainer, order, gate, started = Trainer(workers=1), [], threading.Event(), threading.Event()

    def job(name):
        if name == "a0":
            started.set()
            gate.wait(30)
        order.append(name)
        return name

    first = trainer.submit("a", job, "a0")
    assert started.wait(30)  # a0 runs: the only thread is taken
    a_jobs = [trainer.submit("a", job, f"a{i}") for i in range(1, QUEUED + 1)]
    with pytest.raises(Busy, match="already has work waiting"):  # one more than QUEUED
        trainer.submit("a", job, "a-too-many")
    b_job = trainer.submit("b", job, "b0")  # a light tab, queued behind a's backlog
    gate.set()
    assert [f.result(30) for f in [first, *a_jobs, b_job]][-1] == "b0"
    assert order[:3] == ["a0", "b0", "a1"]  # b had its turn before a's second job
    assert trainer.queues == {} and trainer.running == set()
