#!/usr/bin/env bash
# Make .venv with torchclf and everything its tests need; safe to run again.
# torch is pinned to the CPU wheel: any other spec pulls a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install --quiet "torch==2.13.0"
python -m pip install --quiet -e ".[test,bench,scale]"
