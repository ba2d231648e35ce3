#!/usr/bin/env bash
#===- scripts/test.sh - Build mha and run the whole test suite -----------===#
#
# The README's second command, and what CI runs: sets up and builds
# (scripts/setup.sh), then runs check-mha (lit + FileCheck + GoogleTest).
#
#===----------------------------------------------------------------------===#
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --build build --target check-mha
