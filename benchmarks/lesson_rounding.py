"""What a CPU's rounding can do to the lesson's printed logs.

Another CPU runs other kernels (torch picks them by instruction set, MKL by vendor), so
its float32 sums round differently: a relative difference of about one float32 rounding
(6e-8) in some numbers of the first step. This starts the lesson's own loop (the same
code docs/lesson.md shows) from weights of which a random half are moved by one float32
rounding, ``--runs`` times, and prints per logged epoch the largest gap to the lesson's
printed log, the epochs whose line never changed, the runs whose numbers moved by more
than 0.01, and the lowest final test accuracy. docs/lesson.toml's ``on_any_cpu`` claims
(and so docs/lesson.md and tests/test_lesson_log.py) are set from what this prints.

    python benchmarks/lesson_rounding.py                    # spirals (Adam), 200 runs
    python benchmarks/lesson_rounding.py --recipe blobs     # the SGD log
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import torch


def _make_lesson():
    script = Path(__file__).resolve().parents[1] / "docs" / "make_lesson.py"
    spec = importlib.util.spec_from_file_location("make_lesson", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="spirals")
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(1)  # the runs are tiny; one thread is the fastest and quietest
    lesson = _make_lesson()
    printed = lesson.lesson_log(args.recipe)
    here = lesson.lessons_own_loop(args.recipe)
    worst = [0.0] * len(printed)
    unchanged = [True] * len(printed)
    moved, lowest = 0, float("inf")
    for run in range(1, args.runs + 1):
        lines = lesson.lessons_own_loop(args.recipe, nudge=run)
        gaps = [lesson.max_gap(a, b) for a, b in zip(lines, printed)]
        worst = [max(w, g) for w, g in zip(worst, gaps)]
        unchanged = [u and a == b for u, a, b in zip(unchanged, lines, here)]
        moved += max(lesson.max_gap(a, b) for a, b in zip(lines, here)) > 0.01
        lowest = min(lowest, float(lines[-1].rsplit(" ", 1)[1].rstrip("%")))
    print(f"{args.recipe}: {args.runs} runs, each started one float32 rounding away "
          f"(torch {torch.__version__}, {torch.backends.cpu.get_cpu_capability()})")
    print("| epoch | largest gap to the lesson's log | line unchanged in every run |")
    print("|---|---|---|")
    for line, gap, same in zip(printed, worst, unchanged):
        print(f"| {lesson.epoch_of(line)} | {gap:.4f} | {'yes' if same else 'no'} |")
    print(f"runs whose numbers moved by more than 0.01 somewhere: {moved} of {args.runs}")
    print(f"lowest final test accuracy: {lowest}")


if __name__ == "__main__":
    main()
