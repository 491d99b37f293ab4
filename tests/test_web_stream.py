"""Play as a stream: binary frames say what the JSON frames say, Play and Pause start and
stop them, a slow client is not flooded, and the stream's handshake is guarded."""

import base64
import copy
import time

import numpy as np
import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402
from starlette.websockets import WebSocketDisconnect  # noqa: E402

from torchclf.web import frames  # noqa: E402
from torchclf.web.server import create_app  # noqa: E402
from torchclf.web.stream import IN_FLIGHT  # noqa: E402

BASE = "http://127.0.0.1:8000"
WS = "ws://127.0.0.1:8000"


@pytest.fixture
def client():
    return TestClient(create_app(), base_url=BASE)


def start(client, **settings):
    r = client.post("/api/session", json={"settings": settings})
    assert r.status_code == 200, r.text
    return r.json()


def settled(read, quiet=0.3, seconds=10.0):
    """``read()`` once it has not changed for ``quiet`` seconds."""
    deadline, value = time.monotonic() + seconds, read()
    while time.monotonic() < deadline:
        time.sleep(quiet)
        if read() == value:
            return value
        value = read()
    raise AssertionError("still changing")


def same_frame(binary: dict, json_frame: dict) -> None:
    """Everything equal; the confidences within the uint8 quantisation."""
    b, j = copy.deepcopy(binary), copy.deepcopy(json_frame)
    bg, jg = b.pop("grid"), j.pop("grid")
    conf_b, conf_j = np.array(bg.pop("confidence")), np.array(jg.pop("confidence"))
    assert np.abs(conf_b - conf_j).max() <= 0.5 / frames.CONFIDENCE_LEVELS + 1e-4
    assert bg == jg
    assert b == j


@pytest.mark.parametrize("settings", [{}, {"dataset": "spirals", "classes": 3, "hidden": [5, 3],
                                          "features": ["x1", "x2", "x1_x2", "sin_x1"]}])
def test_a_binary_frame_decodes_to_the_json_frame(client, settings):
    sid = start(client, **settings)["id"]
    client.post(f"/api/session/{sid}/step", json={"epochs": 3})
    json_frame = client.post(f"/api/session/{sid}/step", json={"epochs": 4}).json()
    message = frames.encode(json_frame)
    assert len(message) < len(json_frame.__repr__()) / 2  # compact: well under the JSON
    same_frame(frames.decode(message), json_frame)
    # only the rows after history_start travel; the client's rows make up the rest
    earlier = {k: v[:1] for k, v in json_frame["history"].items()}
    same_frame(frames.decode(frames.encode(json_frame, 1), earlier), json_frame)


def test_heatmaps_and_weights_travel_as_raw_bytes(client):
    frame = start(client)
    message = frames.encode(frame)
    for layer in frame["network"]["layers"]:
        assert base64.b64decode(layer["data"]) in message
    for w in frame["network"]["weights"]:
        assert base64.b64decode(w["data"]) in message


def test_play_streams_frames_that_add_up_to_the_sessions_history(client):
    first = start(client)
    sid = first["id"]
    with client.websocket_connect(f"{WS}/api/session/{sid}/stream") as ws:
        ws.send_json({"play": True})
        frame = first
        for _ in range(5):
            frame = frames.decode(ws.receive_bytes(), frame["history"])
            ws.send_json({"ack": 1})
        ws.send_json({"play": False})
        session = client.app.state.sessions[sid]
        stopped = settled(lambda: session.epoch)  # a frame in training when Pause came ends
        ws.send_json({"ack": 1})  # acknowledgements do not restart it
        time.sleep(0.3)
        assert session.epoch == stopped >= frame["epoch"] >= 5
        last = client.post(f"/api/session/{sid}/step", json={"epochs": 1}).json()
    assert last["history"]["epoch"][:len(frame["history"]["epoch"])] == frame["history"]["epoch"]
    assert last["history"]["test_accuracy"][:len(frame["history"]["epoch"])] \
        == frame["history"]["test_accuracy"]
    assert client.app.state.streams == set()  # the closed stream is gone


