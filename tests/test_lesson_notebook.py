"""docs/lesson.ipynb runs top to bottom in a real kernel and teaches what it says.

The stored notebook has no outputs; this runs a copy (with this checkout's src first
on sys.path) and checks the training cell printed the lesson's lines as it trained,
the boundary and curve cells show images, and the test accuracy reached 95%.
"""

import base64
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "docs" / "lesson.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code")
    nb.cells.insert(0, nbformat.v4.new_code_cell(
        f"import sys\nsys.path.insert(0, {str(ROOT / 'src')!r})"))
    client = nbclient.NotebookClient(nb, timeout=240, kernel_name="python3",
                                     allow_errors=False, resources={"metadata": {
                                         "path": str(tmp_path_factory.mktemp("lesson"))}})
    client.execute()
    return [c for c in nb.cells[1:] if c.cell_type == "code"]


def stdout(cell):
    return "".join(o.get("text", "") for o in cell.outputs
                   if o.output_type == "stream" and o.name == "stdout")


def cell_with(cells, text):
    (cell,) = [c for c in cells if text in c.source]
    return cell


def test_training_prints_the_lessons_line_every_100_epochs(executed):
    text = stdout(cell_with(executed, "tc.fit("))
    epochs = [int(line.split("|")[0].split()[-1]) for line in text.splitlines()
              if line.startswith("Epoch:")]
    assert epochs[:10] == list(range(0, 1000, 100))
    assert "Test acc:" in text


def test_test_accuracy_reaches_95_percent(executed):
    text = stdout(cell_with(executed, "predict_proba"))
    assert "predicted" in text
    accuracy = float(re.search(r"test accuracy ([\d.]+)%", text).group(1))
    assert accuracy >= 95.0


@pytest.mark.parametrize("call", ["run.plot_boundary()", "run.plot_curves()"])
def test_plots_show_as_images(executed, call):
    images = [o.data["image/png"] for o in cell_with(executed, call).outputs
              if "image/png" in o.get("data", {})]
    assert len(images) == 1
    assert base64.b64decode(images[0]).startswith(b"\x89PNG")
