"""Writes docs/lesson.md: each step of the lesson, the lesson's code, the torchclf call,
and the lines both print, side by side.

    PYTHONPATH=src python docs/make_lesson.py

The lesson's code and printed lines are copied from its notebooks (the seeds of issue 13);
torchclf's lines are computed when this runs. tests/test_lesson_log.py checks that the
committed docs/lesson.md is what this script writes.
"""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

from torchclf import recipes
from torchclf.cli.console import LessonPrinter
from torchclf.experiment import run_config

OUT = Path(__file__).resolve().parent / "lesson.md"
NUMBER = re.compile(r"\d+\.\d+")

STEPS = [
    dict(recipe="circles-linear", title="The circles: CircleModelV0, two linear layers",
         code='''\
X, y = make_circles(1000, noise=0.03, random_state=42)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)

class CircleModelV0(nn.Module):
  def __init__(self):
    super().__init__()
    self.layer_1 = nn.Linear(in_features=2, out_features=5)
    self.layer_2 = nn.Linear(in_features=5, out_features=1)
  def forward(self, x):
    return self.layer_2(self.layer_1(x))

loss_fn = nn.BCEWithLogitsLoss()
optimizer = torch.optim.SGD(params=model_0.parameters(), lr=0.1)''',
         note="The lesson's notebook builds this model without setting a seed and prints "
              "no training log; torchclf starts from torch.manual_seed(42)."),
    dict(recipe="circles-linear-3layer", title="The circles: more linear layers still fail",
         code='''\
nn.Sequential(nn.Linear(2, 10), nn.Linear(10, 10), nn.Linear(10, 1))''',
         note="Without an activation, any stack of linear layers is one straight line."),
    dict(recipe="moons", title="Exercise: the moons, MoonModelV0",
         code='''\
X, y = make_moons(n_samples=1000, noise=0.03, random_state=42)
model_0 = MoonModelV0().to(device)   # 2-8-8-1 with ReLU, built before any seed is set
loss_fn = nn.BCEWithLogitsLoss()
optimizer = torch.optim.SGD(params=model_0.parameters(), lr=0.1)
torch.manual_seed(RANDOM_SEED)       # set after the model exists
...
  if epoch % 100 == 0:
    print(f"Epoch: {epoch} | Loss: {loss:.4f} | Acc: {acc:.2f} | Test loss: {test_loss:.4f} | Test acc: {test_acc:.2f}")''',
         log='''\
Epoch: 0 | Loss: 0.6688 | Acc: 0.86 | Test loss: 0.6687 | Test acc: 0.85
Epoch: 100 | Loss: 0.2867 | Acc: 0.86 | Test loss: 0.2984 | Test acc: 0.87
Epoch: 200 | Loss: 0.2327 | Acc: 0.89 | Test loss: 0.2356 | Test acc: 0.90
Epoch: 300 | Loss: 0.2202 | Acc: 0.90 | Test loss: 0.2229 | Test acc: 0.89
Epoch: 400 | Loss: 0.2118 | Acc: 0.90 | Test loss: 0.2164 | Test acc: 0.90
Epoch: 500 | Loss: 0.2062 | Acc: 0.90 | Test loss: 0.2129 | Test acc: 0.88
Epoch: 600 | Loss: 0.2028 | Acc: 0.91 | Test loss: 0.2112 | Test acc: 0.88
Epoch: 700 | Loss: 0.2010 | Acc: 0.90 | Test loss: 0.2105 | Test acc: 0.88
Epoch: 800 | Loss: 0.1999 | Acc: 0.90 | Test loss: 0.2101 | Test acc: 0.88
Epoch: 900 | Loss: 0.1993 | Acc: 0.90 | Test loss: 0.2099 | Test acc: 0.88''',
         note="Not a seeded run: the model is built before torch.manual_seed, and its "
              "printed untrained logits ([-0.0356, 0.0421, ...]) are no seed's we can name, "
              "so the numbers differ; torchclf's start from manual_seed(42) and pass the "
              "exercise's 96%."),
    dict(recipe="spirals", title="Exercise: the CS231n spirals, Adam",
         code='''\
np.random.seed(42)   # CS231n's spirals: 100 points per class, 3 classes
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
model_1 = SpiralModel().to(device)   # 2-8-8-3 with ReLU, the generator still at seed 42
loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(params=model_1.parameters(), lr=0.1)
torch.manual_seed(42)
epochs = 1000
...
  if epoch % 100 == 0:
    print(f"Epoch: {epoch} | Loss: {loss:.4f} | Acc: {acc:.2f} | Test loss: {test_loss:.4f} | Test acc: {test_acc:.2f}")''',
         log='''\
Epoch: 0 | Loss: 1.1024 | Acc: 0.32 | Test loss: 1.0750 | Test acc: 0.42
Epoch: 100 | Loss: 0.0348 | Acc: 0.99 | Test loss: 0.0142 | Test acc: 1.00
Epoch: 200 | Loss: 0.0222 | Acc: 0.99 | Test loss: 0.0038 | Test acc: 1.00
Epoch: 300 | Loss: 0.0191 | Acc: 0.99 | Test loss: 0.0009 | Test acc: 1.00
Epoch: 400 | Loss: 0.0183 | Acc: 0.99 | Test loss: 0.0004 | Test acc: 1.00
Epoch: 500 | Loss: 0.0161 | Acc: 0.99 | Test loss: 0.0005 | Test acc: 1.00
Epoch: 600 | Loss: 0.0160 | Acc: 0.99 | Test loss: 0.0003 | Test acc: 1.00
Epoch: 700 | Loss: 0.0155 | Acc: 0.99 | Test loss: 0.0003 | Test acc: 1.00
Epoch: 800 | Loss: 0.0152 | Acc: 0.99 | Test loss: 0.0003 | Test acc: 1.00
Epoch: 900 | Loss: 0.0150 | Acc: 0.99 | Test loss: 0.0002 | Test acc: 1.00''',
         note="A seeded run, on a GPU in the lesson. On the CPU the lesson's own loop prints "
              "what torchclf prints: Adam's float32 sums round differently on the GPU, so "
              "some later lines differ in the last printed digit."),
    dict(recipe="blobs", title="Putting it together: the blobs, BlobModel",
         code='''\
X_blob, y_blob = make_blobs(n_samples=1000, n_features=2, centers=4, cluster_std=1.5,
                            random_state=42)
model_4 = BlobModel(input_features=2, output_features=4, hidden_units=8)  # 3 linear layers
loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(params=model_4.parameters(), lr=0.1)
torch.manual_seed(42)
epochs = 100
...
  if epoch % 10 == 0:
    print(f"Epoch: {epoch} | Loss: {loss:.4f}, Acc: {acc:.2f}% | Test loss: {test_loss:.4f}, Test acc: {test_acc:.2f}%")''',
         log='''\
Epoch: 0 | Loss: 1.0432, Acc: 65.50% | Test loss: 0.5786, Test acc: 95.50%
Epoch: 10 | Loss: 0.1440, Acc: 99.12% | Test loss: 0.1304, Test acc: 99.00%
Epoch: 20 | Loss: 0.0806, Acc: 99.12% | Test loss: 0.0722, Test acc: 99.50%
Epoch: 30 | Loss: 0.0592, Acc: 99.12% | Test loss: 0.0513, Test acc: 99.50%
Epoch: 40 | Loss: 0.0489, Acc: 99.00% | Test loss: 0.0410, Test acc: 99.50%
Epoch: 50 | Loss: 0.0429, Acc: 99.00% | Test loss: 0.0349, Test acc: 99.50%
Epoch: 60 | Loss: 0.0391, Acc: 99.00% | Test loss: 0.0308, Test acc: 99.50%
Epoch: 70 | Loss: 0.0364, Acc: 99.00% | Test loss: 0.0280, Test acc: 99.50%
Epoch: 80 | Loss: 0.0345, Acc: 99.00% | Test loss: 0.0259, Test acc: 99.50%
Epoch: 90 | Loss: 0.0330, Acc: 99.12% | Test loss: 0.0242, Test acc: 99.50%''',
         note="The untrained logits the lesson prints are manual_seed(42)'s: every line "
              "is the lesson's."),
    dict(recipe="circles-tanh", title="Exercise: tanh by hand",
         code='''\
plt.plot((torch.exp(A) - torch.exp(-A)) / (torch.exp(A) + torch.exp(-A)))''',
         note="The exercise only plots it; the recipe trains 2-10-10-1 with it as the "
              "activation."),
    dict(recipe="moons-naive", title="Neuromatch: NaiveNet on the moons",
         code='''\
X, y = make_moons(256, noise=0.1)   # no seed
model = NaiveNet().to('mps')        # nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2)
loss_function = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=1e-2)
epochs = 15000
...
        if i % 1000 == 0 :
              print(f"Epoch {i} loss is {loss.item()}")''',
         note="Neither data nor weights are seeded in the lesson, so its numbers cannot be "
              "reproduced; the recipe uses seed 42 and holds out 20% to test."),
]


