"""Regenerate the pictures in docs/images/ used by the README and the tutorial.

Run from the repository root: ``python docs/make_figures.py``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from matplotlib.figure import Figure

import torchclf as tc
from torchclf import recipes
from torchclf.plots import plot_data, save_figure

OUT = Path(__file__).resolve().parent / "images"


def main() -> None:
    OUT.mkdir(exist_ok=True)
    save_figure(plot_data(tc.datasets.circles(n_samples=1000, noise=0.03, seed=42)),
                OUT / "circles-data.png")
    for name, boundary, curves in (("circles-linear", "circles-linear-boundary.png", None),
                                   ("circles-relu", "circles-relu-boundary.png",
                                    "circles-relu-curves.png"),
                                   ("moons", "moons-boundary.png", None),
                                   ("blobs", "blobs-boundary.png", None),
                                   ("spirals", "spirals-boundary.png", None)):
        run = tc.run_config(recipes.load(name))
        save_figure(run.plot_boundary(), OUT / boundary)
        if curves:
            save_figure(run.plot_curves(), OUT / curves)
    moons = tc.run_config(recipes.load("moons").replace("train", log_every=20))
    moons.animate_boundary(OUT / "moons-boundary.gif")  # 51 frames, the tutorial's GIF
    x = torch.linspace(-5, 5, 401)
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(x, torch.tanh(x), lw=4, alpha=0.4, label="torch.tanh")
    ax.plot(x, tc.manual_tanh(x), "--", label="tc.manual_tanh")
    ax.set_title("tanh by hand")
    ax.legend()
    ax.grid(alpha=0.3)
    save_figure(fig, OUT / "tanh.png")


if __name__ == "__main__":
    main()
