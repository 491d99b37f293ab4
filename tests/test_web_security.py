"""The playground refuses other sites: foreign Host headers (DNS rebinding), changes from
other origins (CSRF), bodies of other types; and ``torchclf playground`` refuses bad ports."""

import socket
import subprocess
import sys

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from torchclf.web.server import create_app  # noqa: E402
from torchclf.web.session import Settings  # noqa: E402

EVIL = "http://evil.example"
CSV = "a,b,kind\n" + "".join(f"{i % 7},{i % 5},{'x' if i % 2 else 'y'}\n" for i in range(40))


@pytest.fixture
def client():
    return TestClient(create_app(), base_url="http://127.0.0.1:8000")


@pytest.fixture
def trained(client):
    """A session five epochs in: (its id, the session object)."""
    sid = client.post("/api/session", json={"settings": {"dataset": "moons"}}).json()["id"]
    assert client.post(f"/api/session/{sid}/step", json={"epochs": 5}).json()["epoch"] == 5
    return sid, client.app.state.sessions[sid]


def unchanged(client, sid, session):
    """The session is still there, the same object, still five epochs in, at its rate,
    with no weight set by hand."""
    assert client.app.state.sessions.get(sid) is session and session.epoch == 5
    assert session.edits == 0
    assert session.opt.param_groups[0]["lr"] == session.settings.lr == Settings().lr
    return True


@pytest.mark.parametrize("method,path", [("GET", "/"), ("GET", "/static/app.js"),
                                         ("GET", "/api/options"), ("POST", "/api/session")])
@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example",
                                  "localhost@evil.example", ""])
def test_a_foreign_host_is_refused_everywhere(client, method, path, host):
    r = client.request(method, path, headers={"host": host}, json={"settings": {}})
    assert r.status_code == 403
    assert "does not answer to host" in r.json()["error"] and "--allow-host" in r.json()["error"]
    assert client.app.state.sessions == {}  # a rebinding page started nothing


@pytest.mark.parametrize("host", ["localhost", "localhost:8000", "127.0.0.1", "127.0.0.1:8000",
                                  "[::1]:8000", "LOCALHOST:8000"])
def test_local_names_with_or_without_a_port_are_served(client, host):
    for path in ("/", "/static/app.js", "/api/options"):
        assert client.get(path, headers={"host": host}).status_code == 200, (host, path)


def test_the_bound_address_and_allowed_names_are_served_and_nothing_else():
    client = TestClient(create_app(["192.168.1.5", "play.example"]), base_url="http://x")
    for host in ("192.168.1.5:8000", "play.example", "localhost:8000"):
        assert client.get("/", headers={"host": host}).status_code == 200, host
    assert client.get("/", headers={"host": "192.168.1.6:8000"}).status_code == 403


@pytest.mark.parametrize("origin", [EVIL, "null", "http://localhost:8000",
                                    "http://127.0.0.1:3000", "http://127.0.0.1:8000.evil.example"])
def test_changes_from_another_origin_are_refused_and_the_session_is_untouched(client, trained,
                                                                              origin):
    sid, session = trained
    bad = {"origin": origin}
    attempts = [client.post(f"/api/session/{sid}/step", json={"epochs": 5}, headers=bad),
                client.post("/api/session", json={"id": sid, "settings": {}}, headers=bad),
                client.post(f"/api/session/{sid}/points", json={"x": 0, "y": 0, "label": 0},
                            headers=bad),
                client.post(f"/api/session/{sid}/settings", json={"settings": {"lr": 5.0}},
                            headers=bad),
                client.post(f"/api/session/{sid}/weight", headers=bad,
                            json={"layer": 0, "row": 0, "col": 0, "value": 5.0}),
                client.post(f"/api/session/{sid}/upload", content=CSV,
                            headers={**bad, "content-type": "text/csv"}),
                client.delete(f"/api/session/{sid}", headers=bad)]
    for r in attempts:
        assert r.status_code == 403 and "another site" in r.json()["error"], r.text
    assert unchanged(client, sid, session) and len(client.app.state.sessions) == 1


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
def test_changes_a_browser_marks_as_from_another_site_are_refused(client, trained, site):
    sid, session = trained
    r = client.post(f"/api/session/{sid}/step", json={"epochs": 5},
                    headers={"sec-fetch-site": site})
    assert r.status_code == 403 and site in r.json()["error"]
    assert unchanged(client, sid, session)


@pytest.mark.parametrize("kind", ["text/plain", "application/x-www-form-urlencoded",
                                  "multipart/form-data; boundary=x", None])
def test_bodies_a_cross_site_form_can_send_are_refused_with_415(client, trained, kind):
    sid, session = trained
    headers = {"content-type": kind} if kind else {}
    for path, body in [("/api/session", f'{{"id": "{sid}", "settings": {{}}}}'),
                       (f"/api/session/{sid}/step", '{"epochs": 5}'),
                       (f"/api/session/{sid}/settings", '{"settings": {"lr": 5.0}}'),
                       (f"/api/session/{sid}/weight", '{"layer": 0, "row": 0, "col": 0, '
                                                      '"value": 5.0}'),
                       (f"/api/session/{sid}/upload", CSV)]:
        r = client.post(path, content=body, headers=headers)
        assert r.status_code == 415, (path, r.text)
        assert "Content-Type: " in r.json()["error"] and len(r.text.splitlines()) == 1
    assert unchanged(client, sid, session)


def test_the_pages_own_requests_are_accepted(client, trained):
    sid, session = trained
    own = {"origin": "http://127.0.0.1:8000", "sec-fetch-site": "same-origin"}
    r = client.post(f"/api/session/{sid}/step", json={"epochs": 3}, headers=own)
    assert r.status_code == 200 and r.json()["epoch"] == 8
    r = client.post(f"/api/session/{sid}/upload", content=CSV,
                    headers={**own, "content-type": "text/csv; charset=utf-8"})
    assert r.status_code == 200 and r.json()["classes"] == ["x", "y"]
    typed = {"host": "localhost", "sec-fetch-site": "none"}  # a URL typed in the address bar
    assert client.delete(f"/api/session/{sid}", headers=typed).status_code == 200


def test_the_page_cannot_be_framed_or_sniffed(client):
    r = client.get("/")
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"


def playground(*args, cwd):
    return subprocess.run([sys.executable, "-m", "torchclf", "playground", "--no-browser",
                           *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=60)


def one_line_exit_2(proc, needle):
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("torchclf") and needle in lines[0], lines
    return True


@pytest.mark.parametrize("args,needle", [
    (["--port", "70000"], "port >= 0 and <= 65,535"),
    (["--port=-1"], "port >= 0 and <= 65,535"),
    (["--port", "80.5"], "expected a whole number"),
    (["--port", "abc"], "expected a whole number"),
    (["--port", "0", "--allow-host", "evil example"], "not a host name"),
])
def test_bad_playground_flags_exit_2_with_one_line(tmp_path, args, needle):
    assert one_line_exit_2(playground(*args, cwd=tmp_path), needle)
    assert not list(tmp_path.iterdir())


def test_a_port_in_use_exits_2_with_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = playground("--port", port, cwd=tmp_path)
    assert one_line_exit_2(proc, f"cannot listen on 127.0.0.1 port {port}")
    assert "choose another --port" in proc.stderr and not list(tmp_path.iterdir())
