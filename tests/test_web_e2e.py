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
    page.click("#play")  # the same button pauses
    assert canvas(page) != before
    assert accuracy(page, "test") > max(first, 0.95)
    assert "dataset=moons" in page.url and ("hidden=8%2C8" in page.url
                                            or "hidden=8,8" in page.url)
    shot = tmp_path / "playground.png"
    page.screenshot(path=str(shot))  # docs/images/playground.png is made the same way
    assert shot.read_bytes()[:4] == b"\x89PNG"

    n_before = page.evaluate("frame.train.length")
    box = page.locator("#boundary").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 3)
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


# -- the page at a desktop width and on a 390 px phone ---------------------------------------

DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}
WIDTHS = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])


@pytest.fixture
def open_page(server, browser):
    """``open_page(hash, viewport)``: a page at ``#hash`` with its first session drawn,
    as a phone opens it at the phone's width (a phone browser honours the viewport
    meta, else it lays the page out 980 px wide). JS errors go to ``page.errors``,
    answers of 400 and up to ``page.failed``; the pages close after the test."""
    opened = []

    def open_(hash_, viewport=DESKTOP, **kwargs):
        phone = viewport["width"] < 500
        page = browser.new_page(viewport=viewport, is_mobile=phone, has_touch=phone, **kwargs)
        opened.append(page)
        page.errors, page.failed = [], []
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        page.on("response", lambda r: page.failed.append(r.url) if r.status >= 400 else None)
        page.goto(f"{server}/#{hash_}")
        page.wait_for_selector("#confusion tr")
        return page
    yield open_
    for page in opened:
        page.close()


def change(page, selector, value):
    """Type a value and leave the field, as a user does (the change event)."""
    page.fill(selector, str(value))
    page.press(selector, "Tab")


def epoch(page):
    return int(page.text_content("#epoch"))


def wait_epoch(page, n):
    page.wait_for_function(f"document.getElementById('epoch').textContent === '{n}'")


def hash_params(page):
    from urllib.parse import parse_qs, urlsplit
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).fragment).items()}


# The centre pixel of unoccluded test points (no later marker within 14 px), with the
# colour of their class; misclassified ones carry a dark cross through the centre.
TEST_POINT_PIXELS = """() => {
  const c = document.getElementById('boundary'), ctx = c.getContext('2d'), g = frame.grid;
  const pts = frame.test.map((p, i) => { const [x, y] = toCanvas(p[0], p[1], g, c);
    return {x, y, i, color: colorOf(p[2]), wrong: frame.test_pred[i] !== p[2]}; });
  return pts.filter((q) => pts.every((o) => o.i <= q.i || Math.hypot(o.x - q.x, o.y - q.y) > 14))
    .map((q) => { const d = ctx.getImageData(Math.round(q.x), Math.round(q.y), 1, 1).data;
      return {pixel: '#' + [...d.slice(0, 3)].map((v) => v.toString(16).padStart(2, '0')).join(''),
              color: q.color.toLowerCase(), wrong: q.wrong}; });
}"""


@WIDTHS
def test_test_points_wear_their_class_colour_and_wrong_ones_a_cross(open_page, viewport):
    page = open_page("dataset=blobs&classes=4&points=160&noise=1.5", viewport)
    points = page.evaluate(TEST_POINT_PIXELS)
    right = [p for p in points if not p["wrong"]]
    wrong = [p for p in points if p["wrong"]]
    assert right and wrong  # epoch 0: some of each
    assert all(p["pixel"] == p["color"] for p in right)
    dark = lambda hex_: max(int(hex_[i:i + 2], 16) for i in (1, 3, 5)) < 90
    assert all(dark(p["pixel"]) and not dark(p["color"]) for p in wrong)
    page.uncheck("#show_wrong")  # the crosses are a toggle: the class colour shows again
    assert all(p["pixel"] == p["color"] for p in page.evaluate(TEST_POINT_PIXELS))
    assert "misclassified" in page.get_attribute("#boundary", "aria-label")
    assert "dark edge: test" in page.text_content("#legend")
    assert page.errors == []


