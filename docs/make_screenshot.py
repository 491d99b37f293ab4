"""Regenerate docs/images/playground.png: serve the playground, train moons, screenshot.

Needs Debian's chromium: ``python docs/make_screenshot.py``.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

from torchclf.web.server import create_app

OUT = Path(__file__).resolve().parent / "images" / "playground.png"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def serve() -> str:
    """A playground on a free local port, in a daemon thread; its URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(), log_level="warning"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{sock.getsockname()[1]}/"


def main() -> None:
    url = serve() + "#dataset=spirals&classes=3&points=450" \
        "&noise=0.2&hidden=16,16&optimizer=adam&lr=0.02&epochs=800"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 1000})
        page.goto(url)
        page.wait_for_selector("#confusion tr")
        page.click("#play")
        page.wait_for_function("document.getElementById('epoch').textContent === '800'",
                               timeout=120_000)
        page.screenshot(path=str(OUT))
        browser.close()


if __name__ == "__main__":
    main()
