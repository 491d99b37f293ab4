"""Training watched in a real notebook: a headless Jupyter kernel runs the cells.

The lesson's lines reach the cell's output while fit runs, and ``live=True`` shows one
picture that is redrawn in place (display_data, then update_display_data messages).
"""

import base64
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

SRC = Path(__file__).resolve().parents[1] / "src"

CELLS = [
    f"import sys\nsys.path.insert(0, {str(SRC)!r})\nimport torchclf as tc\n"
    "train, test = tc.datasets.moons(n_samples=200, noise=0.1, seed=0)"
    ".split(test_size=0.25, seed=0)",
    "run = tc.fit(tc.MLP(2, (8,), 2, seed=0), train, test, epochs=30, log_every=10)",
    "live = tc.fit(tc.MLP(2, (8,), 2, seed=0), train, test, epochs=30, log_every=10,\n"
    "              verbose=False, live=True)",
]


class Recorder(nbclient.NotebookClient):
    """A client that notes every message type each cell received."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.messages = []

    def process_message(self, msg, cell, cell_index):
        self.messages.append((cell_index, msg["msg_type"], msg["content"]))
        return super().process_message(msg, cell, cell_index)


@pytest.fixture(scope="module")
def executed():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(code) for code in CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    client = Recorder(nb, timeout=240, kernel_name="python3", allow_errors=False,
                      resources={"metadata": {"path": str(SRC.parent)}})
    client.execute()
    return nb, client.messages


def test_fit_prints_the_lessons_lines_into_the_cell(executed):
    nb, messages = executed
    text = "".join(o.get("text", "") for o in nb.cells[1].outputs
                   if o.output_type == "stream" and o.name == "stdout")
    epochs = [line.split("|")[0].split()[-1] for line in text.splitlines()
              if line.startswith("Epoch:")]
    assert epochs == ["0", "10", "20", "29"]
    assert "Test acc:" in text
    # printed as training ran: stream messages, not a value shown at the end
    assert any(i == 1 and kind == "stream" for i, kind, _ in messages)


def test_live_fit_redraws_one_picture_in_place(executed):
    nb, messages = executed
    outputs = nb.cells[2].outputs
    images = [o for o in outputs if o.output_type == "display_data"
              and "image/png" in o.get("data", {})]
    assert len(images) == 1  # one output area, updated in place
    assert base64.b64decode(images[0].data["image/png"]).startswith(b"\x89PNG")
    kinds = [kind for i, kind, _ in messages if i == 2]
    assert kinds.count("display_data") == 1
    updates = [c for i, kind, c in messages if i == 2 and kind == "update_display_data"]
    assert updates and all("image/png" in c["data"] for c in updates)
    # the picture left in the cell is the last one drawn
    assert images[0].data["image/png"] == updates[-1]["data"]["image/png"]
    assert not [o for o in outputs if o.output_type == "stream"]  # verbose=False