@WIDTHS
@pytest.mark.parametrize("link,needle", [("dataset=custom&points=100", "upload a CSV"),
                                         ("points=999999", "too many points"),
                                         ("dataset=moons&lr=abc", "lr must be a number")])
def test_a_link_the_server_refuses_shows_why_and_the_default_set_up_works(
        open_page, viewport, link, needle):
    page = open_page(link, viewport)
    assert needle in page.text_content("#error")
    assert "default set-up" in page.text_content("#error")
    defaults = page.evaluate("OPTIONS.defaults")
    assert page.evaluate("frame.settings") == defaults
    assert hash_params(page)["dataset"] == defaults["dataset"] == page.input_value("#dataset")
    page.click("#step")
    wait_epoch(page, 1)
    page.click("#play")
    page.wait_for_function("Number(document.getElementById('epoch').textContent) > 1")
    page.click("#play")
    assert page.errors == []


@WIDTHS
def test_editing_the_url_hash_applies_the_new_set_up_at_once(open_page, viewport):
    page = open_page("dataset=moons&points=100", viewport)
    page.click("#step")
    wait_epoch(page, 1)
    page.evaluate("location.hash = 'dataset=blobs&classes=4&points=120'")
    page.wait_for_function("frame.classes.length === 4")
    assert page.input_value("#dataset") == "blobs" and page.input_value("#classes") == "4"
    assert epoch(page) == 0 and page.locator("#click_class option").count() == 4
    page.evaluate("location.hash = 'dataset=blobs&points=99999999'")  # refused: back to blobs
    page.wait_for_function("document.getElementById('error').textContent.includes('too many')")
    assert hash_params(page)["points"] == "120" and page.input_value("#points") == "120"
    assert page.errors == []


def visible_and_on_top(page, selector):
    """Scrolled into view, is the element inside the viewport and the one a tap hits?"""
    el = page.locator(selector)
    el.scroll_into_view_if_needed()
    return page.evaluate("""(el) => { const r = el.getBoundingClientRect();
      const x = r.left + r.width / 2, y = r.top + r.height / 2;
      const hit = document.elementFromPoint(x, y);
      return r.width > 0 && r.left >= 0 && r.right <= innerWidth && r.top >= 0
        && r.bottom <= innerHeight && (hit === el || el.contains(hit)); }""", el.element_handle())


@WIDTHS
def test_every_control_fits_the_width_and_can_be_reached(open_page, viewport):
    page = open_page("dataset=moons&points=100", viewport)
    assert page.evaluate("innerWidth") == viewport["width"]  # laid out at the real width
    assert "width=device-width" in page.evaluate(
        "document.querySelector('meta[name=viewport]')?.content || ''")
    ids = page.evaluate("""[...document.querySelectorAll(
        '#controls input, #controls select, #controls button, #buttons button, #exports a, '
        + '#exports button')].map((e) => e.id).filter(Boolean)""")
    assert {"play", "step", "reset", "lr", "epochs", "export_model", "share"} <= set(ids)
    for selector in ["#epoch", *(f"#{i}" for i in ids)]:
        assert visible_and_on_top(page, selector), selector
    width = viewport["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scroll
    assert page.locator("#boundary").bounding_box()["width"] <= min(width, 482)
    if width == PHONE["width"]:  # the picture and its buttons first, the settings under them
        top = lambda selector: page.locator(selector).bounding_box()["y"]
        assert top("#step") < top("#dataset")
    controls = page.locator("#controls").bounding_box()["width"]
    page.click("#share")  # a long URL wraps in its line; it squeezes nothing
    page.wait_for_function("document.getElementById('info').textContent.includes('#dataset=')")
    assert page.locator("#controls").bounding_box()["width"] == controls
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.text_content("#error") == "" and page.errors == []


def test_click_adds_class_and_the_data_controls_follow_the_dataset(open_page, tmp_path):
    page = open_page("dataset=moons&points=100")
    options = lambda: page.eval_on_selector_all("#click_class option", "os => os.map(o => o.text)")
    assert options() == ["0", "1"]
    assert page.is_disabled("#classes") and page.is_enabled("#noise") and page.is_enabled("#points")
    page.select_option("#dataset", "blobs")
    page.wait_for_function("frame.settings.dataset === 'blobs'")
    assert page.is_enabled("#classes")
    change(page, "#classes", 4)
    page.wait_for_function("frame.classes.length === 4")
    assert options() == ["0", "1", "2", "3"]
    csv = tmp_path / "kinds.csv"
    csv.write_text("a,b,kind\n" + "".join(f"{i % 7},{i % 5},{'xyz'[i % 3]}\n" for i in range(30)))
    with page.expect_response(lambda r: r.url.endswith("/upload")):
        page.set_input_files("#upload", str(csv))
    page.wait_for_function("frame.settings.dataset === 'custom'")
    assert options() == ["x", "y", "z"]
    assert all(page.is_disabled(f"#{k}") for k in ("noise", "points", "classes"))
    page.select_option("#dataset", "moons")
    page.wait_for_function("frame.settings.dataset === 'moons'")
    assert options() == ["0", "1"] and page.is_disabled("#classes")
    assert page.errors == []


CONTRAST = """() => [...document.querySelectorAll('#confusion td')].map((td) => {
  const bg = getComputedStyle(td).backgroundColor.match(/[\\d.]+/g).map(Number);
  const ink = getComputedStyle(td).color.match(/[\\d.]+/g).map(Number);
  return {count: Number(td.textContent), bg, ink};
})"""


def _luminance(rgb):
    c = [v / 255 for v in rgb]
    c = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in c]
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]


