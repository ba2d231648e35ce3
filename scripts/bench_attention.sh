#!/usr/bin/env bash
#===- scripts/bench_attention.sh - mha attention against PyTorch ---------===#
#
# Installs what the comparison needs when missing (Debian's python3-torch and
# OpenBLAS, so that PyTorch uses a real BLAS), builds mha, and runs
# scripts/bench_attention.py with the given arguments. Not part of the tests.
#
#===----------------------------------------------------------------------===#
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
missing=()
for p in python3-torch python3-numpy libopenblas0-pthread; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench_attention: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
exec /usr/bin/python3 scripts/bench_attention.py "$@"
