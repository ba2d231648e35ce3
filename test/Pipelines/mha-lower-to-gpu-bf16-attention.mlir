// mha-lower-to-gpu{bf16-attention}: mixed precision on the GPU. Training's
// f32 attention pair (depth 64) is computed on bf16 roundings of its
// operands, so with tensor-cores the forward and the backward become the
// tensor-core kernel ops on bf16 buffers (their three kernels: 64 + 96 +
// 128 bf16 mma.sync a tile step in the PTX at depth 64 with tiles of 64);
// the log-sum-exp stays f32. Without bf16-attention the f32 ops
// keep the per-row form (no mma.sync).
// RUN: mha-opt %s --mha-lower-to-gpu="format=isa tensor-cores=1 bf16-attention" --mlir-print-ir-after=mha-gpu-attention-kernel-ops -o /dev/null 2>&1 | FileCheck %s --check-prefix=OPS
// RUN: mha-opt %s --mha-lower-to-gpu="format=isa tensor-cores=1 bf16-attention" | FileCheck %s --check-prefix=PTX
// RUN: mha-opt %s --mha-lower-to-gpu="format=isa tensor-cores=1" | FileCheck %s --check-prefix=F32

// OPS: arith.truncf %{{.*}} : f32 to bf16
// OPS: mha.gpu_attention %{{.*}} lse(%{{.*}} : memref<?x8x?xf32>) {{.*}} : memref<?x8x?x64xbf16>
// OPS: mha.gpu_attention_grad %{{.*}} : memref<?x8x?x64xbf16>, memref<?x8x?x64xbf16>, memref<?x8x?x64xbf16>, memref<?x8x?x64xbf16>, memref<?x8x?xf32>
// OPS: arith.extf %{{.*}} : bf16 to f32
// PTX-COUNT-288: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// PTX-NOT: mma.sync
// F32-NOT: mma.sync
func.func @f(%q: tensor<?x8x?x64xf32>, %k: tensor<?x8x?x64xf32>, %v: tensor<?x8x?x64xf32>,
             %do: tensor<?x8x?x64xf32>)
    -> (tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>) {
  %o, %l = mha.attention_with_lse %q, %k, %v causal : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>
  %g:3 = mha.attention_grad %q, %k, %v, %o, %l, %do causal
      : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?xf32>
  return %o, %g#0, %g#1, %g#2 : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>
}
