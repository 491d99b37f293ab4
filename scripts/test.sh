#!/usr/bin/env bash
# The whole test suite, the playground's tests in a real headless Chromium included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
. .venv/bin/activate
python -m pytest "$@"
