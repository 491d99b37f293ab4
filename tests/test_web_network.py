"""The playground's network picture and what it teaches with: input features built from the
two coordinates, neuron heatmaps and weights in each frame, editing one weight, new data
draws and the dataset thumbnails (the HTTP API; tests/test_web_e2e.py drives the page)."""

import base64
import io
import json
import math
import runpy
import zipfile

import numpy as np
import pytest
import torch

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from torchclf.web import features  # noqa: E402
from torchclf.web.network_view import HEAT_RESOLUTION  # noqa: E402
from torchclf.web.server import THUMBNAIL_POINTS, create_app  # noqa: E402


@pytest.fixture
def client():
    return TestClient(create_app(), base_url="http://127.0.0.1:8000")


def start(client, **settings):
    r = client.post("/api/session", json={"settings": settings})
    assert r.status_code == 200, r.text
    return r.json()


def train(client, sid, epochs):
    frame = None
    while frame is None or frame["epoch"] < epochs:
        frame = client.post(f"/api/session/{sid}/step", json={"epochs": epochs}).json()
    return frame


def weights(frame, layer):
    w = frame["network"]["weights"][layer]
    return np.frombuffer(base64.b64decode(w["data"]), "<f4").reshape(w["shape"])


def heat(frame, layer):
    """(nodes, r, r) values of one column of the picture, from the quantised bytes."""
    h, r = frame["network"]["layers"][layer], frame["network"]["resolution"]
    q = np.frombuffer(base64.b64decode(h["data"]), np.uint8).reshape(-1, r, r)
    return (q / 127.5 - 1) * np.array(h["scale"])[:, None, None]


def test_squared_inputs_let_a_linear_model_learn_circles_and_the_script_reproduces_it(
        client, tmp_path, monkeypatch, capsys):
    plain = start(client, dataset="circles", points=200, noise=0.05, hidden=[], lr=0.5)
    squares = start(client, dataset="circles", points=200, noise=0.05, hidden=[], lr=0.5,
                    features=["x2_sq", "x1_sq"])
    assert squares["settings"]["features"] == ["x1_sq", "x2_sq"]  # the registry's order
    assert weights(squares, 0).shape == (1, 2)
    assert squares["train"] == plain["train"]  # the same points, drawn in the data plane
    a, b = train(client, plain["id"], 300), train(client, squares["id"], 300)
    assert a["history"]["test_accuracy"][-1] < 0.8 < 0.95 < b["history"]["test_accuracy"][-1]
    assert b["grid"]["axis_labels"] == ["x1", "x2"]

    r = client.get(f"/api/session/{squares['id']}/export/config.toml")
    assert r.status_code == 400 and "cannot describe the input features x₁², x₂²" in r.text
    script = client.get(f"/api/session/{squares['id']}/export/script.py").text
    (tmp_path / "reproduce.py").write_text(script)
    monkeypatch.chdir(tmp_path)
    runpy.run_path("reproduce.py", run_name="__main__")
    accuracy = float(capsys.readouterr().out.split("test accuracy:")[1])
    assert accuracy == pytest.approx(b["history"]["test_accuracy"][-1], abs=1e-4)

    z = zipfile.ZipFile(io.BytesIO(
        client.get(f"/api/session/{squares['id']}/export/model.zip").content))
    assert "config.toml" not in z.namelist() and "reproduce.py" in z.namelist()
    assert json.loads(z.read("model.json"))["feature_names"] == ["x1_sq", "x2_sq"]


def test_the_feature_columns_are_the_scripts_expressions():
    X = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    cols = features.columns(X)
    x1, x2 = X[:, 0], X[:, 1]
    expected = [x1, x2, x1 * x1, x2 * x2, x1 * x2, np.sin(x1), np.sin(x2)]
    assert list(features.FEATURES) == ["x1", "x2", "x1_sq", "x2_sq", "x1_x2", "sin_x1", "sin_x2"]
    assert cols.dtype == np.float32 and np.array_equal(cols, np.column_stack(expected))


@pytest.mark.parametrize("value,needle", [
    (["x3"], "unknown input feature 'x3'"), ([], "at least one input feature"),
    ("x1", "features must be a list"), (["x1", 2], "unknown input feature 2"),
])
def test_bad_feature_lists_are_refused_with_one_line(client, value, needle):
    r = client.post("/api/session", json={"settings": {"features": value}})
    assert r.status_code == 400 and needle in r.json()["error"]
    assert client.app.state.sessions == {}


