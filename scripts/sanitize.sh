#!/usr/bin/env bash
#===- scripts/sanitize.sh - The test suite under ASan and UBSan ----------===#
#
# Builds mha in build-asan/ with AddressSanitizer and UndefinedBehavior-
# Sanitizer (and libFuzzer's coverage instrumentation, so that
# scripts/fuzz.sh reuses the same build), then runs the whole lit +
# GoogleTest suite with it. Any sanitizer report aborts the process, so a
# test that expects a failure (`not mha-run ...`) still fails on one.
#
# Leak detection is off: the JIT's run-time errors unwind over buffers the
# compiled code owns, by design (the process reports and exits). Manual
# poisoning is off: LLVM's BumpPtrAllocator poisons its slabs when compiled
# with ASan, and Debian's uninstrumented libMLIR.so then writes into memory
# that mha's instrumented copy of the same inline code poisoned (a false
# use-after-poison).
#
# Usage: scripts/sanitize.sh            (installs what it needs via setup.sh)
#
#===----------------------------------------------------------------------===#
set -euo pipefail
cd "$(dirname "$0")/.."
# setup.sh installs what is missing, the sanitizer runtimes included.
scripts/setup.sh >/dev/null

# Without MPI: Open MPI's memory hooks and ASan's do not mix, and this build
# checks mha-run's message for a build without MPI (train-no-mpi.test).
# Without the GPU runtime: it is a shared library, which does not link the
# sanitizer runtimes (-z defs fails), and this build checks mha-run's
# message for a build without it (gpu-unavailable.test).
flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
flags+=" -fsanitize=fuzzer-no-link -fno-omit-frame-pointer"
if [ ! -f build-asan/build.ninja ]; then
  cmake -G Ninja -S . -B build-asan \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir \
    -DMHA_ENABLE_FUZZERS=ON \
    -DMHA_ENABLE_MPI=OFF -DMHA_ENABLE_CUDA=OFF \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined"
fi
# (A build directory configured before the GPU runtime existed: turn it off.)
cmake -DMHA_ENABLE_CUDA=OFF build-asan >/dev/null
cmake --build build-asan --target mha-test-depends
if [ "${1:-}" = "--build-only" ]; then
  exit 0
fi
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=0:allocator_may_return_null=1:allow_user_poisoning=0"
export UBSAN_OPTIONS="abort_on_error=1:halt_on_error=1:print_stacktrace=1"
# The kernel sweeps (flash-attention.test, the gpu-emulated-*.test files,
# gpu-compile.test, tensor-core-tiles-ptxas.test) are `UNSUPPORTED: asan`:
# here sanitized-kernels.test runs representatives of them.
cmake --build build-asan --target check-mha
echo "sanitize: the suite passed under ASan + UBSan"
