"""Start-up: a whole ``torchclf train`` process against ``python -c "import torch"``.

The lesson's moons run is 0.02 s of training; the rest of the process is imports and
one-time set-up. This times, in alternating turns so all three see the same machine,
``import torch`` alone, ``torchclf train moons --epochs 1000 --no-plots`` and the same
command with its pictures, and prints the medians and the two ratios against the
targets (1.5x without plots, 2x with).

    python benchmarks/startup.py              # 5 rounds
    python benchmarks/startup.py --rounds 9
    python benchmarks/startup.py --importtime # also: the slowest imports of the command
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TRAIN = ["-m", "torchclf", "train", "moons", "--epochs", "1000", "--quiet"]
TARGETS = {"train --no-plots": 1.5, "train (plots)": 2.0}


def commands(out: Path) -> dict[str, list[str]]:
    return {"import torch": [sys.executable, "-c", "import torch"],
            "train --no-plots": [sys.executable, *TRAIN, "--no-plots", "--out",
                                 str(out / "np")],
            "train (plots)": [sys.executable, *TRAIN, "--out", str(out / "p")]}


def wall(cmd: list[str]) -> float:
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    return seconds


def slowest_imports(cmd: list[str], top: int) -> list[tuple[float, str]]:
    """The ``top`` imports with the largest cumulative time under ``-X importtime``."""
    proc = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], capture_output=True,
                          text=True)
    rows = []
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "cumulative" not in line:
            _, cumulative, name = line[len("import time:"):].split("|")
            rows.append((int(cumulative) / 1e6, name.rstrip()))
    top_level = [(t, n) for t, n in rows if not n.startswith("  ")]
    return sorted(top_level, reverse=True)[:top]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    p.add_argument("--importtime", action="store_true",
                   help="also list the slowest top-level imports of each train command")
    args = p.parse_args()
    env_note = os.environ.get("PYTHONPATH", "")
    with tempfile.TemporaryDirectory() as tmp:
        cmds = commands(Path(tmp))
        for cmd in cmds.values():
            wall(cmd)  # warm up: page cache, the kernel build in ~/.cache/torchclf
        times: dict[str, list[float]] = {name: [] for name in cmds}
        for _ in range(args.rounds):
            for name, cmd in cmds.items():
                times[name].append(wall(cmd))
        base = statistics.median(times["import torch"])
        print(f"python {sys.version.split()[0]}, PYTHONPATH={env_note or '(unset)'}, "
              f"median of {args.rounds} alternating rounds, {os.cpu_count()} cores")
        print()
        print("| process | seconds (median) | range | vs import torch | target |")
        print("|---|---|---|---|---|")
        for name, ts in times.items():
            med = statistics.median(ts)
            target = f"<= {TARGETS[name]}x" if name in TARGETS else ""
            verdict = ""
            if name in TARGETS:
                verdict = " ok" if med / base <= TARGETS[name] else " MISSED"
            print(f"| {name} | {med:.3f} | {min(ts):.3f}-{max(ts):.3f} | "
                  f"{med / base:.2f}x | {target}{verdict} |")
        if args.importtime:
            for name in ("train --no-plots", "train (plots)"):
                print(f"\nslowest top-level imports, {name}:")
                for seconds, module in slowest_imports(cmds[name], 12):
                    print(f"  {seconds:7.3f} s  {module.strip()}")


if __name__ == "__main__":
    main()
