"""The playground in a real headless Chromium, against a real server on 127.0.0.1."""

import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (scripts/setup.sh installs it)",
                allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api")
uvicorn = pytest.importorskip("uvicorn")

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
        # DNS rebinding, for real: the attacker's name resolves to this machine
        "--host-resolver-rules=MAP evil.example 127.0.0.1"]


@pytest.fixture(scope="module")
def server():
    from torchclf.web.server import create_app
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(), log_level="warning"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def canvas(page):
    return page.evaluate("document.getElementById('boundary').toDataURL()")


def accuracy(page, which):
    text = page.text_content(f"#{which}_acc")
    return float(text.rstrip("%")) / 100


def test_train_moons_watch_it_learn_add_points_and_export(server, browser, tmp_path):
    page = browser.new_page(accept_downloads=True, viewport={"width": 1000, "height": 1100})
    # the first session of a fresh server pays torch's one-time start-up (about a second):
    # wait for the session itself, not for a fixed time, before pressing Step
    with page.expect_response(lambda r: r.url.endswith("/api/session")
                              and r.request.method == "POST"):
        page.goto(f"{server}/#dataset=moons&points=300&noise=0.1&hidden=8,8&lr=0.1&epochs=3000")
    page.wait_for_function("document.getElementById('epoch').textContent === '0'")
    page.wait_for_timeout(300)
    before = canvas(page)
    page.click("#step")
    page.wait_for_selector("#test_acc")
    first = accuracy(page, "test")
    page.click("#play")
    page.wait_for_function("Number(document.getElementById('epoch').textContent) >= 1500",
                           timeout=60_000)
    page.click("#pause")
    assert canvas(page) != before
    assert accuracy(page, "test") > max(first, 0.95)
    assert "dataset=moons" in page.url and ("hidden=8%2C8" in page.url
                                            or "hidden=8,8" in page.url)
    shot = tmp_path / "playground.png"
    page.screenshot(path=str(shot))  # docs/images/playground.png is made the same way
    assert shot.read_bytes()[:4] == b"\x89PNG"

    n_before = page.evaluate("frame.train.length")
    box = page.locator("#boundary").bounding_box()
    page.mouse.click(box["x"] + 40, box["y"] + 40)
    page.wait_for_function(f"frame.train.length === {n_before + 1}")

    with page.expect_download() as info:
        page.click("#export_script")
    script = tmp_path / "reproduce.py"
    info.value.save_as(script)
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "test accuracy:" in out.stdout


def test_two_tabs_train_separately(server, browser):
    a = browser.new_page()
    b = browser.new_page()
    a.goto(f"{server}/#dataset=moons&points=200")
    b.goto(f"{server}/#dataset=spirals&classes=4&points=200&optimizer=adam&lr=0.01")
    for page in (a, b):
        page.wait_for_selector("#confusion tr")
    a.click("#step")
    a.wait_for_function("document.getElementById('epoch').textContent === '1'")
    assert b.text_content("#epoch") == "0"
    assert a.evaluate("frame.classes.length") == 2 and b.evaluate("frame.classes.length") == 4
    assert a.evaluate("sessionId") != b.evaluate("sessionId")


def test_labels_from_an_upload_are_shown_as_text_never_run_as_html(server, browser, tmp_path):
    attack = '<img src=x onerror="window.__xss = 1">'
    rows = [f"{x},{y},{attack if x > 0 else 'plain'}" for x in (-2, -1, 1, 2) for y in (-1, 0, 1)]
    csv = tmp_path / "labels.csv"
    csv.write_text("x1,x2,label\n" + "\n".join(rows) + "\n")
    page = browser.new_page()
    page.goto(f"{server}/#dataset=moons&points=200")
    page.wait_for_selector("#confusion tr")
    with page.expect_response(lambda r: r.url.endswith("/upload")):
        page.set_input_files("#upload", str(csv))
    page.wait_for_function("frame.classes.includes('plain')")
    page.wait_for_timeout(300)  # an injected onerror would have fired by now
    assert page.evaluate("window.__xss") is None
    assert page.evaluate("document.querySelectorAll('#confusion img, #click_class img').length") == 0
    assert attack in page.text_content("#confusion")
    assert attack in page.evaluate("[...document.querySelectorAll('#click_class option')]"
                                   ".map((o) => o.textContent).join(' ')")



# A page on another origin that tries to train someone's session: a simple (no preflight)
# cross-origin fetch, and an HTML form whose text/plain body is valid JSON. It is served
# from this machine too: Chromium itself blocks public pages from reaching 127.0.0.1, a
# local page (another app, another port) it lets through, and then only the server refuses.
ATTACK = """<form method="POST" enctype="text/plain" action="{url}">
<input name='{{"epochs": 50, "pad": "' value='"}}'></form>"""


def test_another_site_cannot_reach_or_change_a_session(server, browser, tmp_path):
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
    page = browser.new_page()
    page.goto(f"{server}/#dataset=moons&points=200")
    page.wait_for_selector("#confusion tr")
    step = f"{server}/api/session/{page.evaluate('sessionId')}/step"
    port = server.rsplit(":", 1)[1]

    rebound = browser.new_page()  # evil.example now resolves to 127.0.0.1
    answer = rebound.goto(f"http://evil.example:{port}/")
    assert answer.status == 403 and "does not answer to host" in rebound.content()

    (tmp_path / "attack.html").write_text(ATTACK.format(url=step))
    other = ThreadingHTTPServer(("127.0.0.1", 0),
                                partial(SimpleHTTPRequestHandler, directory=tmp_path))
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        attacker = browser.new_page()
        attacker.goto(f"http://127.0.0.1:{other.server_address[1]}/attack.html")
        with attacker.expect_response(step) as fetched:
            attacker.evaluate(f"""fetch({step!r}, {{method: "POST", mode: "no-cors",
                headers: {{"Content-Type": "text/plain"}}, body: '{{"epochs": 50}}'}})""")
        with attacker.expect_response(step) as posted:
            attacker.evaluate("document.forms[0].submit()")
    finally:
        other.shutdown()
    assert fetched.value.status == 403 and posted.value.status == 403
    assert "another site" in attacker.content()
    # the page's own step is the session's first: neither attack trained it
    assert page.evaluate(f"api({step[len(server):]!r}, {{epochs: 1}}).then((f) => f.epoch)") == 1