def test_a_client_that_does_not_acknowledge_gets_at_most_two_frames(client):
    sid = start(client)["id"]
    session = client.app.state.sessions[sid]
    with client.websocket_connect(f"{WS}/api/session/{sid}/stream") as ws:
        ws.send_json({"play": True})
        got = [frames.decode(ws.receive_bytes()) for _ in range(IN_FLIGHT)]
        time.sleep(0.3)
        assert session.epoch == got[-1]["epoch"]  # it waits for the page to draw
        ws.send_json({"ack": 1})
        assert frames.decode(ws.receive_bytes())["epoch"] > got[-1]["epoch"]


def test_play_stops_at_the_epoch_cap(client):
    sid = start(client, epochs=30)["id"]
    with client.websocket_connect(f"{WS}/api/session/{sid}/stream") as ws:
        ws.send_json({"play": True})
        frame = frames.decode(ws.receive_bytes())
        while frame["epoch"] < 30:
            ws.send_json({"ack": 1})
            frame = frames.decode(ws.receive_bytes())
    assert frame["epoch"] == 30 == client.app.state.sessions[sid].epoch


def test_a_reset_session_streams_its_own_history(client):
    sid = start(client)["id"]
    with client.websocket_connect(f"{WS}/api/session/{sid}/stream") as ws:
        ws.send_json({"play": True})
        frames.decode(ws.receive_bytes())
        ws.send_json({"play": False})
        new = client.post("/api/session", json={"id": sid, "settings": {"seed": 3}}).json()
        assert new["id"] == sid and new["epoch"] == 0
        ws.send_json({"ack": 1})
        ws.send_json({"ack": 1})
        ws.send_json({"play": True})
        while True:  # frames of the old session may still be in flight
            frame = frames.decode(ws.receive_bytes(), new["history"])
            ws.send_json({"ack": 1})
            if frame["settings"]["seed"] == 3:
                break
        ws.send_json({"play": False})
    last = client.post(f"/api/session/{sid}/step", json={"epochs": 1}).json()
    n = len(frame["history"]["epoch"])
    assert {k: v[:n] for k, v in last["history"].items()} == frame["history"]  # none of the old


def test_one_stream_per_session_and_none_for_unknown_sessions(client):
    sid = start(client)["id"]
    with client.websocket_connect(f"{WS}/api/session/{sid}/stream"):
        with pytest.raises(WebSocketDisconnect) as e:
            with client.websocket_connect(f"{WS}/api/session/{sid}/stream"):
                pass
        assert "already streams" in e.value.reason
    with pytest.raises(WebSocketDisconnect) as e:
        with client.websocket_connect(f"{WS}/api/session/{'0' * 32}/stream"):
            pass
    assert "expired" in e.value.reason


@pytest.mark.parametrize("headers", [{"origin": "http://evil.example"},
                                     {"host": "evil.example:8000"},
                                     {"sec-fetch-site": "cross-site"}])
def test_the_streams_handshake_refuses_other_sites(client, headers):
    sid = start(client)["id"]
    with pytest.raises(WebSocketDisconnect) as e:
        with client.websocket_connect(f"{WS}/api/session/{sid}/stream", headers=headers):
            pass
    assert e.value.code == 1008
    assert client.app.state.sessions[sid].epoch == 0 and client.app.state.streams == set()


def test_the_pages_own_origin_may_stream(client):
    sid = start(client)["id"]
    with client.websocket_connect(f"{WS}/api/session/{sid}/stream",
                                  headers={"origin": BASE}) as ws:
        ws.send_json({"play": True})
        assert frames.decode(ws.receive_bytes())["epoch"] > 0