def torchclf_lines(name: str) -> list[str]:
    """What ``torchclf recipes run NAME`` prints while training."""
    config = recipes.load(name)
    out = io.StringIO()
    run_config(config, [LessonPrinter(out, train=config.train)])
    return out.getvalue().splitlines()


def _cell(line: str) -> str:
    return "`" + line.replace("|", "\\|") + "`"  # a table cell: escape the line's bars


def _compare(lesson: str, ours: str) -> str:
    if lesson == ours:
        return "same"
    gaps = [abs(float(a) - float(b))
            for a, b in zip(NUMBER.findall(lesson), NUMBER.findall(ours))]
    return f"differs by {max(gaps):.4f}"


def step(number: int, s: dict) -> list[str]:
    config = recipes.load(s["recipe"])
    lines = [f"## {number}. {s['title']}", "", "The lesson:", "", "```", s["code"], "```", "",
             f"torchclf: `torchclf recipes run {s['recipe']}`, or from Python "
             f"`run_config(recipes.load({s['recipe']!r}))` ({config.description})", ""]
    if "log" in s:
        ours = torchclf_lines(s["recipe"])
        lines += ["| the lesson prints | torchclf prints | |", "|---|---|---|"]
        lines += [f"| {_cell(a)} | {_cell(b)} | {_compare(a, b)} |"
                  for a, b in zip(s["log"].splitlines(), ours)]
        lines.append("")
    return lines + [s["note"], ""]


def render() -> str:
    lines = ["# The lesson, step by step, beside torchclf", "",
             "Generated by `docs/make_lesson.py` (do not edit by hand). The lesson's code and "
             "printed lines are copied from its notebooks; torchclf's lines are what the "
             "recipe prints on the CPU.", ""]
    for number, s in enumerate(STEPS, 1):
        lines += step(number, s)
    return "\n".join(lines)


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT}", file=sys.stderr)
