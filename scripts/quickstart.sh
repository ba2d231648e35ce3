#!/usr/bin/env bash
#===- scripts/quickstart.sh - Build mha and run the seed example ---------===#
#
# The README's first command: sets up and builds (scripts/setup.sh), then
# verifies the seed article's classifier, fuses its attention, and JIT-runs
# it forward on random inputs.
#
#===----------------------------------------------------------------------===#
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "== mha-opt examples/seed_classifier.mlir -mha-fuse-attention"
build/bin/mha-opt examples/seed_classifier.mlir -mha-fuse-attention
echo "== mha-run examples/seed_classifier.mlir"
build/bin/mha-run examples/seed_classifier.mlir
