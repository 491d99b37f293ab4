#!/usr/bin/env bash
# The main job: train the lesson's moons model and write its plots to runs/moons-demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
torchclf recipes run moons --out runs/moons-demo
echo "open runs/moons-demo/boundary.png to see the decision boundary (Train | Test)"