@WIDTHS
def test_legend_axes_curves_and_a_shaded_confusion_matrix(open_page, viewport):
    page = open_page("dataset=blobs&classes=4&points=200&noise=1.5", viewport)
    for n in (1, 2, 3):
        page.click("#step")
        wait_epoch(page, n)
    counts = page.evaluate("frame.counts")
    entries = page.locator("#legend .entry")
    assert entries.count() == 4
    for i in range(4):
        assert entries.nth(i).text_content().strip() == (
            f"{i} {counts['train'][i]} train / {counts['test'][i]} test")
    label = page.get_attribute("#boundary", "aria-label")
    assert "x1 across" in label and "x2 up" in label
    ink = page.evaluate("""() => { const c = document.getElementById('boundary');  // tick labels
      const d = c.getContext('2d').getImageData(0, 0, PLOT.left - 6, c.height).data;
      let dark = 0; for (let i = 0; i < d.length; i += 4) dark += d[i] < 100; return dark; }""")
    assert ink > 50
    texts = page.eval_on_selector_all("#curves text", "ts => ts.map(t => t.textContent)")
    assert {"loss", "accuracy", "epoch", "100%", "0%"} <= set(texts)
    assert page.locator("#curves polyline").count() == 4  # train and test on both panels
    key, plot = page.locator("#curve_key").bounding_box(), page.locator("#curves").bounding_box()
    assert key["y"] + key["height"] <= plot["y"]  # the key sits above the lines
    cells = page.evaluate(CONTRAST)
    top = max(cells, key=lambda c: c["count"])
    assert top["count"] > 0 and len(top["bg"]) == 4 and top["bg"][3] > 0.5  # shaded by count
    for cell in cells:
        rgb = [cell["bg"][3] * v + (1 - cell["bg"][3]) * 255 for v in cell["bg"][:3]] \
            if len(cell["bg"]) == 4 else cell["bg"]
        hi, lo = sorted([_luminance(rgb), _luminance(cell["ink"][:3])], reverse=True)
        assert (hi + 0.05) / (lo + 0.05) >= 4.5, cell  # readable on every shade
    assert page.errors == []


