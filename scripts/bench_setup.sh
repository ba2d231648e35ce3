#!/usr/bin/env bash
#===- scripts/bench_setup.sh - What the side-by-side benchmarks need -----===#
#
# Sourced by the bench_*.sh scripts: builds mha (scripts/setup.sh) and
# installs Debian's python3-torch with OpenBLAS when missing, so that
# PyTorch uses a real BLAS.
#
#===----------------------------------------------------------------------===#
scripts/setup.sh
cmake --build build --target mha-benchmarks
missing=()
for p in python3-torch python3-numpy libopenblas0-pthread; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
