"""Regenerate docs/images/playground.gif: the playground training spirals, as it plays.

Serves the playground, opens it in headless Chromium (Debian's chromium), presses Play
and screenshots the boundary and the network as the frames stream in; Pillow makes the
GIF (under 2 MB). ``python docs/make_playground_gif.py``
"""

from __future__ import annotations

import io
import time
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

from make_screenshot import serve  # docs/: the script's own folder

OUT = Path(__file__).resolve().parent / "images" / "playground.gif"
SETUP = "dataset=spirals&classes=3&points=450&hidden=10,10&activation=tanh&epochs=100000&lr=0.3"
SHOTS, EVERY = 36, 0.25   # screenshots and seconds between them
WIDTH, COLORS = 420, 96  # pixels across, palette entries per frame


def main() -> None:
    url = f"{serve()}#{SETUP}"
    images = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1000, "height": 1100})
        page.goto(url)
        page.wait_for_selector("#confusion tr")
        page.click("#play")
        for _ in range(SHOTS):
            time.sleep(EVERY)
            shot = page.screenshot(clip=_clip(page))
            images.append(_small(Image.open(io.BytesIO(shot))))
        page.click("#play")
        browser.close()
    durations = [120] * (len(images) - 1) + [2000]
    images[0].save(OUT, format="GIF", save_all=True, append_images=images[1:],
                   duration=durations, loop=0, optimize=True)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.2f} MB, {len(images)} frames)")


def _clip(page) -> dict:
    """From the buttons to the bottom of the network picture."""
    top = page.locator("#buttons").bounding_box()
    net = page.locator("#network_box").bounding_box()
    return {"x": top["x"] - 4, "y": top["y"] - 4, "width": max(top["width"], net["width"]) + 8,
            "height": net["y"] + net["height"] - top["y"] + 8}


def _small(image: Image.Image) -> Image.Image:
    height = round(image.height * WIDTH / image.width)
    image = image.convert("RGB").resize((WIDTH, height), Image.LANCZOS)
    return image.quantize(COLORS, dither=Image.Dither.NONE)


if __name__ == "__main__":
    main()