@WIDTHS
def test_play_shows_its_state_stops_at_the_cap_and_live_changes_keep_the_epoch(
        open_page, viewport):
    page = open_page("dataset=moons&points=100&epochs=200&lr=0.1", viewport)
    page.click("#play")
    assert page.get_attribute("#play", "aria-pressed") == "true"
    assert "Pause" in page.text_content("#play")
    page.wait_for_function("document.getElementById('info').textContent.includes('epoch cap')")
    assert epoch(page) == 200
    assert "reached the epoch cap (200): raise Epochs or Reset" in page.text_content("#info")
    assert page.get_attribute("#play", "aria-pressed") == "false"
    assert "Play" in page.text_content("#play") and page.is_disabled("#play")
    assert page.text_content("#error") == ""  # a notice, not an error
    change(page, "#epochs", 300)  # raising the cap: training may go on, from epoch 200
    page.wait_for_function("frame.max_epochs === 300")
    assert page.is_enabled("#play") and epoch(page) == 200 and hash_params(page)["epochs"] == "300"
    change(page, "#lr", 0.5)
    page.wait_for_function("frame.settings.lr === 0.5")
    assert "learning rate is now 0.5: training goes on from epoch 200" in page.text_content("#info")
    page.click("#step")
    wait_epoch(page, 201)
    assert page.evaluate("frame.history.epoch.slice(-2)") == [200, 201]
    change(page, "#lr", -1)  # refused: the field and the URL go back, training is untouched
    page.wait_for_function("document.getElementById('error').textContent.includes('learning')")
    assert page.input_value("#lr") == "0.5" and hash_params(page)["lr"] == "0.5"
    change(page, "#points", 999999)
    page.wait_for_function("document.getElementById('error').textContent.includes('too many')")
    assert page.input_value("#points") == "100" and hash_params(page)["points"] == "100"
    assert epoch(page) == 201
    page.click("[aria-label='add a neuron to layer 1']")  # structural: a new start
    wait_epoch(page, 0)
    assert page.evaluate("frame.settings.hidden[0]") == 9 and page.text_content("#error") == ""
    assert page.errors == []


@WIDTHS
def test_a_slow_answer_shows_a_busy_sign(open_page, viewport):
    page = open_page("dataset=moons&points=100", viewport)
    assert page.is_hidden("#busy")
    page.evaluate("""() => { const real = window.fetch;  // the server answers slowly now
      window.fetch = (...a) => new Promise((r) => setTimeout(r, 900)).then(() => real(...a)); }""")
    page.click("#step")
    page.wait_for_selector("#busy", state="visible", timeout=2000)
    assert page.get_attribute("#view", "aria-busy") == "true"
    wait_epoch(page, 1)
    page.wait_for_selector("#busy", state="hidden")
    assert page.get_attribute("#view", "aria-busy") == "false" and page.errors == []


@WIDTHS
def test_keyboard_names_colour_blind_palette_shapes_and_favicon(open_page, viewport):
    page = open_page("dataset=blobs&classes=8&points=240", viewport, accept_downloads=True)
    page.wait_for_timeout(200)
    assert page.failed == []  # the favicon included
    assert page.evaluate("fetch('/favicon.ico').then((r) => r.status)") == 200
    focused = []
    page.focus("#reset")
    for _ in range(12):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.id"))
        if focused[-1] == "share":
            break
    assert {"export_config", "export_model", "export_script", "share"} <= set(focused)
    page.focus("#export_config")
    with page.expect_download() as info:
        page.keyboard.press("Enter")
    assert info.value.suggested_filename == "config.toml"
    names = page.eval_on_selector_all("#layers button, #add_layer, #remove_layer",
                                      "bs => bs.map(b => b.getAttribute('aria-label'))")
    assert names == ["remove a neuron from layer 1", "add a neuron to layer 1",
                     "remove a neuron from layer 2", "add a neuron to layer 2",
                     "add a layer", "remove layer 2"]
    colours = page.eval_on_selector_all("#legend .entry", "es => es.map(e => e.dataset.color)")
    shapes = page.eval_on_selector_all("#legend .entry", "es => es.map(e => e.dataset.shape)")
    assert len(set(shapes)) == 8  # a second cue besides colour
    assert min_distance_with_colour_blindness(colours) > 40
    assert min_distance_with_colour_blindness(
        ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"]) < 40  # the old palette's red and green


def min_distance_with_colour_blindness(colours):
    """The closest two colours as protanopes and deuteranopes see them (Machado et al.
    2009, severity 1, in linear RGB; distance in 0-255 sRGB)."""
    import numpy as np
    sims = {"protan": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                       [-0.003882, -0.048116, 1.051998]],
            "deutan": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                       [-0.011820, 0.042940, 0.968881]]}
    rgb = np.array([[int(h[i:i + 2], 16) for i in (1, 3, 5)] for h in colours]) / 255
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    best = np.inf
    for m in sims.values():
        seen = np.clip(linear @ np.array(m).T, 0, 1)
        seen = 255 * np.where(seen <= 0.0031308, 12.92 * seen, 1.055 * seen ** (1 / 2.4) - 0.055)
        d = np.linalg.norm(seen[:, None] - seen[None], axis=-1)
        best = min(best, d[np.triu_indices(len(colours), 1)].min())
    return best


