#!/usr/bin/env bash
#===- scripts/bench_compile.sh - First compilation of a training step ----===#
#
# Builds mha and runs scripts/bench_compile.py with the given arguments.
# Not part of the tests.
#
#===----------------------------------------------------------------------===#
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
exec /usr/bin/python3 scripts/bench_compile.py "$@"
