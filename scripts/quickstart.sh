#!/usr/bin/env bash
#===- scripts/quickstart.sh - Build mha and run the seed example ---------===#
#
# The README's first command: sets up and builds (scripts/setup.sh), then
# trains the seed article's classifier on the built-in synthetic task with
# the configuration in its model file (about a minute on 2 cores), writing
# the parameters, a CSV log and an SVG plot under build/quickstart/, and
# runs the trained model forward.
#
#===----------------------------------------------------------------------===#
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
out=build/quickstart
mkdir -p "$out"
echo "== mha-run examples/seed_classifier.mlir --train"
build/bin/mha-run examples/seed_classifier.mlir --train \
  --save "$out/seed_classifier.safetensors" --log "$out/training.csv" \
  --plot "$out/training.svg"
echo "== mha-run examples/seed_classifier.mlir --params $out/seed_classifier.safetensors"
build/bin/mha-run examples/seed_classifier.mlir \
  --params "$out/seed_classifier.safetensors"
echo "== wrote $out/seed_classifier.safetensors, $out/training.csv, $out/training.svg"
