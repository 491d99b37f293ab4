"""Writes docs/lesson.md: each step of the lesson, the lesson's code, the torchclf call,
and the lines both print, side by side.

    PYTHONPATH=src python docs/make_lesson.py

The lesson's code and printed lines are in docs/lesson.toml, copied from its notebooks (the
seeds of issue 13); torchclf's lines are computed when this runs. tests/test_lesson_log.py checks that the
committed docs/lesson.md is what this script writes.
"""

from __future__ import annotations

import io
import re
import sys
try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib
from pathlib import Path

import torch
from torch import nn

from torchclf import recipes
from torchclf.cli.console import LessonPrinter
from torchclf.experiment import run_config, split_data

OUT = Path(__file__).resolve().parent / "lesson.md"
NUMBER = re.compile(r"\d+\.\d+")

STEPS_FILE = OUT.with_suffix(".toml")


def steps() -> list[dict]:
    """The lesson's steps (docs/lesson.toml): recipe, title, code, log if any, note."""
    with open(STEPS_FILE, "rb") as f:
        return tomllib.load(f)["step"]


def lesson_log(recipe: str) -> list[str]:
    """The lines the lesson printed for this recipe's step."""
    return next(s for s in steps() if s["recipe"] == recipe)["log"].splitlines()


def torchclf_lines(name: str) -> list[str]:
    """What ``torchclf recipes run NAME`` prints while training."""
    config = recipes.load(name)
    out = io.StringIO()
    run_config(config, [LessonPrinter(out, train=config.train)])
    return out.getvalue().splitlines()


def lessons_own_loop(name: str, nudge: int | None = None) -> list[str]:
    """The lesson's loop as its notebooks write it (docs/lesson.toml), run on this CPU:
    seed, build, then every epoch a train step and a test evaluation, printed every
    ``log_every`` epochs in the lesson's format.

    ``nudge`` (a seed) first moves a random half of the starting weights by one float32
    rounding (to the next float up or down): the size of difference another CPU's
    kernels make, used by benchmarks/lesson_rounding.py to measure what rounding can do.
    """
    config = recipes.load(name)
    train, test = split_data(config)
    X, Xt = (torch.as_tensor(d.X, dtype=torch.float32) for d in (train, test))
    y, yt = (torch.as_tensor(d.y, dtype=torch.long) for d in (train, test))
    sizes = [train.n_features, *config.model.hidden, train.n_classes]
    torch.manual_seed(42)
    layers = [nn.Linear(a, b) for a, b in zip(sizes, sizes[1:])]
    if nudge is not None:
        _nudge([p for layer in layers for p in layer.parameters()], nudge)
    between = {"relu": [nn.ReLU()], "identity": []}[config.model.activation]  # blobs: none
    model = nn.Sequential(layers[0], *[m for layer in layers[1:] for m in (*between, layer)])
    optimizer = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}[config.train.optimizer](
        model.parameters(), lr=config.train.lr)
    loss_fn = nn.CrossEntropyLoss()
    percent = config.train.log_format == "percent"  # blobs: accuracy_fn, in percent

    def accuracy(logits, labels):  # torchmetrics' Accuracy, or the blobs' accuracy_fn
        correct = logits.argmax(dim=1) == labels
        return correct.sum().item() / len(labels) * 100 if percent else correct.float().mean()

    lines = []
    for at in range(config.train.epochs):
        model.train()
        logits = model(X)
        loss = loss_fn(logits, y)
        acc = accuracy(logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        model.eval()
        with torch.inference_mode():
            test_logits = model(Xt)
            test_loss = loss_fn(test_logits, yt)
            test_acc = accuracy(test_logits, yt)
        if at % config.train.log_every == 0:
            if percent:
                lines.append(f"Epoch: {at} | Loss: {loss:.4f}, Acc: {acc:.2f}% | "
                             f"Test loss: {test_loss:.4f}, Test acc: {test_acc:.2f}%")
            else:
                lines.append(f"Epoch: {at} | Loss: {loss:.4f} | Acc: {acc:.2f} | "
                             f"Test loss: {test_loss:.4f} | Test acc: {test_acc:.2f}")
    return lines


def _nudge(params: list[torch.Tensor], seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in params:
            away = torch.where(torch.rand(p.shape, generator=g) < 0.5, -1.0, 1.0)
            moved = torch.nextafter(p, p + away)
            p.copy_(torch.where(torch.rand(p.shape, generator=g) < 0.5, moved, p))


def _cell(line: str) -> str:
    return "`" + line.replace("|", "\\|") + "`"  # a table cell: escape the line's bars


def _compare(lesson: str, ours: str) -> str:
    if lesson == ours:
        return "same"
    return f"differs by {max_gap(lesson, ours):.4f}"


def max_gap(a: str, b: str) -> float:
    """The largest difference between two log lines' printed numbers."""
    return max(abs(float(x) - float(y)) for x, y in zip(NUMBER.findall(a), NUMBER.findall(b)))


def epoch_of(line: str) -> int:
    return int(re.match(r"Epoch:? (\d+)", line).group(1))


def on_any_cpu(recipe: str) -> dict | None:
    """What holds on every CPU for a step whose numbers depend on the CPU (Adam's
    rounding): ``same`` epochs, numbers ``within`` a tolerance at ``within_epochs``, and
    ``why``. None where every line is the same on every CPU (the lesson's SGD logs)."""
    return next(s for s in steps() if s["recipe"] == recipe).get("on_any_cpu")


def _claim(line: str, cpu: dict) -> str:
    at = epoch_of(line)
    if at in cpu["same"]:
        return "the same line"
    if at in cpu["within_epochs"]:
        return f"each number within {cpu['within']}"
    return "the same words; its numbers depend on the CPU"


def _cpu_table(s: dict) -> list[str]:
    """The lesson's lines beside what torchclf prints on any CPU: claims, not one CPU's
    digits, so the page is the same whichever machine writes it."""
    cpu = s["on_any_cpu"]
    lines = ["| the lesson prints | torchclf prints, on any CPU |", "|---|---|"]
    lines += [f"| {_cell(a)} | {_claim(a, cpu)} |" for a in s["log"].splitlines()]
    return lines + ["", cpu["why"].strip(), ""]


def step(number: int, s: dict) -> list[str]:
    config = recipes.load(s["recipe"])
    lines = [f"## {number}. {s['title']}", "", "The lesson:", "", "```", s["code"].rstrip("\n"),
             "```", "",
             f"torchclf: `torchclf recipes run {s['recipe']}`, or from Python "
             f"`run_config(recipes.load({s['recipe']!r}))` ({config.description})", ""]
    if "on_any_cpu" in s:
        lines += _cpu_table(s)
    elif "log" in s:
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
             "recipe prints on any CPU (the SGD logs digit for digit; where Adam's rounding "
             "makes the digits depend on the CPU, the page says what holds on every CPU "
             "instead of one CPU's digits).", ""]
    for number, s in enumerate(steps(), 1):
        lines += step(number, s)
    return "\n".join(lines)


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT}", file=sys.stderr)
