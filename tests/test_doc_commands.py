"""Every shell command of the README and the tutorial runs as written.

Convention (README.md and docs/tutorial.md): a block fenced ```bash holds shell
commands, one per line (a trailing backslash continues it), each pasteable as it
stands, with any description after it as a ``# comment``; a block of other text (a
folder tree, the code layout) is fenced ```text, and Python is ```python. A bare ```
fence is refused, so no block is left for the reader to guess.

The commands of one document run in order, each with ``bash -c``, in one empty
temporary folder, so what a command needs must be made by a command before it (the
README and the tutorial write their own data.csv, points.csv and flowers.csv).
``torchclf`` and ``python`` are this checkout's code under the test's interpreter.
Each must exit 0, except the few listed in SKIPPED, each with its reason.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "docs" / "tutorial.md"]

# Commands not run, by how they start, and why.
SKIPPED = {
    "bash scripts/demo.sh": "creates .venv and installs PyTorch from the network",
    "bash scripts/test.sh": "the whole test suite, which this test is part of",
    "torchclf playground": "a server that runs until stopped (tests/test_web_e2e.py drives it)",
    "torchclf tune": "50 Optuna trials take minutes (tests/test_tune.py runs small studies)",
}


def fenced(doc):
    return re.findall(r"^```(\w*)\n(.*?)^```$", doc.read_text(), re.S | re.M)


def commands(doc):
    for lang, body in fenced(doc):
        if lang != "bash":
            continue
        for line in body.replace("\\\n", " ").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                yield line.strip()


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_every_block_says_what_it_is(doc):
    bare = [body.splitlines()[0] if body else "" for lang, body in fenced(doc) if not lang]
    assert not bare, f"fence these blocks as ```bash, ```python or ```text: {bare}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_shell_commands_run_as_written(doc, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, args in (("python", ""), ("torchclf", " -m torchclf")):
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}"{args} "$@"\n')
        shim.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "MPLBACKEND": "Agg", "HOME": str(tmp_path),
           "PYTHONPATH": str(ROOT / "src"), "XDG_CACHE_HOME": os.environ.get(
               "XDG_CACHE_HOME", str(Path.home() / ".cache"))}  # the built kernels
    ran = 0
    for command in commands(doc):
        if any(command.startswith(prefix) for prefix in SKIPPED):
            continue
        proc = subprocess.run(["bash", "-c", command], cwd=work, env=env, text=True,
                              capture_output=True, timeout=300)
        assert proc.returncode == 0, f"{command}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        ran += 1
    assert ran >= 5


def test_readme_cross_val_score_prints_what_it_says(tmp_path):
    """The scikit-learn example prints "about 0.97" and no ConvergenceWarning."""
    blocks = [body for lang, body in fenced(DOCS[0]) if lang == "python"
              and "cross_val_score" in body]
    assert len(blocks) == 1 and "# about 0.97" in blocks[0]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run([sys.executable, "-c", blocks[0]], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr, proc.stderr
    assert abs(float(proc.stdout.split()[-1]) - 0.97) < 0.015
