#!/bin/bash
# The checks that need an NVIDIA GPU, in one short run on the device
# machine (the development machines have none). Prepare here, then run there
# from the repository root with .gpu-bundle carried:
#
#   bash scripts/gpu/bundle.sh            # here: mha-run + libraries
#   bash scripts/gpu/device-check.sh      # there
#
# It prints the GPU, the numerics of mha-run --device gpu against the CPU
# (attention cases of the flash test, the example models, training the seed
# classifier on both) and the attention benchmark against PyTorch's SDPA;
# logs go to $OUT (or /tmp/mha-gpu) too. MHA_CHECKS picks some of
# "attention tensor-cores models bench matmul" (default: attention models
# bench; "attention" includes the tensor-core kernel's cases; "matmul": the
# tensor-core matmul kernel against exact products, and against
# torch.matmul).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${OUT:-/tmp/mha-gpu}
mkdir -p "$out" /tmp/mha-libs
tar -xJf .gpu-bundle/libs.tar.xz -C /tmp/mha-libs
export LD_LIBRARY_PATH=/tmp/mha-libs/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
export PATH=$CUDA_HOME/bin:$PATH MHA_CACHE_DIR=off PYTHONUNBUFFERED=1
run=$root/.gpu-bundle/bin/mha-run
work=$(mktemp -d)

nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader
command -v ptxas || echo "no ptxas on PATH"
"$run" --version | head -1

checks=" ${MHA_CHECKS:-attention models bench} "
if [[ $checks == *" attention "* ]]; then
  echo "== attention: --device gpu against the CPU's decomposition"
  timeout 150 python3 test/Integration/CPU/Inputs/flash_attention.py "$run" "$work/attn" gpu 2>&1 | tee "$out/attention.log"
fi
if [[ $checks == *" tensor-cores "* || $checks == *" attention "* ]]; then
  echo "== tensor-core attention kernels (--gpu-tensor-cores, forward and backward) against the CPU's decomposition"
  timeout 240 python3 test/Integration/CPU/Inputs/flash_attention.py "$run" "$work/tc" gpu-tensor-cores 2>&1 | tee "$out/tensor-cores.log"
  echo "== f32 attention on the tensor-core forward in TF32 (--gpu-f32-matmuls tf32) against the CPU's decomposition"
  timeout 120 python3 test/Integration/CPU/Inputs/flash_attention.py "$run" "$work/tf32" gpu-tf32 2>&1 | tee "$out/tf32-attention.log"
fi
if [[ $checks == *" models "* ]]; then
  echo "== example models and training: GPU against CPU"
  timeout 180 python3 scripts/gpu/compare_models.py "$run" "$work/models" 2>&1 | tee "$out/models.log"
fi
if [[ $checks == *" bench "* ]]; then
  echo "== attention against PyTorch SDPA (MHA_BENCH_ARGS adds --backward, --dtypes, ...)"
  timeout ${MHA_BENCH_TIMEOUT:-100} python3 scripts/gpu/bench_attention.py "$run" "$work/bench" \
    --lengths ${MHA_BENCH_LENGTHS:-512 2048} ${MHA_BENCH_ARGS:-} 2>&1 | tee "$out/bench.log"
fi
if [[ $checks == *" matmul "* ]]; then
  echo "== matmul kernels (tensor cores; f32 on CUDA cores; TF32) against exact products"
  timeout 120 python3 test/Integration/CPU/Inputs/gpu_matmuls.py "$run" - "$work/mm" gpu 2>&1 | tee "$out/matmul.log"
  echo "== dense layers' products (forward, weight and input gradients) against torch.matmul"
  timeout ${MHA_BENCH_TIMEOUT:-150} python3 scripts/gpu/bench_matmul.py "$run" "$work/bench-mm" 2>&1 | tee "$out/bench-matmul.log"
  echo "== the same in f32: the tiled CUDA-core kernel against torch.matmul without TF32"
  timeout ${MHA_BENCH_TIMEOUT:-150} python3 scripts/gpu/bench_matmul.py "$run" "$work/bench-mm32" --dtypes f32 --sizes 1024 4096 2>&1 | tee "$out/bench-matmul-f32.log"
  echo "== and on tensor cores in TF32 (--gpu-f32-matmuls tf32) against torch.matmul with TF32"
  timeout ${MHA_BENCH_TIMEOUT:-150} python3 scripts/gpu/bench_matmul.py "$run" "$work/bench-mm-tf32" --dtypes tf32 --sizes 1024 4096 2>&1 | tee "$out/bench-matmul-tf32.log"
fi
