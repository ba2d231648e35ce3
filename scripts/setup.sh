#!/usr/bin/env bash
#===- scripts/setup.sh - Install what is missing and build mha -----------===#
#
# Idempotent: installs the Debian packages mha needs only when one is missing
# (needs root then), configures build/ once, and builds incrementally.
#
#===----------------------------------------------------------------------===#
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake ninja-build ccache clang-22 lld-22 llvm-22-dev llvm-22-tools
          libmlir-22-dev mlir-22-tools libomp-22-dev libgtest-dev libbenchmark-dev python3
          libclang-rt-22-dev  # sanitizer and libFuzzer runtimes (scripts/sanitize.sh, fuzz.sh)
          libopenmpi-dev openmpi-bin)  # data-parallel training (mpirun)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: error: packages are missing and installing them needs root" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f build/build.ninja ]; then
  cmake -G Ninja -S . -B build \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir
fi
cmake --build build