# -- the network graph, input features, discretized output, new data, thumbnails ------------

LINK_STATE = """() => [...document.querySelectorAll('#network .link')].map((l) => ({
  w: weightAt(+l.dataset.layer, +l.dataset.row, +l.dataset.col),
  stroke: l.getAttribute('stroke'), width: Number(l.getAttribute('stroke-width'))}))"""


def point_at_link(page, i):
    """Scroll the i-th link to the middle of the window; the window point half way along it
    (a level link has a box of no height, which Playwright calls invisible)."""
    return page.evaluate("""(i) => {
      const l = [...document.querySelectorAll('#network .link')].at(i);
      l.scrollIntoView({block: 'center', inline: 'center'});
      const r = l.getBoundingClientRect();
      return [r.left + r.width / 2, r.top + r.height / 2]; }""", i)


def fits_or_scrolls(page, width):
    """The graph's box fits the window; a wider graph scrolls inside it, not the page."""
    box = page.locator("#network_box").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    return page.evaluate("getComputedStyle(document.getElementById('network_box')).overflowX")


@WIDTHS
def test_the_network_is_a_graph_of_heatmaps_whose_weights_can_be_read_and_edited(
        open_page, viewport):
    page = open_page("dataset=moons&points=100&hidden=4,3", viewport)
    assert page.locator("#network image").count() == 7 + 4 + 3 + 1
    assert page.evaluate("[...document.querySelectorAll('#network image')]"
                         ".every((i) => i.getAttribute('href').startsWith('data:image/png'))")
    links = page.evaluate(LINK_STATE)
    assert len(links) == 2 * 4 + 4 * 3 + 3 * 1
    for link in links:  # colour by sign, width by size
        assert link["stroke"] == ("rgb(0,114,178)" if link["w"] >= 0 else "rgb(213,94,0)")
    big, small = max(links, key=lambda x: abs(x["w"])), min(links, key=lambda x: abs(x["w"]))
    assert big["width"] > small["width"]
    assert fits_or_scrolls(page, viewport["width"]) == "auto"

    page.mouse.move(*point_at_link(page, -2))  # reading a weight: hover (links to the
    w = page.evaluate(LINK_STATE)[-2]["w"]  # output cross no other link half way)...
    assert f"{w:.4f}" in page.text_content("#weight_info")
    page.focus("#network .feature >> nth=0")  # ...or the keyboard: one Tab stop, arrows move
    assert page.evaluate("document.activeElement.dataset.feature") == "x1"
    page.keyboard.press("End")
    last = page.evaluate(LINK_STATE)[-1]["w"]
    assert "output" in page.text_content("#weight_info")
    assert f"{last:.4f}" in page.text_content("#weight_info")
    page.keyboard.press("Enter")  # editing it
    assert page.is_visible("#weight_edit") and page.evaluate(
        "document.activeElement.id") == "weight_value"
    before = canvas(page)
    page.fill("#weight_value", "6")
    page.press("#weight_value", "Enter")
    page.wait_for_function("weightAt(2, 0, 2) === 6")
    assert page.is_hidden("#weight_edit") and epoch(page) == 0
    assert "is now 6" in page.text_content("#info")
    assert canvas(page) != before  # the next frame shows its effect
    widths = [x["width"] for x in page.evaluate(LINK_STATE)]
    assert widths[-1] == max(widths)
    page.mouse.click(*point_at_link(page, -3))  # a click edits too; a huge value is refused
    page.fill("#weight_value", "1e9")
    page.press("#weight_value", "Enter")
    page.wait_for_function("document.getElementById('error').textContent.includes('±100')")
    assert page.is_visible("#weight_edit") and page.errors == []


