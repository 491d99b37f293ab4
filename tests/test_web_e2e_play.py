"""Play streams, Pause stops, a closed tab stops training; the scrubber replays the
boundary and exports it as a GIF. Real Chromium against a real server, at 1280 and
390 px."""

import io
import socket
import threading
import time
from pathlib import Path

import pytest

from test_web_e2e import CHROMIUM, playwright, uvicorn  # skipped as it is without chromium
from test_web_stream import settled

DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}
WIDTHS = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])


@pytest.fixture(scope="module")
def server():
    """(url, app): the app's sessions and streams are looked at directly."""
    from torchclf.web.server import create_app
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    app = create_app()
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", app
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture
def open_page(server, browser):
    opened = []

    def open_(hash_, viewport, **kwargs):
        phone = viewport["width"] < 500
        page = browser.new_page(viewport=viewport, is_mobile=phone, has_touch=phone, **kwargs)
        opened.append(page)
        page.errors = []
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        page.goto(f"{server[0]}/#{hash_}")
        page.wait_for_selector("#confusion tr")
        return page
    yield open_
    for page in opened:
        if not page.is_closed():
            page.close()


def epoch(page):
    return int(page.text_content("#epoch"))


def canvas(page):
    return page.evaluate("document.getElementById('boundary').toDataURL()")


def until(check, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@WIDTHS
def test_play_streams_binary_frames_pause_stops_them_and_a_closed_tab_frees_its_stream(
        server, open_page, viewport):
    app = server[1]
    page = open_page("dataset=moons&epochs=100000", viewport)
    messages = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda m: messages.append(m)))
    sid = page.evaluate("sessionId")
    page.click("#play")
    page.wait_for_function("Number(document.getElementById('epoch').textContent) > 100")
    assert sid in app.state.streams
    page.click("#play")  # Pause
    assert page.get_attribute("#play", "aria-pressed") == "false"
    # frames that were in flight arrive and are drawn; then nothing trains on
    shown, received = settled(lambda: (epoch(page), len(messages)))
    assert shown == app.state.sessions[sid].epoch and received > 3
    assert all(isinstance(m, bytes) and m[:4] == b"TCF1" for m in messages)
    assert page.evaluate("frame.history.epoch.at(-1)") == shown
    page.close()
    until(lambda: sid not in app.state.streams and sid not in app.state.sessions)
    assert page.errors == []


@WIDTHS
def test_the_scrubber_shows_a_kept_frames_boundary_and_exports_a_gif(
        server, open_page, viewport):
    from PIL import Image
    page = open_page("dataset=moons", viewport, accept_downloads=True)
    untrained = canvas(page)  # epoch 0: the replay's first frame
    for n in (1, 2, 3):
        page.click("#step")
        page.wait_for_function(f"frame.history.epoch.length === {n}")
    live = canvas(page)
    assert live != untrained
    assert page.get_attribute("#scrub", "max") == "3"
    page.focus("#scrub")
    page.keyboard.press("Home")  # drag to the start: the boundary of epoch 0
    page.wait_for_function("document.getElementById('scrub_info').textContent"
                           ".startsWith('replay: epoch 0')")
    assert canvas(page) == untrained
    page.keyboard.press("ArrowRight")
    page.wait_for_function("document.getElementById('scrub_info').textContent"
                           ".startsWith('replay: epoch 1 ')")
    assert canvas(page) not in (untrained, live)
    page.keyboard.press("End")  # the right end: the live model again
    page.wait_for_function("document.getElementById('scrub_info').textContent"
                           ".startsWith('live')")
    assert canvas(page) == live
    with page.expect_download() as download:
        page.click("#export_gif")
    gif = Image.open(io.BytesIO(Path(download.value.path()).read_bytes()))
    assert gif.format == "GIF" and gif.n_frames == 4  # epochs 0, 1, 2, 3
    assert page.errors == []


@WIDTHS
def test_a_b_trains_two_set_ups_side_by_side_with_their_curves_on_one_chart(
        server, open_page, viewport):
    app = server[1]
    page = open_page("dataset=moons&epochs=100000", viewport)
    assert page.is_hidden("#b_panel")
    page.click("#ab")
    page.wait_for_function("frameB !== null")
    a, b = page.evaluate("[sessionId, sessionB]")
    assert a != b and {a, b} <= set(app.state.sessions)
    page.fill("#b_hidden", "3")  # B: its own network on A's data
    page.press("#b_hidden", "Tab")
    page.wait_for_function("frameB.settings.hidden.join() === '3'")
    assert app.state.sessions[b].settings.hidden == (3,)
    assert app.state.sessions[b].data is not app.state.sessions[a].data  # its own session
    assert page.evaluate("JSON.stringify(frameB.train) === JSON.stringify(frame.train)")
    page.click("#play")  # Play drives both
    page.wait_for_function("frame.epoch > 50 && frameB.epoch > 50")
    page.click("#play")
    until(lambda: app.state.sessions[a].epoch == page.evaluate("frame.epoch")
          and app.state.sessions[b].epoch == page.evaluate("frameB.epoch"))
    assert canvas(page) != page.evaluate("document.getElementById('boundary_b').toDataURL()")
    titles = page.evaluate("[...document.querySelectorAll('#curves polyline title')]"
                           ".map((t) => t.textContent)")
    assert titles == [f"{run} {kind} {panel}" for panel in ("loss", "accuracy")
                      for run in "AB" for kind in ("train", "test")]
    assert page.text_content("#curve_key").split() == \
        ["━", "A", "train", "╍", "A", "test", "━", "B", "train", "╍", "B", "test"]
    for box in ("#boundary", "#boundary_b", "#b_lr"):  # both fit the width (stacked on a phone)
        assert page.locator(box).bounding_box()["x"] + page.locator(box).bounding_box()[
            "width"] <= viewport["width"]
    page.fill("#b_lr", "-1")  # refused: B's field goes back, B keeps training where it was
    page.press("#b_lr", "Tab")
    page.wait_for_function("document.getElementById('b_error').textContent.includes('lr')")
    assert page.input_value("#b_lr") == str(app.state.sessions[b].settings.lr)
    page.click("#ab")  # off: B's session is closed
    until(lambda: b not in app.state.sessions)
    assert page.is_hidden("#b_panel") and page.text_content("#curve_key").split()[1] == "train"
    assert page.errors == []


# a browser (or a proxy) where no WebSocket opens
NO_WEBSOCKET = """window.WebSocket = class {
  constructor() { this.readyState = 3; setTimeout(() => this.onclose && this.onclose({}), 0); }
  send() {} close() {}
};"""


def test_where_no_websocket_opens_play_steps_by_requests(server, open_page):
    page = open_page("dataset=moons&epochs=60", DESKTOP)
    page.add_init_script(NO_WEBSOCKET)
    page.reload()
    page.wait_for_selector("#confusion tr")
    page.click("#play")
    page.wait_for_function("document.getElementById('info').textContent.includes('epoch cap')")
    assert epoch(page) == 60 and page.evaluate("useHttp") is True
    assert page.errors == []
