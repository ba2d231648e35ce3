// mha-lower-to-gpu{tensor-cores}: a bf16 attention (depth 128, dynamic batch
// and lengths, causal) becomes mha.gpu_attention on its buffers before
// bufferization, then, on device buffers, one kernel: the PTX holds the
// tensor cores' bf16 mma.sync (128 a tile of 64 keys at depth 128: 8 x 8
// for the scores, 16 x 4 for P.V), the block's barriers, the shuffles
// across a row's four threads, the key and value tiles copied by cp.async,
// the two tiles in shared memory aligned to 16 bytes (mha-gpu-align-shared-
// memory) and read only by ldmatrix (one a B fragment: 64 of the key tile,
// 64 transposed of the value tile), no local (stack) memory; sm_80 and
// sm_90a cubins by ptxas. Without the option the same model has no mma.sync; emulated, no
// kernel and no GPU op at all.
// RUN: mha-opt %s --mha-lower-to-gpu="format=isa tensor-cores=1" --mlir-print-ir-after=mha-gpu-attention-kernel-ops -o /dev/null 2>&1 | FileCheck %s --check-prefix=OPS
// RUN: mha-opt %s --mha-lower-to-gpu="format=isa tensor-cores=1" -o %t.ptx
// RUN: FileCheck %s --check-prefix=PTX < %t.ptx
// RUN: FileCheck %s --check-prefix=MMA < %t.ptx
// RUN: FileCheck %s --check-prefix=LDM < %t.ptx
// RUN: grep -o "ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16" %t.ptx | count 64
// RUN: not grep -q "ld\.shared" %t.ptx
// RUN: mha-opt %s --mha-lower-to-gpu="format=isa" | FileCheck %s --check-prefix=NOTC
// RUN: mha-opt %s --mha-lower-to-gpu="emulate tensor-cores=1" | FileCheck %s --check-prefix=EMU
// RUN: %if ptxas %{ mha-opt %s --mha-lower-to-gpu="format=bin chip=sm_80 tensor-cores=1" | FileCheck %s --check-prefix=CUBIN80 %}
// RUN: %if ptxas %{ mha-opt %s --mha-lower-to-gpu="format=bin chip=sm_90a tensor-cores=1" | FileCheck %s --check-prefix=CUBIN90 %}
// RUN: not mha-opt %s --mha-lower-to-gpu="format=isa tensor-cores=1 attention-block-k=128" 2>&1 | FileCheck %s --check-prefix=TOOBIG

// OPS: mha.gpu_attention %{{.*}} {block_k = 64 : i64, block_q = 64 : i64, causal, scale = 0.0883883461 : f32} : memref<?x8x?x128xbf16>
// (LLVM lays the tile loop's blocks out in its own order: the
// instructions are checked as present, in any order, then counted.)
// PTX: gpu.binary @
// PTX-DAG: cp.async.cg.shared.global [%rd{{[0-9]+}}], [%rd{{[0-9]+}}], 16, %r{{[0-9]+}};
// PTX-DAG: cp.async.commit_group
// PTX-DAG: cp.async.wait_group
// PTX-DAG: bar.sync
// PTX-DAG: shfl.sync.bfly.b32
// PTX-DAG: ex2.approx
// PTX-NOT: .local
// MMA: gpu.binary @
// MMA-COUNT-128: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// MMA-NOT: mma.sync
// LDM: gpu.binary @
// LDM-SAME: .shared .align 16 .b8 __wg_f_kernel_0[17408]
// LDM-SAME: .shared .align 16 .b8 __wg_f_kernel_1[17408]
// LDM-COUNT-128: {{ldmatrix.sync.aligned.m8n8.x2(.trans)?.shared.b16}}
// LDM-NOT: ldmatrix
// NOTC-NOT: mma.sync
// EMU-NOT: gpu.
// EMU: llvm.func @__mha_emulated_mma_bf16_128
// EMU-NOT: gpu.
// CUBIN80: gpu.binary @{{.*}} [#gpu.object<#nvvm.target<chip = "sm_80"{{.*}}bin = "\7FELF
// CUBIN90: gpu.binary @{{.*}} [#gpu.object<#nvvm.target<chip = "sm_90a"{{.*}}bin = "\7FELF
// TOOBIG: error: 'mha.gpu_attention' op tiles of 64 queries x 128 keys at depth 128 need 69632 bytes of shared memory for the key and value tiles, more than a block's 49152; use a smaller block-k
func.func @f(%q: tensor<?x8x?x128xbf16>, %k: tensor<?x8x?x128xbf16>, %v: tensor<?x8x?x128xbf16>) -> tensor<?x8x?x128xbf16> {
  %o = mha.attention %q, %k, %v causal : tensor<?x8x?x128xbf16>, tensor<?x8x?x128xbf16>, tensor<?x8x?x128xbf16>
  return %o : tensor<?x8x?x128xbf16>
}