def test_a_feature_change_is_a_new_session_not_a_live_change(client):
    f = start(client, dataset="moons")
    r = client.post(f"/api/session/{f['id']}/settings", json={"settings": {"features": ["x1"]}})
    assert r.status_code == 400 and "features change the data or the network" in r.text


def test_heatmaps_are_what_each_node_computes_over_the_plane(client):
    f = start(client, dataset="moons", hidden=[5, 3], activation="tanh",
              features=["x1", "x2", "x1_x2"])
    session = client.app.state.sessions[f["id"]]
    f = train(client, f["id"], 20)
    net = f["network"]
    r = HEAT_RESOLUTION
    assert net["resolution"] == r
    assert [len(layer["scale"]) for layer in net["layers"]] == [7, 5, 3, 1]
    assert [w["shape"] for w in net["weights"]] == [[5, 3], [3, 5], [1, 3]]
    assert [x["active"] for x in net["features"]] == [True, True, False, False, True, False, False]
    # the plane the boundary covers, row 0 at the bottom: x1 grows along a row
    g = f["grid"]
    xx, yy = np.meshgrid(np.linspace(g["x_min"], g["x_max"], r),
                         np.linspace(g["y_min"], g["y_max"], r))
    plane = np.column_stack([xx.ravel(), yy.ravel()]).astype(np.float32)
    tol = lambda layer: np.array(net["layers"][layer]["scale"])[:, None] / 127.5 * 0.51
    inputs = heat(f, 0).reshape(7, -1)
    assert np.all(np.abs(inputs - features.columns(plane).T) <= tol(0))
    # the hidden and output nodes against the model run by autograd
    x = torch.as_tensor(session.scaler.transform(features.columns(plane, ["x1", "x2", "x1_x2"])))
    expected, h = [], x
    for module in session.model.layers:
        h = module(h)
        if isinstance(module, torch.nn.Tanh) or module is session.model.layers[-1]:
            expected.append(h.detach().numpy().T)
    for layer, want in enumerate(expected, start=1):
        assert np.all(np.abs(heat(f, layer).reshape(len(want), -1) - want) <= tol(layer))
    assert np.array_equal(weights(f, 1), session.model.layers[2].weight.detach().numpy())


def test_the_default_frame_stays_small(client):
    f = start(client)
    step = client.post(f"/api/session/{f['id']}/step", json={"epochs": 1})
    network = json.dumps(step.json()["network"])
    assert len(network) < 16_000 and len(step.content) < 64_000  # bytes: 13.8 KB, 46.9 KB


def test_an_edited_weight_is_trained_on_from_where_it_was_set(client):
    twin = start(client, dataset="moons", hidden=[4], seed=3)
    f = start(client, dataset="moons", hidden=[4], seed=3)
    train(client, f["id"], 5), train(client, twin["id"], 5)
    r = client.post(f"/api/session/{f['id']}/weight",
                    json={"layer": 1, "row": 0, "col": 2, "value": -7.5})
    assert r.status_code == 200
    edited = r.json()
    assert edited["epoch"] == 5 and weights(edited, 1)[0, 2] == -7.5
    assert edited["grid"] != train(client, twin["id"], 5)["grid"]  # its effect on the picture
    after = client.post(f"/api/session/{f['id']}/step", json={"epochs": 1}).json()
    plain = client.post(f"/api/session/{twin['id']}/step", json={"epochs": 1}).json()
    assert after["epoch"] == 6
    assert -7.6 < weights(after, 1)[0, 2] < -7.4  # the kernel trained the edited weight
    assert after["history"]["loss"][-1] != plain["history"]["loss"][-1]
    script = client.get(f"/api/session/{f['id']}/export/script.py").text
    assert "1 weight(s) were set by hand" in script