@WIDTHS
def test_input_features_toggle_on_the_input_layer_and_start_again(open_page, viewport):
    page = open_page("dataset=circles&points=100&hidden=3", viewport)
    page.click("#step")
    wait_epoch(page, 1)
    assert page.locator("#network .link").count() == 2 * 3 + 3
    page.click("#network [data-feature='x1_sq']")
    page.wait_for_function("frame.settings.features.includes('x1_sq')")
    assert epoch(page) == 0 and hash_params(page)["features"] == "x1,x2,x1_sq"
    assert page.get_attribute("#network [data-feature='x1_sq']", "aria-checked") == "true"
    assert page.locator("#network .link").count() == 3 * 3 + 3
    assert page.get_attribute("#export_config", "href") is None  # a config cannot say x1²
    assert "cannot describe the inputs x₁²" in page.text_content("#export_note")
    page.focus("#network [data-feature='x1_sq']")
    page.keyboard.press("ArrowUp")  # to x2, then Space turns it off
    page.keyboard.press(" ")
    page.wait_for_function("frame.settings.features.join() === 'x1,x1_sq'")
    assert page.get_attribute("#network [data-feature='x2']", "aria-checked") == "false"
    assert page.get_attribute("#export_config", "href") is None
    for feature in ("x1", "x1_sq"):  # every input off: refused, the inputs stay
        page.click(f"#network [data-feature='{feature}']")
        if feature == "x1":
            page.wait_for_function("frame.settings.features.join() === 'x1_sq'")
    page.wait_for_function("document.getElementById('error').textContent.includes('at least')")
    assert hash_params(page)["features"] == "x1_sq" and page.errors == []
    fits_or_scrolls(page, viewport["width"])


# Plot pixels on a lattice, away from every point marker, and the tints the classes' hard
# regions wear (the same mixing as drawBoundary, at the discretized strength).
REGION_PIXELS = """() => {
  const c = document.getElementById('boundary'), ctx = c.getContext('2d'), g = frame.grid;
  const b = plotBox(c);
  const marks = [...frame.train, ...frame.test].map((p) => toCanvas(p[0], p[1], g, c));
  const out = [];
  for (let x = b.x + 4; x < b.x + b.w - 4; x += 9)
    for (let y = b.y + 4; y < b.y + b.h - 4; y += 9) {
    if (marks.some(([mx, my]) => Math.hypot(mx - x, my - y) < 10)) continue;
    out.push([...ctx.getImageData(Math.round(x), Math.round(y), 1, 1).data.slice(0, 3)].join());
  }
  const a = regionAlpha(0, true);
  const tints = frame.classes.map((_, k) =>
    hex(colorOf(k)).map((v) => Math.round(255 - a * (255 - v))).join());
  return {pixels: out, tints};
}"""


