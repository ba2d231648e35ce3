#!/usr/bin/env bash
#===- scripts/bench_mpi.sh - Data-parallel training speedup ---------------===#
#
# Builds mha (installing Open MPI with the rest when missing) and runs
# scripts/bench_mpi.py with the given arguments. Not part of the tests.
#
#===----------------------------------------------------------------------===#
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
exec /usr/bin/python3 scripts/bench_mpi.py "$@"
