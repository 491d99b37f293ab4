#!/usr/bin/env bash
# The engine tests as a machine without a C compiler runs them: fit, the estimator and
# sweeps fall back to autograd and the stacked engine, and every test that needs the
# compiled kernel records a skip. Run by .ci/run after the whole suite (needs .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# PATH without compilers: every other command of PATH, linked into one folder
mkdir "$work/bin"
IFS=: read -ra dirs <<< "$PATH"
for dir in "${dirs[@]}"; do
  [ -d "$dir" ] && [ "$dir" != "$VIRTUAL_ENV/bin" ] || continue
  for tool in "$dir"/*; do
    name=$(basename "$tool")
    case "$name" in
      cc|c89|c99|c++|cpp|gcc|gcc-*|g++|g++-*|clang|clang-*|clang++|tcc|*-linux-gnu-gcc*|*-linux-gnu-g++*) continue ;;
    esac
    [ -x "$tool" ] && [ ! -e "$work/bin/$name" ] && ln -s "$tool" "$work/bin/$name"
  done
done
# the venv's own folder stays: its python finds the venv by where it is started from
export PATH="$VIRTUAL_ENV/bin:$work/bin" XDG_CACHE_HOME="$work/cache"  # no kernel built earlier either
unset CC
python - <<'EOF'
from torchclf.engine import fast
assert fast.load_kernel() is None, "a C compiler is still reachable"
EOF
python -m pytest -rs -p no:cacheprovider tests/test_engine.py tests/test_fast.py \
  tests/test_fast_batches.py tests/test_fast_predict.py tests/test_estimator_fast.py \
  tests/test_batched.py tests/test_registries.py tests/test_lesson_log.py "$@" \
  | tee "$work/log"
grep -q "no C compiler" "$work/log" || { echo "no test recorded the missing compiler" >&2; exit 1; }