@WIDTHS
def test_discretized_output_new_data_and_dataset_thumbnails(open_page, viewport):
    page = open_page("dataset=moons&points=40&noise=0.2&lr=0.3", viewport)
    thumbs = page.locator("#thumbs .thumb")
    assert thumbs.count() == len(page.evaluate("OPTIONS.datasets"))
    assert page.get_attribute("#thumbs [data-dataset='moons']", "aria-pressed") == "true"
    page.click("#thumbs [data-dataset='circles']")  # a picture is a button with its name
    page.wait_for_function("frame.settings.dataset === 'circles'")
    assert page.input_value("#dataset") == "circles" and hash_params(page)["lr"] == "0.3"
    assert page.get_attribute("#thumbs [data-dataset='circles']", "aria-pressed") == "true"
    assert page.get_attribute("#thumbs [data-dataset='moons']", "aria-pressed") == "false"
    assert "circles" in page.text_content("#thumbs [data-dataset='circles']")

    shaded = page.evaluate(REGION_PIXELS)
    assert len(set(shaded["pixels"])) > 10  # confidence: many shades
    page.check("#discretize")
    hard = page.evaluate(REGION_PIXELS)
    assert len(hard["pixels"]) > 100 and set(hard["pixels"]) <= set(hard["tints"])

    page.click("#step")
    wait_epoch(page, 1)
    points = page.evaluate("frame.train")
    page.click("#regenerate")
    page.wait_for_function("frame.settings.data_draw === 1")
    assert epoch(page) == 0 and page.evaluate("frame.train") != points
    assert len(page.evaluate("frame.train")) == len(points)
    assert hash_params(page)["data_draw"] == "1" and hash_params(page)["lr"] == "0.3"
    assert "new data: draw 1 of circles" in page.text_content("#info")
    assert page.errors == []


def test_a_bundled_table_from_the_menu_trains_on_its_pca_plane(open_page):
    page = open_page("dataset=moons&points=100&noise=0.2")
    menu = page.eval_on_selector_all("#dataset option", "os => os.map(o => [o.value, o.disabled])")
    tables = page.evaluate("Object.keys(OPTIONS.tables)")
    assert [name for name, _ in menu] == [*page.evaluate("OPTIONS.datasets"), *tables, "custom"]
    assert not any(disabled for _, disabled in menu)  # every table fits, digits included
    page.select_option("#dataset", "wine")
    page.wait_for_function("frame.settings.dataset === 'wine'")
    # a table brings its rows and classes, as an upload does: the generator controls are off
    assert all(page.is_disabled(f"#{k}") for k in ("noise", "points", "classes", "regenerate"))
    assert "178 rows, 13 features, 3 classes, drawn on their PCA plane" in page.text_content("#info")
    assert page.evaluate("frame.grid.view") == "pca" and hash_params(page)["dataset"] == "wine"
    before = canvas(page)
    page.click("#play")
    page.wait_for_function("Number(document.getElementById('epoch').textContent) >= 200")
    page.click("#play")
    assert canvas(page) != before  # the boundary is redrawn as the model learns
    assert page.evaluate("frame.history.test_accuracy.at(-1)") > 0.9  # chance: 1/3
    # wine's long column names fit beside their nodes, the longest (28 characters) with
    # its middle cut; each whole in its tooltip
    labels = page.eval_on_selector_all("#network text", "ts => ts.map(t => [t.textContent, "
                                       "t.getBBox().x, t.parentNode.querySelector('title')"
                                       ".textContent])")
    assert len(labels) == 13 and all(x >= 0 for _, x, _ in labels)
    shown = {tip.split(":")[0]: text for text, _, tip in labels}
    assert shown["alcalinity_of_ash"] == "alcalinity_of_ash"
    cut = shown["od280/od315_of_diluted_wines"]
    assert "…" in cut and "od280/od315_of_diluted_wines".startswith(cut.split("…")[0]) \
        and "od280/od315_of_diluted_wines".endswith(cut.split("…")[1])
    assert page.text_content("#error") == "" and page.errors == [] and page.failed == []


def test_digits_ten_classes_each_have_their_own_colour_and_marker(open_page):
    page = open_page("dataset=digits")
    page.wait_for_function("frame && frame.classes.length === 10")
    colours = page.eval_on_selector_all("#legend .entry", "es => es.map(e => e.dataset.color)")
    shapes = page.eval_on_selector_all("#legend .entry", "es => es.map(e => e.dataset.shape)")
    assert len(set(colours)) == 10 and len(set(shapes)) == 10
    # the two added colours keep the closest pair as far apart as Okabe-Ito's 8 alone
    assert min_distance_with_colour_blindness(colours) == pytest.approx(
        min_distance_with_colour_blindness(colours[:8]))
    assert page.text_content("#error") == "" and page.errors == [] and page.failed == []