@pytest.mark.parametrize("send,reason", [
    (lambda ws: ws.send_text("not json"), "not JSON"),
    (lambda ws: ws.send_bytes(b'{"play": true}'), "not binary"),
    (lambda ws: ws.send_text("[" * 5000 + "]" * 5000), "not JSON"),  # past the parser's stack
    (lambda ws: ws.send_text('{"play": [[[[[[1]]]]]]}'), "nests at most"),
    (lambda ws: ws.send_text('{"play": "false"}'), "play must be true or false"),
    (lambda ws: ws.send_text("[1]"), "small JSON object"),
])
def test_a_malformed_message_closes_the_stream_with_1003_and_a_reason(client, send, reason):
    sid = start(client)["id"]
    with client.websocket_connect(f"{WS}/api/session/{sid}/stream") as ws:
        send(ws)
        with pytest.raises(WebSocketDisconnect) as e:
            ws.receive_bytes()
    assert e.value.code == 1003 and reason in e.value.reason
    assert "\n" not in e.value.reason
    assert client.app.state.streams == set()


def test_the_replay_keeps_at_most_200_frames_evenly_spread_from_the_start():
    import torch
    from torchclf.web.replay import MAX_FRAMES, Replay
    replay, model = Replay(), torch.nn.Linear(2, 2)
    for epoch in range(0, 1000):
        replay.add(epoch, model)
    replay.add(999, model)  # nothing trained since: not kept twice
    epochs = [f.epoch for f in replay.frames]
    assert len(epochs) <= MAX_FRAMES and epochs[0] == 0 and len(epochs) > MAX_FRAMES // 2
    assert len(set(np.diff(epochs))) == 1  # evenly spread
    assert epochs[-1] > 1000 - 2 * np.diff(epochs)[0]  # up to the latest


def test_a_big_network_keeps_fewer_frames_within_the_memory_bound():
    import torch
    from torchclf.web.replay import MAX_BYTES, Replay
    replay, model = Replay(), torch.nn.Linear(64, 64 * 6)  # about the largest network
    for epoch in range(500):
        replay.add(epoch, model)
    size = sum(p.numel() * 4 for p in model.parameters())
    assert 10 < len(replay) and len(replay) * size <= MAX_BYTES
    assert replay.frames[0].epoch == 0 and replay.frames[-1].epoch > 400


def test_a_replayed_frame_is_the_boundary_of_its_weights_and_bad_requests_are_refused(client):
    first = start(client)
    sid = first["id"]
    later = client.post(f"/api/session/{sid}/step", json={"epochs": 30}).json()
    assert later["replay_frames"] == 2
    zero = client.get(f"/api/session/{sid}/replay/0").json()
    assert zero["epoch"] == 0 and zero["count"] == 2
    assert zero["grid"] == first["grid"] and zero["test_pred"] == first["test_pred"]
    assert client.get(f"/api/session/{sid}/replay/1").json()["grid"] == later["grid"]
    for path, words in ((f"replay/2", "frame must be 0 to 1"),
                        ("export/replay.gif?frames=x", "whole number"),
                        ("export/replay.gif?frames=100000", "max_frames")):
        r = client.get(f"/api/session/{sid}/{path}")
        assert r.status_code == 400 and words in r.json()["error"], (path, r.text)
    assert client.get("/api/session/nope/replay/0").status_code == 400


def test_divergence_during_play_ends_the_stream_with_the_step_requests_message(client, caplog):
    from helpers import DEEP, DIVERGING_LR
    sid = start(client, hidden=list(DEEP), lr=DIVERGING_LR, epochs=5000)["id"]
    with client.websocket_connect(f"{WS}/api/session/{sid}/stream") as ws:
        ws.send_json({"play": True})
        message = None
        for _ in range(1000):  # frames until the loss blows up, then the error
            got = ws.receive()
            if got.get("text") is not None:
                message = got["text"]
                break
            assert got["type"] == "websocket.send", got
            ws.send_json({"ack": 1})
        assert message is not None and "training diverged" in message
        with pytest.raises(WebSocketDisconnect) as e:
            ws.receive_bytes()
    import json
    error = json.loads(message)["error"]
    assert error.startswith("training diverged at epoch") and "lower the learning rate" in error
    assert e.value.code == 4400 and e.value.reason == error
    assert client.app.state.streams == set()
    assert not [r for r in caplog.records if "RuntimeError" in r.getMessage()
                or r.exc_info and r.exc_info[0] is RuntimeError]
    step = client.post(f"/api/session/{sid}/step", json={"epochs": 1})
    assert step.status_code == 400 and "training diverged" in step.json()["error"]