@pytest.mark.parametrize("body,needle", [
    ({"layer": 2, "row": 0, "col": 0, "value": 1}, "layer must be 0 to 1"),
    ({"layer": 0, "row": 4, "col": 0, "value": 1}, "layer 0 has weights [0..3][0..1]"),
    ({"layer": 0, "row": 0, "col": -1, "value": 1}, "got [0][-1]"),
    ({"layer": 0.5, "row": 0, "col": 0, "value": 1}, "layer must be a whole number"),
    ({"layer": 0, "row": 0, "col": 0, "value": math.nan}, "finite number within ±100"),
    ({"layer": 0, "row": 0, "col": 0, "value": math.inf}, "finite number within ±100"),
    ({"layer": 0, "row": 0, "col": 0, "value": 1e9}, "finite number within ±100"),
    ({"layer": 0, "row": 0, "col": 0, "value": "1"}, "finite number within ±100"),
    ({"layer": 0, "row": 0, "col": 0, "value": True}, "finite number within ±100"),
    ({"layer": 0, "row": 0, "col": 0}, "finite number within ±100"),
])
def test_a_bad_weight_edit_is_refused_with_one_line_and_changes_nothing(client, body, needle):
    f = start(client, dataset="moons", hidden=[4])
    session = client.app.state.sessions[f["id"]]
    before = [p.detach().clone() for p in session.model.parameters()]
    r = client.post(f"/api/session/{f['id']}/weight", content=json.dumps(body),
                    headers={"content-type": "application/json"})
    assert r.status_code == 400 and needle in r.json()["error"], r.text
    assert len(r.json()["error"].splitlines()) == 1
    assert all(torch.equal(a, b) for a, b in zip(before, session.model.parameters()))
    assert session.edits == 0


def test_new_data_is_another_draw_of_the_same_generator(client):
    f = start(client, dataset="moons", points=100, lr=0.3)
    g = start(client, dataset="moons", points=100, lr=0.3, data_draw=1)
    assert len(g["train"]) == len(f["train"]) and g["train"] != f["train"]
    assert {k: v for k, v in g["settings"].items() if k != "data_draw"} == \
        {k: v for k, v in f["settings"].items() if k != "data_draw"}
    config = client.get(f"/api/session/{g['id']}/export/config.toml").text
    assert "seed = 1" in config.split("[data.params]")[1]  # the generator's seed: seed + draw
    r = client.post("/api/session", json={"settings": {"data_draw": -1}})
    assert r.status_code == 400 and "data_draw must be between 0" in r.text


def test_options_carry_the_dataset_thumbnails_and_feature_labels(client):
    options = client.get("/api/options").json()
    assert set(options["thumbnails"]) == set(options["datasets"])
    for rows in options["thumbnails"].values():
        assert len(rows) == THUMBNAIL_POINTS and all(len(row) == 3 for row in rows)
    assert options["features"]["x1_sq"] == "x₁²"
    assert options["defaults"]["features"] == ["x1", "x2"]


CSV = {"content-type": "text/csv"}


def test_a_table_shows_its_own_columns_as_inputs_and_takes_no_added_features(client):
    import numpy as np
    rng = np.random.default_rng(0)
    rows = "".join(f"{a:.3f},{b:.3f},{c:.3f},{'yes' if a + c > 0 else 'no'}\n"
                   for a, b, c in rng.normal(size=(80, 3)))
    f = start(client, hidden=[3])
    r = client.post(f"/api/session/{f['id']}/upload", content="p,q,r,label\n" + rows,
                    headers=CSV)
    assert r.status_code == 200, r.text
    net = r.json()["network"]
    assert net["toggle"] is False and [x["label"] for x in net["features"]] == ["p", "q", "r"]
    assert weights(r.json(), 0).shape == (3, 3) and len(net["layers"][0]["scale"]) == 3
    refused = client.post("/api/session", json={"id": f["id"], "settings": {
        **r.json()["settings"], "features": ["x1", "x1_sq"]}})
    assert refused.status_code == 400 and "need 2 numeric columns" in refused.json()["error"]


def test_features_apply_to_an_uploaded_two_column_csv(client):
    f = start(client)
    text = "a,b,kind\n" + "".join(f"{i % 7},{i % 5},{'x' if i % 3 else 'y'}\n" for i in range(60))
    up = client.post(f"/api/session/{f['id']}/upload", content=text, headers=CSV).json()
    g = client.post("/api/session", json={"id": f["id"], "settings": {
        **up["settings"], "features": ["x1", "x2", "x1_x2"]}}).json()  # keeps the upload
    assert g["network"]["toggle"] is True and weights(g, 0).shape[1] == 3
    assert g["train"] == up["train"] and g["grid"]["axis_labels"] == ["a", "b"]
