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
python -m pip install --quiet -e ".[test,bench,scale,web,export,notebook]"
if [ "${1:-}" = "--browser" ] && ! command -v chromium >/dev/null 2>&1; then
  # The playground's browser tests drive Debian's Chromium (Playwright cannot download one here).
  if [ "$(id -u)" = "0" ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "setup: could not install chromium; the browser tests will be skipped" >&2
  else
    echo "setup: chromium is missing and this is not root; the browser tests will be skipped" >&2
  fi
fi
