// mha-lower-to-gpu{tensor-cores} on training's attention (bf16, depth 128,
// dynamic batch and lengths, causal): the forward with its log-sum-exp
// becomes mha.gpu_attention, the backward mha.gpu_attention_grad with the
// backward's tiles derived from the depth (blocks of 64 rows; 64 keys a
// tile for dQ, 16 queries a tile for dK/dV), then three kernels, every
// product on the tensor cores: 128 mma.sync a tile in the forward, 192 in
// the dQ kernel (8 x 8 for S, as many for dP, 16 x 4 for dS.K), 64 in the
// dK/dV kernel (2 x 8 for S, as many for dP, 16 x 1 for dS.Q and for P.dO):
// 384 in all, their B fragments by ldmatrix; tiles copied to shared memory
// by cp.async, barriers, no local (stack) memory; sm_80 and sm_90a cubins by ptxas. Emulated: no GPU op.
// RUN: mha-opt %s --mha-lower-to-gpu="format=isa tensor-cores=1" --mlir-print-ir-after=mha-gpu-attention-kernel-ops -o /dev/null 2>&1 | FileCheck %s --check-prefix=OPS
// RUN: mha-opt %s --mha-lower-to-gpu="format=isa tensor-cores=1" -o %t.ptx
// RUN: FileCheck %s --check-prefix=PTX < %t.ptx
// RUN: FileCheck %s --check-prefix=LDM < %t.ptx
// RUN: FileCheck %s --check-prefix=BAR < %t.ptx
// RUN: not grep -q "ld\.shared" %t.ptx
// RUN: mha-opt %s --mha-lower-to-gpu="emulate tensor-cores=1" | FileCheck %s --check-prefix=EMU
// RUN: %if ptxas %{ mha-opt %s --mha-lower-to-gpu="format=bin chip=sm_80 tensor-cores=1" | FileCheck %s --check-prefix=CUBIN80 %}
// RUN: %if ptxas %{ mha-opt %s --mha-lower-to-gpu="format=bin chip=sm_90a tensor-cores=1" | FileCheck %s --check-prefix=CUBIN90 %}

// OPS: mha.gpu_attention %{{.*}} lse(%{{.*}} : memref<?x8x?xf32>) {block_k = 64 : i64, block_q = 64 : i64, causal, scale = 0.0883883461 : f32} : memref<?x8x?x128xbf16>
// OPS: mha.gpu_attention_grad %{{.*}} {block_rows = 64 : i64, causal, key_tile = 64 : i64, query_tile = 16 : i64, scale = 0.0883883461 : f32} : memref<?x8x?x128xbf16>
// OPS-NOT: mha.attention
// PTX: gpu.binary @
// PTX-COUNT-384: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// PTX-NOT: mma.sync
// PTX-NOT: .local
// Every B fragment by ldmatrix (one per mma.sync), no other read of shared
// memory: the forward 64 + 64 transposed, dQ 128 + 64 transposed, dK/dV
// 32 + 32 transposed. The tiles copied by cp.async, barriers.
// LDM: gpu.binary @
// LDM-COUNT-384: {{ldmatrix.sync.aligned.m8n8.x2(.trans)?.shared.b16}}
// LDM-NOT: ldmatrix
// BAR: gpu.binary @
// BAR-DAG: cp.async.cg.shared.global
// BAR-DAG: cp.async.wait_group
// BAR-DAG: bar.sync
// EMU-NOT: gpu.
// EMU: llvm.func @__mha_emulated_mma_bf16_128
// EMU-NOT: gpu.
// CUBIN80: gpu.binary @{{.*}} [#gpu.object<#nvvm.target<chip = "sm_80"{{.*}}bin = "\7FELF
// CUBIN90: gpu.binary @{{.*}} [#gpu.object<#nvvm.target<chip = "sm_90a"{{.*}}bin = "\7FELF
func.func @f(%q: tensor<?x8x?x128xbf16>, %k: tensor<?x8x?x128xbf16>, %v: tensor<?x8x?x128xbf16>,
             %do: tensor<?x8x?x128xbf16>)
    -> (tensor<?x8x?x128xbf16>, tensor<?x8x?x128xbf16>, tensor<?x8x?x128xbf16>) {
  %o, %l = mha.attention_with_lse %q, %k, %v causal : tensor<?x8x?x128xbf16>, tensor<?x8x?x128xbf16>, tensor<?x8x?x128xbf16>
  %g:3 = mha.attention_grad %q, %k, %v, %o, %l, %do causal
      : tensor<?x8x?x128xbf16>, tensor<?x8x?x128xbf16>, tensor<?x8x?x128xbf16>, tensor<?x8x?x128xbf16>, tensor<?x8x?xf32>
  return %g#0, %g#1, %g#2 : tensor<?x8x?x128xbf16>, tensor<?x8x?x128xbf16>, tensor<?x8x?x128xbf16>
}
