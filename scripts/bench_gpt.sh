#!/usr/bin/env bash
#===- scripts/bench_gpt.sh - the GPT example against PyTorch ------------===#
#
# Installs what the comparison needs when missing (scripts/bench_setup.sh),
# builds mha, and runs scripts/bench_gpt.py with the given arguments.
# Not part of the tests.
#
#===----------------------------------------------------------------------===#
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench_setup.sh
exec /usr/bin/python3 scripts/bench_gpt.py "$@"
